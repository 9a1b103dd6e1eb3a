/**
 * The access log: one JSON line per call on both ports with the request id
 * (the caller's, or the one made and returned), API, method or route,
 * status, duration, rows and model version; never a measurement, even when
 * the call failed because of one. In-process for the exact lines, and
 * `iris serve --access-log` for the flag.
 */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { Code } from "../src/errors.js";
import { accessLog } from "../src/server/access-log.js";
import { memoryLogger } from "./support/memory-logger.js";
import { useIrisProcesses } from "./support/iris-process.js";
import { call, generatedClient, modelFile } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const processes = useIrisProcesses();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Measurements no log line may contain. */
const SECRET = [5.123456, 3.654321, 1.987654, 0.234567];

describe("the access log", () => {
  it("has one line per call, on both ports, with the request id, what was called, how it ended, rows and version", async () => {
    const { logger, lines } = memoryLogger("info");
    // Resolves once five calls have ended (an HTTP call ends after its answer has gone).
    let ended = 0;
    let fiveEnded!: () => void;
    const five = new Promise<void>((resolve) => (fiveEnded = resolve));
    const t = await servers.start({ httpPort: 0, logger, stages: [accessLog(logger), { end: () => void (++ended === 5 && fiveEnded()) }] });
    const version = t.holder.current!.model.version;
    const client = servers.client(t.address);
    const withId = new Metadata();
    withId.set("x-request-id", "grpc-req-1");
    const flower = { sepalLength: SECRET[0], sepalWidth: SECRET[1], petalLength: SECRET[2], petalWidth: SECRET[3] };
    await new Promise<void>((resolve, reject) => client.predict({ flower }, withId, (err) => (err ? reject(err) : resolve())));
    const failed = await new Promise<ServiceError | null>((resolve) =>
      client.predict({ flower: { ...flower, petalWidth: -SECRET[3]! } }, new Metadata(), (err) => resolve(err)),
    );
    expect(failed?.code).toBe(Code.INVALID_ARGUMENT);
    expect(failed?.details).toContain(String(SECRET[3]));
    const base = `http://127.0.0.1:${t.server.httpPort}`;
    const ok = await fetch(`${base}/predict`, {
      method: "POST",
      headers: { "x-request-id": "http-req-7" },
      body: JSON.stringify({ features: [SECRET, SECRET] }),
    });
    expect(ok.status).toBe(200);
    const bad = await fetch(`${base}/predict`, { method: "POST", body: JSON.stringify({ features: [SECRET[0], -1] }) });
    expect(bad.status).toBe(400);
    const missing = await fetch(`${base}/secret/${SECRET[0]}`);
    expect(missing.status).toBe(404);
    await five;

    const access = lines.filter((l) => l.msg === "access");
    expect(access).toHaveLength(5);
    const [a, b, c, d, e] = access.map(({ time: _t, pid: _p, hostname: _h, ms, peer, ...rest }) => {
      expect(typeof ms).toBe("number");
      expect(String(peer)).toMatch(/127\.0\.0\.1:\d+$/);
      return rest;
    });
    expect(a).toEqual({
      level: "info",
      name: "iris-serve",
      msg: "access",
      requestId: "grpc-req-1",
      api: "grpc",
      method: "/iris.v1.IrisService/Predict",
      status: 0,
      code: "OK",
      rows: 1,
      modelVersion: version,
    });
    expect(b).toMatchObject({ api: "grpc", method: "/iris.v1.IrisService/Predict", status: 3, code: "INVALID_ARGUMENT" });
    expect(b).not.toHaveProperty("rows");
    expect(String(b!.requestId)).toMatch(UUID);
    expect(failed?.metadata.get("x-request-id")).toEqual([b!.requestId]);
    expect(c).toEqual({
      level: "info",
      name: "iris-serve",
      msg: "access",
      requestId: "http-req-7",
      api: "http",
      method: "POST",
      route: "/predict",
      status: 200,
      rows: 2,
      modelVersion: version,
    });
    expect(d).toMatchObject({ api: "http", method: "POST", route: "/predict", status: 400 });
    expect(bad.headers.get("x-request-id")).toBe(d!.requestId);
    expect(e).toMatchObject({ api: "http", method: "GET", route: "unmatched", status: 404 });

    // Nothing logged at info or above holds a measurement, nor the raw URL.
    const text = JSON.stringify(lines);
    for (const value of SECRET) expect(text).not.toContain(String(value));
    expect(text).not.toContain("/secret/");
  });

  it("is written by `iris serve --access-log` (or IRIS_ACCESS_LOG=true), and not without it", async () => {
    const file = await modelFile();
    processes.defer(file.cleanup);
    const predictOnce = async (serving: Record<string, unknown>) => {
      const client = generatedClient(`127.0.0.1:${serving.port as number}`);
      try {
        expect((await call(client, client.predict, { flower: { sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 } })).ok).toBe(true);
      } finally {
        client.close();
      }
    };
    for (const [args, env] of [
      [["--access-log"], {}],
      [[], { IRIS_ACCESS_LOG: "true" }],
    ] as const) {
      const server = processes.iris(["serve", "--host", "127.0.0.1", "--port", "0", "--model", file.path, ...args], env);
      const serving = await server.line((l) => l.msg === "serving");
      expect(serving.accessLog).toBe(true);
      await predictOnce(serving);
      expect(await server.line((l) => l.msg === "access")).toMatchObject({ api: "grpc", method: "/iris.v1.IrisService/Predict", code: "OK", rows: 1 });
      server.child.kill("SIGTERM");
      await server.exit;
    }
    const quiet = processes.iris(["serve", "--host", "127.0.0.1", "--port", "0", "--model", file.path]);
    const serving = await quiet.line((l) => l.msg === "serving");
    expect(serving.accessLog).toBe(false);
    await predictOnce(serving);
    quiet.child.kill("SIGTERM");
    const exit = await quiet.exit;
    expect(exit.code).toBe(0);
    expect(exit.lines.filter((l) => l.msg === "access")).toEqual([]);
  });
});
