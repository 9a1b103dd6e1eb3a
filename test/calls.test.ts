/**
 * The per-call machinery on both ports, against a real server: every call
 * (gRPC on every service, HTTP on every route) is seen once at its start and
 * once at its end with the right names, status, rows and model version; a
 * stage can refuse a call before it is handled; the request id is the
 * caller's when usable, else (only when a stage records request ids, as the
 * access log does) a fresh one, and goes back to the caller.
 */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { Code, IrisError } from "../src/errors.js";
import type { Call, CallEnd, CallStage } from "../src/server/calls.js";
import { SETOSA } from "./support/flowers.js";
import { healthCheck } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * A stage that records what it sees; `refuse` makes `start` throw for calls
 * it matches; `recordsRequestIds` says it records request ids.
 */
function recorder(refuse?: (call: Call) => IrisError | undefined, recordsRequestIds = false) {
  const started: Call[] = [];
  const ended: { call: Call; end: CallEnd }[] = [];
  let endedWaiters: (() => void)[] = [];
  const stage: CallStage = {
    recordsRequestIds,
    start(call) {
      started.push(call);
      const error = refuse?.(call);
      if (error) throw error;
    },
    end(call, end) {
      ended.push({ call, end });
      for (const w of endedWaiters) w();
      endedWaiters = [];
    },
  };
  /** Resolves once `n` calls have ended (the end runs after the answer left). */
  const ends = async (n: number) => {
    while (ended.length < n) await new Promise<void>((resolve) => endedWaiters.push(resolve));
    return ended;
  };
  return { stage, started, ended, ends };
}

/** A unary gRPC call with metadata; resolves with the response or error, and the metadata the server sent. */
function grpcCall<Res>(
  make: (metadata: Metadata, cb: (err: ServiceError | null, res: Res) => void) => { on(event: "metadata", l: (m: Metadata) => void): unknown },
  metadata = new Metadata(),
): Promise<{ err: ServiceError | null; res: Res; headers: Metadata | undefined }> {
  return new Promise((resolve) => {
    let headers: Metadata | undefined;
    const call = make(metadata, (err, res) => resolve({ err, res, headers }));
    call.on("metadata", (m) => (headers = m));
  });
}

describe("calls on the gRPC port", () => {
  it("are seen at start and end, on every service, with status, rows and model version", async () => {
    const r = recorder();
    const t = await servers.start({ stages: [r.stage] });
    const c = servers.client(t.address);
    const ok = await grpcCall((m, cb) => c.predict({ flower: SETOSA }, m, cb));
    expect(ok.err).toBeNull();
    const batch = await grpcCall((m, cb) => c.batchPredict({ flowers: [SETOSA, SETOSA, SETOSA], omitProbabilities: true }, m, cb));
    expect(batch.err).toBeNull();
    const bad = await grpcCall((m, cb) => c.predict({ flower: { ...SETOSA, petalWidth: -1 } }, m, cb));
    expect(bad.err?.code).toBe(Code.INVALID_ARGUMENT);
    expect(await healthCheck(servers.health(t.address), "")).toBe("SERVING");

    const ended = await r.ends(4);
    const version = t.holder.current!.model.version;
    expect(ended.map(({ call, end }) => [call.api, call.service, call.method, call.kind, end.status, call.rows, call.modelVersion])).toEqual([
      ["grpc", "iris.v1.IrisService", "Predict", "unary", Code.OK, 1, version],
      ["grpc", "iris.v1.IrisService", "BatchPredict", "unary", Code.OK, 3, version],
      ["grpc", "iris.v1.IrisService", "Predict", "unary", Code.INVALID_ARGUMENT, undefined, undefined],
      ["grpc", "grpc.health.v1.Health", "Check", "unary", Code.OK, undefined, undefined],
    ]);
    expect(r.started).toHaveLength(4);
    for (const { call, end } of ended) {
      expect(call.peer).toMatch(/^(ipv4:)?127\.0\.0\.1:\d+$/);
      expect(end.ms).toBeGreaterThanOrEqual(0);
    }
  });

  it("return the caller's request id in the response metadata, and a fresh one when it sent none or an unusable one and a stage records ids", async () => {
    const r = recorder(undefined, true);
    const t = await servers.start({ stages: [r.stage] });
    const c = servers.client(t.address);
    const withId = new Metadata();
    withId.set("x-request-id", "req-42");
    const given = await grpcCall((m, cb) => c.predict({ flower: SETOSA }, m, cb), withId);
    expect(given.headers?.get("x-request-id")).toEqual(["req-42"]);
    const none = await grpcCall((m, cb) => c.predict({ flower: SETOSA }, m, cb));
    expect(String(none.headers?.get("x-request-id")[0])).toMatch(UUID);
    const tooLong = new Metadata();
    tooLong.set("x-request-id", "x".repeat(129));
    const replaced = await grpcCall((m, cb) => c.predict({ flower: SETOSA }, m, cb), tooLong);
    expect(String(replaced.headers?.get("x-request-id")[0])).toMatch(UUID);
    // An error answered without headers carries it in its trailers.
    const failing = await grpcCall((m, cb) => c.predict({ flower: {} }, m, cb), withId);
    expect(failing.err?.metadata.get("x-request-id")).toEqual(["req-42"]);
    const ended = await r.ends(4);
    expect(ended.map(({ call }) => call.requestId).slice(0, 1)).toEqual(["req-42"]);
    expect(ended[1]!.call.requestId).toBe(String(none.headers?.get("x-request-id")[0]));
  });

  it("make no request id when no stage records them: the caller's own still comes back, none otherwise", async () => {
    const r = recorder();
    const t = await servers.start({ stages: [r.stage] });
    const c = servers.client(t.address);
    const withId = new Metadata();
    withId.set("x-request-id", "req-43");
    const given = await grpcCall((m, cb) => c.predict({ flower: SETOSA }, m, cb), withId);
    expect(given.headers?.get("x-request-id")).toEqual(["req-43"]);
    const none = await grpcCall((m, cb) => c.predict({ flower: SETOSA }, m, cb));
    expect(none.res).toBeDefined();
    expect(none.headers?.get("x-request-id")).toEqual([]);
    const unusable = new Metadata();
    unusable.set("x-request-id", "has space");
    const dropped = await grpcCall((m, cb) => c.predict({ flower: {} }, m, cb), unusable);
    expect(dropped.err?.code).toBe(Code.INVALID_ARGUMENT);
    expect(dropped.err?.metadata.get("x-request-id")).toEqual([]);
    const ended = await r.ends(3);
    expect(ended.map(({ call }) => call.requestId)).toEqual(["req-43", undefined, undefined]);
  });

  it("can be refused by a stage before they are handled, with the request id", async () => {
    let handled = 0;
    // `seen` comes first and sees every call end; `r` refuses Predict, and sees only the calls it let through end.
    const seen = recorder();
    const r = recorder((call) => (call.method === "Predict" ? new IrisError(Code.UNAUTHENTICATED, "no token") : undefined));
    const after = recorder();
    const t = await servers.start({
      stages: [seen.stage, r.stage, after.stage],
      decorateService: (s) => ({ ...s, predict: (call, cb) => (handled++, s.predict(call, cb)) }),
    });
    const c = servers.client(t.address);
    const withId = new Metadata();
    withId.set("x-request-id", "refused-1");
    const refused = await grpcCall((m, cb) => c.predict({ flower: SETOSA }, m, cb), withId);
    expect([refused.err?.code, refused.err?.details]).toEqual([Code.UNAUTHENTICATED, "no token"]);
    expect(refused.err?.metadata.get("x-request-id")).toEqual(["refused-1"]);
    expect(handled).toBe(0);
    // Other methods go through.
    expect((await grpcCall((m, cb) => c.modelInfo({}, m, cb))).err).toBeNull();
    const ended = await seen.ends(2);
    expect(ended.map(({ call, end }) => [call.method, end.status])).toEqual([
      ["Predict", Code.UNAUTHENTICATED],
      ["ModelInfo", Code.OK],
    ]);
    expect(r.ended.map(({ call }) => call.method)).toEqual(["ModelInfo"]);
    expect(after.started.map((call) => call.method)).toEqual(["ModelInfo"]);
    expect(after.ended.map(({ call }) => call.method)).toEqual(["ModelInfo"]);
  });

  it("end once, as CANCELLED, when the client cancels", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    const r = recorder();
    const t = await servers.start({
      stages: [r.stage],
      decorateService: (s) => ({ ...s, predict: (call, cb) => (arrived(), void held.then(() => s.predict(call, cb))) }),
    });
    const c = servers.client(t.address);
    const pending = grpcCall((m, cb) => {
      const call = c.predict({ flower: SETOSA }, m, cb);
      void inHandler.then(() => call.cancel());
      return call;
    });
    expect((await pending).err?.code).toBe(Code.CANCELLED);
    const ended = await r.ends(1);
    release();
    expect(ended.map(({ end }) => end.status)).toEqual([Code.CANCELLED]);
  });
});

describe("calls on the HTTP port", () => {
  it("are seen with the route as declared, the status, rows and model version", async () => {
    const r = recorder();
    const t = await servers.start({ stages: [r.stage], httpPort: 0 });
    const base = `http://127.0.0.1:${t.server.httpPort}`;
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await post("/predict", { features: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]] })).status).toBe(200);
    const model = t.holder.current!.model;
    const infer = await post(`/v2/models/${model.artifact.name}/infer`, {
      inputs: [{ name: "x", shape: [1, 4], datatype: "FP64", data: [5.1, 3.5, 1.4, 0.2] }],
    });
    expect(infer.status).toBe(200);
    expect((await post("/predict", { features: [1, 2] })).status).toBe(400);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    const ended = await r.ends(4);
    expect(ended.map(({ call, end }) => [call.api, call.service, call.method, end.status, call.rows, call.modelVersion])).toEqual([
      ["http", "POST", "/predict", 200, 2, model.version],
      ["http", "POST", "/v2/models/:name/infer", 200, 1, model.version],
      ["http", "POST", "/predict", 400, undefined, undefined],
      ["http", "GET", "", 404, undefined, undefined],
    ]);
  });

  it("return the request id in a header: the caller's when usable, else a fresh one when a stage records ids", async () => {
    const t = await servers.start({ httpPort: 0, stages: [recorder(undefined, true).stage] });
    const base = `http://127.0.0.1:${t.server.httpPort}`;
    const given = await fetch(`${base}/v2/health/live`, { headers: { "x-request-id": "abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    const fresh = await fetch(`${base}/v2/health/live`, { headers: { "x-request-id": "has space" } });
    expect(fresh.headers.get("x-request-id")).toMatch(UUID);
  });

  it("return no request id header when the caller sent no usable one and no stage records ids", async () => {
    const t = await servers.start({ httpPort: 0 });
    const base = `http://127.0.0.1:${t.server.httpPort}`;
    const given = await fetch(`${base}/v2/health/live`, { headers: { "x-request-id": "abc-124" } });
    expect(given.headers.get("x-request-id")).toBe("abc-124");
    const none = await fetch(`${base}/v2/health/live`, { headers: { "x-request-id": "has space" } });
    expect(none.status).toBe(200);
    expect(none.headers.get("x-request-id")).toBeNull();
  });

  it("can be refused by a stage before the body is read, in the port's error form", async () => {
    const seen = recorder();
    const r = recorder((call) => (call.method === "/predict" ? new IrisError(Code.UNAUTHENTICATED, "no token") : undefined));
    const t = await servers.start({ stages: [seen.stage, r.stage], httpPort: 0 });
    const res = await fetch(`http://127.0.0.1:${t.server.httpPort}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "r-1" },
      body: JSON.stringify({ features: [5.1, 3.5, 1.4, 0.2] }),
    });
    expect([res.status, await res.json(), res.headers.get("x-request-id")]).toEqual([401, { error: "no token" }, "r-1"]);
    const ended = await seen.ends(1);
    expect(ended.map(({ call, end }) => [call.method, end.status])).toEqual([["/predict", 401]]);
    // The stage that refused the call does not see it end.
    expect(r.ended).toEqual([]);
  });
});
