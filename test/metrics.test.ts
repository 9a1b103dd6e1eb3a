/**
 * `GET /metrics` against a real server: a known number of calls of each
 * kind (OK and failing; iris.v1, the Open Inference Protocol over gRPC and
 * REST, health, `POST /predict`, unknown routes) and the exact counts
 * scraped afterwards, parsed by the Prometheus project's own parser
 * (test/support/metrics.ts). Also: statuses that grpc-js sends itself
 * (a request over the size limit, a message that does not parse), a
 * client's cancel, the model metrics, metrics off, and one set of metrics
 * per server.
 */
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { Code, codeName } from "../src/errors.js";
import { GRPCInferenceServiceClient, type ModelInferRequest } from "../src/gen/inference/open_inference_grpc.js";
import type { Flower } from "../src/gen/iris.js";
import type { IrisModel } from "../src/model/index.js";
import type { CallStage } from "../src/server/calls.js";
import { SETOSA } from "./support/flowers.js";
import { httpClient } from "./support/http-client.js";
import { scrape, type Scrape } from "./support/metrics.js";
import { outOfRangeFlags } from "./support/oip.js";
import { call, healthCheck, referenceModel } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const MODEL = "iris-logreg";
const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"] as const;

/**
 * A stage whose `reached(n)` resolves once n calls have ended: the metrics
 * stage, which runs first, has counted them by then (an HTTP call ends
 * after its answer has gone, so a scrape right after the answer might
 * otherwise come first).
 */
function endings() {
  let ended = 0;
  let waiters: { n: number; resolve: () => void }[] = [];
  const stage: CallStage = {
    end() {
      ended++;
      waiters = waiters.filter((w) => (ended >= w.n ? (w.resolve(), false) : true));
    },
  };
  return {
    stage,
    reached(n: number): Promise<void> {
      return ended >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

const row = (f: Flower): number[] => [f.sepalLength!, f.sepalWidth!, f.petalLength!, f.petalWidth!];
const flower = ([sepalLength, sepalWidth, petalLength, petalWidth]: number[]): Flower => ({ sepalLength, sepalWidth, petalLength, petalWidth });

/** What a set of predicted rows adds to iris_predictions_total and iris_input_out_of_range_total. */
function tally(model: IrisModel, rows: number[][]) {
  const species: Record<string, number> = Object.fromEntries(model.classes.map((c) => [c, 0]));
  const outOfRange: Record<string, number> = Object.fromEntries(FEATURES.map((f) => [f, 0]));
  for (const r of rows) species[model.predict(r).label]!++;
  for (const flags of outOfRangeFlags(model, rows)) flags.forEach((out, j) => (outOfRange[FEATURES[j]!]! += out ? 1 : 0));
  return { species, outOfRange };
}

function grpcSeries(scraped: Scrape, service: string, method: string, type = "unary") {
  const labels = { grpc_type: type, grpc_service: service, grpc_method: method };
  const handled = Object.fromEntries(
    scraped
      .find("grpc_server_handled_total", labels)
      .filter((s) => s.value !== 0)
      .map((s) => [s.labels.grpc_code!, s.value]),
  );
  return {
    started: scraped.value("grpc_server_started_total", labels),
    handled,
    observed: scraped.value("grpc_server_handling_seconds_count", labels),
  };
}

function httpCount(scraped: Scrape, method: string, route: string, status: number): number {
  return scraped.value("http_server_request_duration_seconds_count", {
    http_request_method: method,
    http_route: route,
    http_response_status_code: String(status),
  });
}

describe("GET /metrics", () => {
  it("counts every call of every kind, OK and failing, on both ports, and what was predicted", async () => {
    const ends = endings();
    const t = await servers.start({ httpPort: 0, stages: [ends.stage] });
    const model = t.holder.current!.model;
    const base = `http://127.0.0.1:${t.server.httpPort}`;
    const http = httpClient(base);
    const iris = servers.client(t.address);
    const oip = new GRPCInferenceServiceClient(t.address, credentials.createInsecure());
    servers.defer(() => oip.close());
    const health = servers.health(t.address);
    const predicted: number[][] = [];
    // Two measurements outside the training range: sepal_length 9.0 > 7.9, petal_width 0.05 < 0.1.
    const OUTSIDE = [9.0, 3.0, 5.0, 0.05];
    const VIRGINICA = [7.7, 3.0, 6.1, 2.3];
    let calls = 0;
    const expectCode = async (result: Promise<{ ok: boolean; err?: ServiceError }>, code: number) => {
      const r = await result;
      calls++;
      expect(r.ok ? Code.OK : r.err!.code).toBe(code);
    };

    // iris.v1: 3 Predict OK, 2 INVALID_ARGUMENT; 1 BatchPredict OK (4 rows), 1 INVALID_ARGUMENT (empty); 2 ModelInfo.
    for (const r of [row(SETOSA), OUTSIDE, VIRGINICA]) {
      await expectCode(call(iris, iris.predict, { flower: flower(r) }), Code.OK);
      predicted.push(r);
    }
    await expectCode(call(iris, iris.predict, { flower: { ...SETOSA, petalWidth: -1 } }), Code.INVALID_ARGUMENT);
    await expectCode(call(iris, iris.predict, { flower: undefined }), Code.INVALID_ARGUMENT);
    const batch = [row(SETOSA), OUTSIDE, OUTSIDE, VIRGINICA];
    await expectCode(call(iris, iris.batchPredict, { flowers: batch.map(flower), omitProbabilities: false }), Code.OK);
    predicted.push(...batch);
    await expectCode(call(iris, iris.batchPredict, { flowers: [], omitProbabilities: false }), Code.INVALID_ARGUMENT);
    await expectCode(call(iris, iris.modelInfo, {}), Code.OK);
    await expectCode(call(iris, iris.modelInfo, {}), Code.OK);

    // The Open Inference Protocol over gRPC: 2 ModelInfer OK (2 and 1 rows), 1 NOT_FOUND, 1 ServerLive.
    const infer = (rows: number[][], modelName = MODEL): ModelInferRequest => ({
      modelName,
      modelVersion: "",
      id: "",
      parameters: {},
      inputs: [{ name: "x", datatype: "FP64", shape: [rows.length, 4], parameters: {}, contents: { fp64Contents: rows.flat(), boolContents: [], intContents: [], int64Contents: [], uintContents: [], uint64Contents: [], fp32Contents: [], bytesContents: [] } }],
      outputs: [],
      rawInputContents: [],
    });
    await expectCode(call(oip, oip.modelInfer, infer([OUTSIDE, VIRGINICA])), Code.OK);
    await expectCode(call(oip, oip.modelInfer, infer([row(SETOSA)])), Code.OK);
    predicted.push(OUTSIDE, VIRGINICA, row(SETOSA));
    await expectCode(call(oip, oip.modelInfer, infer([row(SETOSA)], "resnet")), Code.NOT_FOUND);
    await expectCode(call(oip, oip.serverLive, {}), Code.OK);

    // grpc.health.v1: 1 Check.
    expect(await healthCheck(health, "")).toBe("SERVING");
    calls++;

    // HTTP: /predict 200 ×2 (1 and 2 rows), 400 ×1; OIP REST infer 200 ×1 (3 rows), 404 ×1; ready 200; an unknown route; an unknown method.
    expect((await http.post("/predict", { features: OUTSIDE })).status).toBe(200);
    expect((await http.post("/predict", { features: [VIRGINICA, row(SETOSA)] })).status).toBe(200);
    predicted.push(OUTSIDE, VIRGINICA, row(SETOSA));
    expect((await http.post("/predict", { features: [1, 2] })).status).toBe(400);
    const restRows = [OUTSIDE, OUTSIDE, VIRGINICA];
    const rest = await http.post(`/v2/models/${MODEL}/infer`, { inputs: [{ name: "x", shape: [3, 4], datatype: "FP64", data: restRows.flat() }] });
    expect(rest.status).toBe(200);
    predicted.push(...restRows);
    expect((await http.post(`/v2/models/resnet/infer`, { inputs: [] })).status).toBe(404);
    expect((await http.get("/v2/health/ready")).status).toBe(200);
    expect((await http.get("/no/such/route?with=query")).status).toBe(404);
    expect((await fetch(`${base}/predict`, { method: "PROPFIND" })).status).toBe(404);
    // And the OpenAPI document, which the checking client fetched first.
    calls += 8 + 1;

    await ends.reached(calls);
    const first = await scrape(base);
    // What the scrape of /metrics itself adds is seen by the next scrape.
    await ends.reached(calls + 1);
    const second = await scrape(base);

    const v1 = "iris.v1.IrisService";
    const inference = "inference.GRPCInferenceService";
    expect(grpcSeries(first, v1, "Predict")).toEqual({ started: 5, handled: { OK: 3, INVALID_ARGUMENT: 2 }, observed: 5 });
    expect(grpcSeries(first, v1, "BatchPredict")).toEqual({ started: 2, handled: { OK: 1, INVALID_ARGUMENT: 1 }, observed: 2 });
    expect(grpcSeries(first, v1, "ModelInfo")).toEqual({ started: 2, handled: { OK: 2 }, observed: 2 });
    expect(grpcSeries(first, inference, "ModelInfer")).toEqual({ started: 3, handled: { OK: 2, NOT_FOUND: 1 }, observed: 3 });
    expect(grpcSeries(first, inference, "ServerLive")).toEqual({ started: 1, handled: { OK: 1 }, observed: 1 });
    expect(grpcSeries(first, "grpc.health.v1.Health", "Check")).toEqual({ started: 1, handled: { OK: 1 }, observed: 1 });
    // Methods never called are there, at 0, from the start.
    expect(grpcSeries(first, "grpc.health.v1.Health", "Watch", "server_stream")).toEqual({ started: 0, handled: {}, observed: 0 });
    expect(first.find("grpc_server_handled_total", { grpc_method: "Watch", grpc_code: "OK" })).toHaveLength(1);
    expect(first.value("grpc_server_started_total", { grpc_type: "bidi_stream", grpc_service: "grpc.reflection.v1.ServerReflection", grpc_method: "ServerReflectionInfo" })).toBe(0);
    // Every gRPC call is counted once, and nothing else is.
    const total = (s: Scrape, name: string) => s.find(name).reduce((n, x) => n + (x.value as number), 0);
    expect(total(first, "grpc_server_started_total")).toBe(14);
    expect(total(first, "grpc_server_handled_total")).toBe(14);

    expect(httpCount(first, "POST", "/predict", 200)).toBe(2);
    expect(httpCount(first, "POST", "/predict", 400)).toBe(1);
    expect(httpCount(first, "POST", "/v2/models/:name/infer", 200)).toBe(1);
    expect(httpCount(first, "POST", "/v2/models/:name/infer", 404)).toBe(1);
    expect(httpCount(first, "GET", "/v2/health/ready", 200)).toBe(1);
    // Unknown routes and methods are fixed label values, never the URL.
    expect(httpCount(first, "GET", "unmatched", 404)).toBe(1);
    expect(httpCount(first, "_OTHER", "unmatched", 404)).toBe(1);
    expect(first.text).not.toContain("/no/such/route");
    expect(httpCount(first, "GET", "/metrics", 200)).toBe(0);
    expect(httpCount(second, "GET", "/metrics", 200)).toBe(1);
    expect(httpCount(first, "GET", "/openapi.json", 200)).toBe(1);
    expect(total(first, "http_server_request_duration_seconds_count")).toBe(9);
    expect(calls).toBe(14 + 9);

    // The model: what was predicted, by species and by feature out of range, and rows per call.
    const expected = tally(model, predicted);
    for (const [species, n] of Object.entries(expected.species)) expect(first.value("iris_predictions_total", { species }), species).toBe(n);
    for (const [feature, n] of Object.entries(expected.outOfRange)) expect(first.value("iris_input_out_of_range_total", { feature }), feature).toBe(n);
    expect(expected.outOfRange).toMatchObject({ sepal_length: 7, petal_width: 7 });
    // 9 prediction calls: Predict ×3 (1 row each), BatchPredict (4 rows), ModelInfer (2, 1), /predict (1, 2), REST infer (3).
    expect(first.value("iris_batch_rows_count")).toBe(9);
    expect(first.value("iris_batch_rows_sum")).toBe(predicted.length);
    expect(first.value("iris_batch_rows_bucket", { le: "1" })).toBe(5);
    expect(first.value("iris_batch_rows_bucket", { le: "2" })).toBe(7);
    expect(first.value("iris_batch_rows_bucket", { le: "5" })).toBe(9);
    expect(first.value("iris_model_info", { name: MODEL, version: model.version, format: model.artifact.format })).toBe(1);
    expect(first.find("iris_model_info")).toHaveLength(1);
    expect(first.value("iris_model_loaded_timestamp_seconds")).toBeCloseTo(t.holder.current!.loadedAt.getTime() / 1000, 3);
    expect(first.value("iris_model_reloads_total", { result: "success" })).toBe(0);
    expect(first.value("iris_model_reloads_total", { result: "failure" })).toBe(0);
  });

  it("has each histogram's buckets cumulative, ending at +Inf with the count, and durations that add up", async () => {
    const ends = endings();
    const t = await servers.start({ httpPort: 0, stages: [ends.stage] });
    const iris = servers.client(t.address);
    for (let i = 0; i < 5; i++) expect((await call(iris, iris.predict, { flower: SETOSA })).ok).toBe(true);
    await ends.reached(5);
    const s = await scrape(`http://127.0.0.1:${t.server.httpPort}`);
    const labels = { grpc_type: "unary", grpc_service: "iris.v1.IrisService", grpc_method: "Predict" };
    const buckets = s.find("grpc_server_handling_seconds_bucket", labels);
    const bounds = buckets.map((b) => b.labels.le!);
    expect(bounds).toEqual(["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]);
    const counts = buckets.map((b) => b.value as number);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(counts.at(-1)).toBe(5);
    expect(s.value("grpc_server_handling_seconds_count", labels)).toBe(5);
    expect(s.value("grpc_server_handling_seconds_sum", labels)).toBeGreaterThan(0);
    expect(s.value("grpc_server_handling_seconds_sum", labels)).toBeLessThan(5 * 10);
    expect(s.families.get("grpc_server_handling_seconds")?.type).toBe("histogram");
    expect(s.families.get("grpc_server_handled")?.type).toBe("counter");
    expect(s.families.get("iris_model_info")?.type).toBe("gauge");
    // Node's process and runtime metrics.
    for (const name of ["process_cpu_user_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes"]) {
      expect(s.find(name).length, name).toBeGreaterThan(0);
    }
  });

  it("counts the statuses grpc-js sends itself (too large, malformed) and a client's cancel", async () => {
    const ends = endings();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    const t = await servers.start({
      httpPort: 0,
      maxReceiveBytes: 1024,
      stages: [ends.stage],
      decorateService: (s) => ({
        ...s,
        modelInfo: (c, cb) => {
          arrived();
          void held.then(() => s.modelInfo(c, cb));
        },
      }),
    });
    const iris = servers.client(t.address);
    const tooLarge = await call(iris, iris.batchPredict, { flowers: Array.from({ length: 100 }, () => SETOSA), omitProbabilities: false });
    expect(tooLarge.ok ? Code.OK : tooLarge.err.code).toBe(Code.RESOURCE_EXHAUSTED);

    // A message that is not an iris.v1.PredictRequest: field 1 (flower) announced longer than the message.
    const raw = new Client(t.address, credentials.createInsecure());
    servers.defer(() => raw.close());
    const malformed = await new Promise<ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(
        "/iris.v1.IrisService/Predict",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0x7f, 0x01]),
        new Metadata(),
        {},
        (err) => resolve(err),
      ),
    );
    expect(malformed?.code).toBe(Code.INTERNAL);

    const cancelled = new Promise<ServiceError | null>((resolve) => {
      const c = iris.modelInfo({}, (err) => resolve(err));
      void inHandler.then(() => c.cancel());
    });
    expect((await cancelled)?.code).toBe(Code.CANCELLED);
    await ends.reached(3);
    release();

    const s = await scrape(`http://127.0.0.1:${t.server.httpPort}`);
    expect(grpcSeries(s, "iris.v1.IrisService", "BatchPredict")).toEqual({ started: 1, handled: { RESOURCE_EXHAUSTED: 1 }, observed: 1 });
    expect(grpcSeries(s, "iris.v1.IrisService", "Predict")).toEqual({ started: 1, handled: { INTERNAL: 1 }, observed: 1 });
    expect(grpcSeries(s, "iris.v1.IrisService", "ModelInfo")).toEqual({ started: 1, handled: { CANCELLED: 1 }, observed: 1 });
    expect(codeName(Code.RESOURCE_EXHAUSTED)).toBe("RESOURCE_EXHAUSTED");
  });

  it("counts apart for each server, and is not served with metrics off", async () => {
    const a = await servers.start({ httpPort: 0 });
    const b = await servers.start({ httpPort: 0 });
    const off = await servers.start({ httpPort: 0, metrics: false });
    const client = servers.client(a.address);
    expect((await call(client, client.predict, { flower: SETOSA })).ok).toBe(true);
    const [sa, sb] = [await scrape(`http://127.0.0.1:${a.server.httpPort}`), await scrape(`http://127.0.0.1:${b.server.httpPort}`)];
    const labels = { grpc_type: "unary", grpc_service: "iris.v1.IrisService", grpc_method: "Predict" };
    expect([sa.value("grpc_server_started_total", labels), sb.value("grpc_server_started_total", labels)]).toEqual([1, 0]);
    expect(off.server.metrics).toBeUndefined();
    const http = httpClient(`http://127.0.0.1:${off.server.httpPort}`);
    expect((await http.get("/metrics")).status).toBe(404);
    expect((await http.post("/predict", { features: row(SETOSA) })).status).toBe(200);
    const offClient = servers.client(off.address);
    expect((await call(offClient, offClient.predict, { flower: SETOSA })).ok).toBe(true);
  });

  it("keeps answering while the server drains", async () => {
    const t = await servers.start({ httpPort: 0 });
    const base = `http://127.0.0.1:${t.server.httpPort}`;
    expect((await scrape(base)).value("iris_model_info", { name: MODEL, version: (await referenceModel()).version, format: "iris-serve.model.v1" })).toBe(1);
    t.server.readiness.drain();
    expect((await httpClient(base).post("/predict", { features: row(SETOSA) })).status).toBe(503);
    expect((await scrape(base)).value("iris_model_info", {
      name: MODEL,
      version: (await referenceModel()).version,
      format: "iris-serve.model.v1",
    })).toBe(1);
  });
});
