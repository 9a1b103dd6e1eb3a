/**
 * The gRPC port's bounds, against real servers on 127.0.0.1:0: silent and
 * idle connections are closed, a protocol-breaking client's socket is
 * closed (no CLOSE-WAIT), connections over the limit are refused, HTTP/2
 * advertises the stream limit, request bytes in progress are bounded
 * (partial, compressed and slow requests), and a client that does not read
 * its answers gets its own calls refused or its connection closed while
 * everyone else is served.
 */
import { once } from "node:events";
import { connect as http2Connect, type ClientHttp2Session } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { Code } from "../src/errors.js";
import { BatchPredictRequest, PredictRequest } from "../src/gen/iris.js";
import { decodeRpcStatus, STATUS_DETAILS_KEY } from "../src/rpc/status-details.js";
import { SHED_RETRY_AFTER_MS } from "../src/server/limits.js";
import { SETOSA } from "./support/flowers.js";
import { call } from "./support/service-fixtures.js";
import { grpcFrame, pausableSession, rawCall, stalledCall, type RawAnswer, type StalledCall } from "./support/raw-grpc.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const MIB = 1024 * 1024;
const PREDICT = "/iris.v1.IrisService/Predict";
const BATCH = "/iris.v1.IrisService/BatchPredict";

function batch(rows: number, omitProbabilities = false): Uint8Array {
  return BatchPredictRequest.encode({ flowers: Array.from({ length: rows }, () => SETOSA), omitProbabilities }).finish();
}

async function rawSocket(port: number): Promise<Socket> {
  const socket = netConnect(port, "127.0.0.1");
  servers.defer(() => socket.destroy());
  socket.on("error", () => undefined);
  await once(socket, "connect");
  return socket;
}

async function session(port: number): Promise<ClientHttp2Session> {
  const s = http2Connect(`http://127.0.0.1:${port}`);
  servers.defer(() => s.destroy());
  s.on("error", () => undefined);
  await once(s, "connect");
  return s;
}

/**
 * Waits until `condition` holds on the server, checking again after each
 * call answered by it: no timer, and each check follows a full turn of the
 * server's event loop.
 */
async function until(condition: () => boolean, address: string): Promise<void> {
  const probe = servers.client(address);
  while (!condition()) await call(probe, probe.modelInfo, {});
}

/** `promise`, or a failure naming `what` when it has not settled in `ms` (so that a stuck step says which it is). */
async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The RetryInfo delay a raw answer carries, if any. */
function retryAfter(answer: RawAnswer): number | undefined {
  const details = answer.headers[STATUS_DETAILS_KEY];
  if (typeof details !== "string") return undefined;
  return decodeRpcStatus(Buffer.from(details, "base64")).retryAfterMs;
}

describe("gRPC connections", () => {
  it("closes a TCP connection that never sends anything (keepalive ping unanswered)", async () => {
    const t = await servers.start({ limits: { keepaliveTimeMs: 200, keepaliveTimeoutMs: 200 } });
    const socket = await rawSocket(t.server.port);
    socket.resume();
    await once(socket, "close");
    expect(t.server.grpc.connections.count).toBe(0);
  });

  it("closes the socket of a client that sends the preface, an empty SETTINGS frame and garbage, then half-closes", async () => {
    const t = await servers.start({ limits: { keepaliveTimeMs: 200, keepaliveTimeoutMs: 200 } });
    const socket = await rawSocket(t.server.port);
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    socket.write(Buffer.concat([preface, emptySettings, Buffer.from("this is not an HTTP/2 frame at all")]));
    // The server answers with its SETTINGS and a GOAWAY; the client then closes its side, as the adversary did.
    socket.once("data", () => socket.end());
    socket.resume();
    await once(socket, "close");
    expect(t.server.grpc.connections.count).toBe(0);
  });

  it("sends GOAWAY to a connection without calls for the idle timeout, then closes it", async () => {
    const t = await servers.start({ limits: { idleTimeoutMs: 300 } });
    const s = await session(t.server.port);
    const goaway = once(s, "goaway");
    const answer = await rawCall(s, PREDICT, grpcFrame(PredictRequest.encode({ flower: SETOSA }).finish())).answer;
    expect(answer.status).toBe(Code.OK);
    await goaway;
    await once(s, "close");
  });

  it("closes a connection that never makes a call once the idle timeout has passed", async () => {
    const t = await servers.start({ limits: { idleTimeoutMs: 300 } });
    const s = await session(t.server.port);
    await once(s, "close");
  });

  it("keeps a connection whose call outlasts the idle timeout, and sends GOAWAY once it has had none for that long", async () => {
    const t = await servers.start({ limits: { idleTimeoutMs: 200, keepaliveTimeMs: 100, keepaliveTimeoutMs: 1000 } });
    const s = await session(t.server.port);
    let goaway = false;
    s.on("goaway", () => (goaway = true));
    // A call whose request has not arrived in full: in progress on the server.
    const frame = grpcFrame(PredictRequest.encode({ flower: SETOSA }).finish());
    const stream = s.request({ ":method": "POST", ":path": PREDICT, "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => undefined);
    stream.write(frame.subarray(0, 10));
    // The server's keepalive pings are the clock: 15 of them are 1.5 s, past the idle timeout and a sweep.
    let pings = 0;
    s.on("ping", () => pings++);
    while (pings < 15) await once(s, "ping");
    expect(goaway).toBe(false);
    expect(s.closed).toBe(false);
    const answer = new Promise<number>((resolve) => stream.on("trailers", (trailers) => resolve(Number(trailers["grpc-status"]))));
    stream.resume();
    stream.end(frame.subarray(10));
    expect(await answer).toBe(Code.OK);
    await once(s, "goaway");
    await once(s, "close");
  });

  it("keeps a connection that answers pings and has a call open", async () => {
    const t = await servers.start({ limits: { keepaliveTimeMs: 100, keepaliveTimeoutMs: 100, idleTimeoutMs: 0 } });
    const s = await session(t.server.port);
    let pings = 0;
    s.on("ping", () => pings++);
    // Open calls, but ping after ping answered: the connection stays.
    while (pings < 5) await once(s, "ping");
    expect(s.closed).toBe(false);
    const answer = await rawCall(s, PREDICT, grpcFrame(PredictRequest.encode({ flower: SETOSA }).finish())).answer;
    expect(answer.status).toBe(Code.OK);
  });

  it("refuses connections over the limit at once, and accepts again when one closes", async () => {
    const t = await servers.start({ limits: { maxConnections: 2 } });
    const first = await session(t.server.port);
    await session(t.server.port);
    const third = await rawSocket(t.server.port);
    third.resume();
    await once(third, "close");
    first.destroy();
    await once(first, "close");
    // The server has seen the first go when a new connection's call is answered.
    let answered: RawAnswer | undefined;
    while (answered?.status !== Code.OK) {
      const s = http2Connect(`http://127.0.0.1:${t.server.port}`);
      servers.defer(() => s.destroy());
      s.on("error", () => undefined);
      answered = await rawCall(s, PREDICT, grpcFrame(PredictRequest.encode({ flower: SETOSA }).finish())).answer;
    }
    expect(t.server.grpc.connections.count).toBeLessThanOrEqual(2);
  });

  it("advertises the stream limit in its HTTP/2 SETTINGS", async () => {
    const t = await servers.start({ limits: { maxConcurrentStreams: 7 } });
    const s = http2Connect(`http://127.0.0.1:${t.server.port}`);
    servers.defer(() => s.destroy());
    const [settings] = (await once(s, "remoteSettings")) as [{ maxConcurrentStreams?: number }];
    expect(settings.maxConcurrentStreams).toBe(7);
  });
});

describe("request bytes in progress", () => {
  it("refuse a call whose bytes do not fit, before decoding it, with a retry hint; and are given back when calls end", async () => {
    const t = await servers.start({ maxReceiveBytes: MIB, limits: { maxInflightBytes: 1.5 * MIB } });
    const s = await session(t.server.port);
    const big = grpcFrame(batch(25_000, true)); // about 0.95 MB
    expect(big.length).toBeLessThan(MIB);
    // A first call sends all but its last bytes and holds them.
    const held = rawCall(s, BATCH, big.subarray(0, big.length - 10), { end: false });
    await until(() => t.server.inflight.used >= big.length - 10, t.address);
    // A second one of the same size does not fit.
    const refused = await rawCall(s, BATCH, big).answer;
    expect(refused.status).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refused.message).toMatch(/^the server is busy: \d+ bytes of requests are in progress \(limit 1572864\)/);
    expect(retryAfter(refused)).toBe(SHED_RETRY_AFTER_MS);
    // The first one completes; then the same request fits again.
    held.stream.end(big.subarray(big.length - 10));
    expect((await held.answer).status).toBe(Code.OK);
    expect((await rawCall(s, BATCH, big).answer).status).toBe(Code.OK);
    expect(t.server.inflight.used).toBe(0);
  });

  it("count a compressed message as the largest it may decompress to", async () => {
    const t = await servers.start({ maxReceiveBytes: 4 * MIB, limits: { maxInflightBytes: 6 * MIB } });
    const s = await session(t.server.port);
    const compressed = grpcFrame(batch(100_000, true), true); // ~11 KB on the wire, ~3.8 MB decompressed
    expect(compressed.length).toBeLessThan(64 * 1024);
    const held = rawCall(s, BATCH, compressed.subarray(0, 100), { end: false, headers: { "grpc-encoding": "gzip" } });
    // The first 100 bytes, and the rest up to the receive limit as soon as the header says "compressed".
    await until(() => t.server.inflight.used >= 4 * MIB - compressed.length + 100, t.address);
    const plain = grpcFrame(batch(60_000, true)); // ~2.3 MB: fits alone, not beside the compressed one
    expect((await rawCall(s, BATCH, plain).answer).status).toBe(Code.RESOURCE_EXHAUSTED);
    held.stream.end(compressed.subarray(100));
    const answer = await held.answer;
    expect(answer.status).toBe(Code.OK);
    expect((await rawCall(s, BATCH, plain).answer).status).toBe(Code.OK);
  });

  it("end a call whose request does not arrive in full within the request timeout, and free its bytes", async () => {
    const t = await servers.start({ limits: { requestTimeoutMs: 300 } });
    const s = await session(t.server.port);
    const frame = grpcFrame(PredictRequest.encode({ flower: SETOSA }).finish());
    const slow = rawCall(s, PREDICT, frame.subarray(0, 7), { end: false });
    const answer = await slow.answer;
    expect([answer.status, answer.message]).toEqual([Code.DEADLINE_EXCEEDED, "the request did not arrive in full within 300 ms of the call's start"]);
    expect(t.server.inflight.used).toBe(0);
    expect(t.server.shedder.active).toBe(0);
  });

  it("time every waiting request with one timer: a request that completes leaves the others' deadlines as they were", async () => {
    const t = await servers.start({ limits: { requestTimeoutMs: 1000 } });
    const s = await session(t.server.port);
    const frame = grpcFrame(PredictRequest.encode({ flower: SETOSA }).finish());
    const first = rawCall(s, PREDICT, frame.subarray(0, 7), { end: false });
    const middle = rawCall(s, PREDICT, frame.subarray(0, 7), { end: false });
    const last = rawCall(s, PREDICT, frame.subarray(0, 7), { end: false });
    await until(() => t.server.shedder.active === 3, t.address);
    // The middle one's request arrives: it is answered, and taken out from between the other two.
    middle.stream.end(frame.subarray(7));
    expect((await middle.answer).status).toBe(Code.OK);
    const order: string[] = [];
    const [a, c] = await Promise.all([
      first.answer.then((answer) => (order.push("first"), answer)),
      last.answer.then((answer) => (order.push("last"), answer)),
    ]);
    expect([a.status, c.status]).toEqual([Code.DEADLINE_EXCEEDED, Code.DEADLINE_EXCEEDED]);
    expect(order).toEqual(["first", "last"]);
    expect(t.server.inflight.used).toBe(0);
    expect(t.server.shedder.active).toBe(0);
  });
});

describe("answers a client does not read", () => {
  const gzipBatch = () => grpcFrame(batch(100_000), true); // 11 KB asking for a 2.5 MB answer

  it("refuse the new calls of a connection over its share, while other clients are served", async () => {
    const t = await servers.start({ limits: { maxUnreadBytesPerConnection: 4 * MIB, maxUnreadBytes: 512 * MIB } });
    const s = await session(t.server.port);
    const frame = gzipBatch();
    const stalled: StalledCall[] = [];
    let refusal: Record<string, unknown> | undefined;
    // Calls whose answers are not read, one after the other, until one is refused.
    while (refusal === undefined && stalled.length < 10) {
      const c = stalledCall(s, BATCH, frame, { "grpc-encoding": "gzip" });
      stalled.push(c);
      const headers = await c.headers;
      if (headers["grpc-status"] !== undefined) refusal = headers;
    }
    expect(refusal?.["grpc-status"]).toBe(String(Code.RESOURCE_EXHAUSTED));
    expect(decodeURIComponent(String(refusal?.["grpc-message"]))).toMatch(
      /^this connection has \d+ bytes of answers it has not read \(limit 4194304\); read them before calling again$/,
    );
    expect(stalled.length).toBeLessThanOrEqual(4);
    // Everyone else is served.
    const other = servers.client(t.address);
    expect((await call(other, other.predict, { flower: SETOSA })).ok).toBe(true);
    // Once the answers are read, the connection may call again.
    const answers = await Promise.all(stalled.slice(0, -1).map((c) => c.read()));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => Code.OK));
    expect(t.server.grpc.connections.unread).toBe(0);
    expect((await rawCall(s, BATCH, frame, { headers: { "grpc-encoding": "gzip" } }).answer).status).toBe(Code.OK);
  });

  it("close the connection holding most of them when all together are over the limit", async () => {
    // Request bytes in progress out of the way: each compressed call reserves the receive limit while it is handled.
    const t = await servers.start({ limits: { maxUnreadBytesPerConnection: 512 * MIB, maxUnreadBytes: 8 * MIB, maxInflightBytes: 128 * MIB } });
    const s = await session(t.server.port);
    const closed = once(s, "close");
    const frame = gzipBatch();
    for (let i = 0; i < 10 && !s.closed; i++) stalledCall(s, BATCH, frame, { "grpc-encoding": "gzip" });
    await closed;
    expect(t.logs.map((l) => l.msg)).toContain(
      "closing the connection that has read least of its answers: unread answers are over the server's limit",
    );
    expect(t.server.grpc.connections.unread).toBe(0);
    const other = servers.client(t.address);
    expect((await call(other, other.predict, { flower: SETOSA })).ok).toBe(true);
  });

  it("close a connection that stops reading its socket altogether (its pings go unanswered)", async () => {
    const t = await servers.start({ limits: { keepaliveTimeMs: 200, keepaliveTimeoutMs: 200 } });
    const stuck = await pausableSession(t.server.port);
    servers.defer(() => stuck.tcp.destroy());
    const peer = `127.0.0.1:${stuck.tcp.localPort}`;
    await until(() => t.server.grpc.connections.get(peer) !== undefined, t.address);
    stuck.stopReading();
    const frame = gzipBatch();
    for (let i = 0; i < 10; i++) rawCall(stuck.session, BATCH, frame, { headers: { "grpc-encoding": "gzip" } });
    // Keepalive ends the HTTP/2 session; its socket, which cannot flush, is then destroyed.
    await within("the server to drop the connection", 25_000, until(() => t.server.grpc.connections.get(peer) === undefined, t.address));
    // The client, reading its socket again (straight, past its HTTP/2 session,
    // whose own state does not matter here), finds the connection closed.
    const closed = once(stuck.tcp, "close");
    stuck.tcp.removeAllListeners("data");
    stuck.tcp.on("data", () => undefined);
    stuck.tcp.resume();
    await within("the client to see its socket closed", 25_000, closed);
    expect(t.server.grpc.connections.unread).toBe(0);
    const other = servers.client(t.address);
    expect((await call(other, other.predict, { flower: SETOSA })).ok).toBe(true);
  });
});
