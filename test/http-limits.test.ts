/**
 * The HTTP port's bounds against a real server: request bytes in progress
 * shared with the gRPC port (a body that does not fit is answered 503 with
 * Retry-After before it is parsed), oversized heads (431), too many query
 * parameters (400), connections over the limit (closed at once), and a
 * request whose body stalls (its connection closed once the request
 * timeout has passed).
 */
import { once } from "node:events";
import { request } from "node:http";
import { connect as netConnect } from "node:net";
import { describe, expect, it } from "vitest";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const KIB = 1024;

describe("HTTP limits", () => {
  it("answer 503 with Retry-After to a body that does not fit beside the bodies in progress, and free the bytes after", async () => {
    const t = await servers.start({ httpPort: 0, maxReceiveBytes: 64 * KIB, limits: { maxInflightBytes: 64 * KIB } });
    const port = t.server.httpPort!;
    // A first request sends 40 KiB of its body and holds the rest.
    const held = request({ port, host: "127.0.0.1", method: "POST", path: "/predict", headers: { "content-type": "application/json", "content-length": String(48 * KIB) } });
    held.on("error", () => undefined);
    held.write(Buffer.alloc(40 * KIB, 0x20));
    // The server holds those bytes once it has read them: wait for the count (each probe is a full turn of its loop).
    while (t.server.inflight.used < 40 * KIB) await fetch(`http://127.0.0.1:${port}/v2/health/live`);
    const body = JSON.stringify({ features: [5.1, 3.5, 1.4, 0.2], pad: " ".repeat(30 * KIB) });
    const shed = await fetch(`http://127.0.0.1:${port}/predict`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe("1");
    expect(((await shed.json()) as { error: string }).error).toMatch(/^the server is busy: \d+ bytes of requests are in progress \(limit 65536\)/);
    const closed = new Promise((resolve) => held.once("close", resolve));
    held.destroy();
    await closed;
    while (t.server.inflight.used > 0) await fetch(`http://127.0.0.1:${port}/v2/health/live`);
    const small = await fetch(`http://127.0.0.1:${port}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ features: [5.1, 3.5, 1.4, 0.2] }),
    });
    expect(small.status).toBe(200);
  });

  it("answer 431 to a head over 16 KiB and 400 to more than 32 query parameters", async () => {
    const t = await servers.start({ httpPort: 0 });
    const base = `http://127.0.0.1:${t.server.httpPort}`;
    const big = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/v2/health/live`, { headers: { "x-padding": "a".repeat(20 * KIB) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(big).toBe(431);
    const query = Array.from({ length: 40 }, (_, i) => `p${i}=1`).join("&");
    const many = await fetch(`${base}/v2/models/iris-logreg?${query}`);
    expect(many.status).toBe(400);
    expect(await many.json()).toEqual({ error: "the URL has 40 query parameters; at most 32 are accepted" });
  });

  it("close connections over the limit at once", async () => {
    const t = await servers.start({ httpPort: 0, limits: { maxConnections: 1 } });
    const port = t.server.httpPort!;
    const first = netConnect(port, "127.0.0.1");
    servers.defer(() => first.destroy());
    await once(first, "connect");
    // The first connection is the server's once it answers on it.
    first.write("GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n");
    await once(first, "data");
    const second = netConnect(port, "127.0.0.1");
    servers.defer(() => second.destroy());
    second.on("error", () => undefined);
    second.resume();
    await once(second, "close");
  });

  it("close the connection of a request whose body stalls past the request timeout, without answering it", async () => {
    const t = await servers.start({ httpPort: 0, limits: { requestTimeoutMs: 500 } });
    const socket = netConnect(t.server.httpPort!, "127.0.0.1");
    servers.defer(() => socket.destroy());
    await once(socket, "connect");
    socket.write("POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{");
    let answer = "";
    socket.setEncoding("utf8").on("data", (d: string) => (answer += d));
    await once(socket, "close");
    // Closed for inactivity, or answered 408 by node's request timeout: never handled.
    expect(answer).not.toMatch(/^HTTP\/1\.1 2/);
  });
});
