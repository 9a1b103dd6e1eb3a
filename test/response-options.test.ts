/**
 * The server completes grpc-js's response options with `endStream: false`
 * (src/server/grpc/response-options.ts), so that node:http2's copy of them
 * keeps one hidden class. Checked where node:http2 receives them: a wrapper
 * around the HTTP/2 server streams' `respond` records the options of every
 * answer the server sends, and every Predict answer carries grpc-js's one
 * object with `endStream` set. Where the options cannot be found, nothing
 * is changed and one error is logged. The speed this keeps is measured by
 * the benchmark (docs/performance.md), not here.
 */
import { once } from "node:events";
import { connect, createServer, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { describe, expect, it, vi } from "vitest";
import { createIrisClient } from "../src/client/index.js";
import { SETOSA } from "./support/flowers.js";
import { memoryLogger } from "./support/memory-logger.js";
import { useServers } from "./support/use-servers.js";

type Respond = ServerHttp2Stream["respond"];

/** The prototype node:http2 gives its server streams, found on a stream of a server of our own. */
async function serverStreamPrototype(): Promise<{ respond: Respond }> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const arrived = once(server, "stream");
  const request = session.request({ ":path": "/" });
  request.on("error", () => {}).end();
  const [stream] = (await arrived) as [ServerHttp2Stream];
  const proto = Object.getPrototypeOf(stream) as { respond: Respond };
  session.destroy();
  server.close();
  return proto;
}

describe("grpc-js's response options", () => {
  const servers = useServers();

  it("reach node:http2 with endStream already set: one object, { waitForTrailers: true, endStream: false }, for every answer", async () => {
    const proto = await serverStreamPrototype();
    const seen: unknown[] = [];
    const respond = proto.respond;
    proto.respond = function (this: ServerHttp2Stream, headers, options) {
      seen.push(options);
      return respond.call(this, headers, options);
    };
    servers.defer(() => (proto.respond = respond));

    const { address } = await servers.start();
    const client = createIrisClient(address);
    servers.defer(() => client.close());
    for (let i = 0; i < 3; i++) await client.predict(SETOSA);

    expect(seen).toHaveLength(3);
    expect(seen[0]).toEqual({ waitForTrailers: true, endStream: false });
    expect(seen[1]).toBe(seen[0]);
    expect(seen[2]).toBe(seen[0]);
  });

  it("are left alone, with one error logged, when the base call's sendMetadata gives none that can be completed", async () => {
    const frozen = Object.freeze({ waitForTrailers: true });
    const prototypes = {
      "no sendMetadata": {},
      "a sendMetadata that throws": {
        sendMetadata() {
          throw new Error("no stream");
        },
      },
      "options that cannot be completed": {
        sendMetadata(this: { stream: { respond: Respond } }) {
          this.stream.respond({}, frozen);
        },
      },
    };
    for (const proto of Object.values(prototypes)) {
      const base = Object.create(proto) as object;
      vi.resetModules();
      const { completeResponseOptions } = await import("../src/server/grpc/response-options.js");
      const { logger, lines } = memoryLogger("info");
      expect(completeResponseOptions(base, logger)).toBe(false);
      expect(completeResponseOptions(base, logger)).toBe(false);
      expect(lines).toEqual([expect.objectContaining({ level: "error", msg: expect.stringContaining("response options were not found") })]);
    }
    expect(frozen).toEqual({ waitForTrailers: true });
  });
});
