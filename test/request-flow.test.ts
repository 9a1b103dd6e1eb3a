/**
 * RequestFlow's two ways of seeing a request's chunks (src/server/grpc/flow.ts):
 * handed over by the call (grpc-js's base call hooked, what the server does
 * with the grpc-js it ships), or, where that hook cannot be placed, a `data`
 * listener of its own on the stream. The server's tests (limits.test.ts)
 * cover the first end to end; this holds the second to the same counting,
 * on real HTTP/2 streams.
 */
import { once } from "node:events";
import { connect, createServer, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Code, type IrisError } from "../src/errors.js";
import type { GrpcConnections } from "../src/server/grpc/connections.js";
import { RequestDeadlines, RequestFlow, type FlowCall } from "../src/server/grpc/flow.js";
import { InflightBytes } from "../src/server/limits.js";
import { grpcFrame } from "./support/raw-grpc.js";

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** One real HTTP/2 stream on the server side, its client sending `body` once the test has set the stream up. */
async function serverStream(body: Buffer): Promise<{ stream: ServerHttp2Stream; send: () => void }> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  closers.push(() => {
    client.destroy();
    server.close();
  });
  const request = client.request({ ":method": "POST", ":path": "/x" });
  request.on("error", () => undefined);
  const [stream] = (await once(server, "stream")) as [ServerHttp2Stream];
  return { stream, send: () => request.end(body) };
}

function flowOn(stream: ServerHttp2Stream, limit: number, handsChunks: boolean) {
  const inflight = new InflightBytes(limit);
  const refused: IrisError[] = [];
  const call: FlowCall = {
    refuse: (error) => {
      refused.push(error);
      flow.end();
    },
    below: { sendMessage: (_message, callback) => callback() },
  };
  const options = { inflight, connections: {} as GrpcConnections, maxReceiveBytes: 1 << 20, requestTimeoutMs: 60_000 };
  const flow = new RequestFlow(stream, undefined, options, new RequestDeadlines(60_000), false, call, handsChunks);
  return { flow, inflight, refused };
}

describe("RequestFlow", () => {
  it("listening to the stream itself, counts every request byte as it arrives and gives them back at the end", async () => {
    const body = grpcFrame(Buffer.alloc(1000, 7));
    const { stream, send } = await serverStream(body);
    const { flow, inflight, refused } = flowOn(stream, 1 << 20, false);
    // The reader after it, as grpc-js's own listener is.
    stream.on("data", () => undefined);
    send();
    await once(stream, "end");
    expect(inflight.used).toBe(body.length);
    expect(refused).toEqual([]);
    flow.end();
    expect(inflight.used).toBe(0);
  });

  it("listening to the stream itself, refuses the call at the chunk that does not fit", async () => {
    const body = grpcFrame(Buffer.alloc(5000, 7));
    const { stream, send } = await serverStream(body);
    const { inflight, refused } = flowOn(stream, 1000, false);
    const chunks: number[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk.length));
    send();
    await once(stream, "end");
    expect(refused.map((e) => e.code)).toEqual([Code.RESOURCE_EXHAUSTED]);
    expect(inflight.used).toBe(0);
    expect(chunks.reduce((a, b) => a + b, 0)).toBe(body.length);
  });

  it("handed its chunks by the call, adds no listener and counts only what it is handed", async () => {
    const body = grpcFrame(Buffer.alloc(1000, 7));
    const { stream, send } = await serverStream(body);
    const listeners = stream.listenerCount("data");
    const { flow, inflight, refused } = flowOn(stream, 1500, true);
    expect(stream.listenerCount("data")).toBe(listeners);
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    send();
    await once(stream, "end");
    expect(inflight.used).toBe(0);
    // Handed over: counted, and the one that does not fit refuses the call and must not be decoded.
    const all = Buffer.concat(chunks);
    expect(flow.dataArrived(all.subarray(0, 800))).toBe(true);
    expect(inflight.used).toBe(800);
    expect(flow.dataArrived(all.subarray(800))).toBe(true);
    expect(inflight.used).toBe(all.length);
    expect(flow.dataArrived(Buffer.alloc(600))).toBe(false);
    expect(refused.map((e) => e.code)).toEqual([Code.RESOURCE_EXHAUSTED]);
    expect(inflight.used).toBe(0);
  });
});
