/**
 * Measurements outside the range the model was trained on are answered as
 * before, and flagged on every API: iris.v1 (Predict's
 * out_of_range_features, BatchPredict's masks), the SDK, the Open Inference
 * Protocol (the `out_of_range` output in REST JSON, REST binary, gRPC typed
 * and raw contents, and the `out_of_range_rows` parameter), `POST /predict`
 * and `iris predict`. The server serves a model whose features are in
 * another order than the Flower fields, so that model order (iris.v1) and
 * input order (the protocol's tensor) are told apart. Expected flags are
 * computed here from the artifact's [min, max], not by the model module.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { createIrisClient } from "../src/client/index.js";
import { GRPCInferenceServiceClient, type ModelInferRequest } from "../src/gen/inference/open_inference_grpc.js";
import type { Flower } from "../src/gen/iris.js";
import { IrisModel, modelVersion, type ModelArtifact } from "../src/model/index.js";
import { httpClient, splitBinaryAnswer } from "./support/http-client.js";
import { expectedOutputs } from "./support/oip.js";
import { call, modelFile, referenceArtifact } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const REPO = fileURLToPath(new URL("../", import.meta.url));
const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const MODEL = "iris-logreg";

/** The reference model with its features in the order petal_length, sepal_length, petal_width, sepal_width. */
async function shuffledArtifact(): Promise<ModelArtifact> {
  const a = await referenceArtifact();
  const order = [2, 0, 3, 1];
  const features = order.map((j) => a.features[j]!);
  const coefficients = a.coefficients.map((r) => order.map((j) => r[j]!));
  const version = modelVersion({ features: features.map((f) => f.name), classes: a.classes, coefficients, intercepts: a.intercepts });
  return { ...a, features, coefficients, version };
}

/** Test rows (FEATURES order) and, for each, the features outside the training range, from the artifact. */
async function cases() {
  const a = await referenceArtifact();
  const range = (name: string) => a.features.find((f) => f.name === name)!;
  const [sl, sw, pl, pw] = FEATURES.map(range) as [ModelArtifact["features"][0], ModelArtifact["features"][0], ModelArtifact["features"][0], ModelArtifact["features"][0]];
  const rows = {
    inside: [5.1, 3.5, 1.4, 0.2],
    // Exactly at the bounds is inside.
    atMin: [sl.min, sw.min, pl.min, pw.min],
    atMax: [sl.max, sw.max, pl.max, pw.max],
    // Above sepal_width's and petal_length's maximum.
    wide: [5.0, sw.max + 0.1, pl.max + 0.1, 1.0],
    // Below petal_width's minimum, above sepal_length's maximum.
    odd: [sl.max + 1, 3.0, 5.0, pw.min / 2],
  };
  const flagged = (row: number[]) => FEATURES.filter((name, j) => row[j]! < range(name).min || row[j]! > range(name).max);
  return { rows, flagged };
}

const flower = ([sepalLength, sepalWidth, petalLength, petalWidth]: number[]): Flower => ({ sepalLength, sepalWidth, petalLength, petalWidth });
/** The shuffled model's order: the flagged features sorted as its features are. */
const MODEL_ORDER = ["petal_length", "sepal_length", "petal_width", "sepal_width"];
const inModelOrder = (names: string[]) => MODEL_ORDER.filter((n) => names.includes(n));

async function start() {
  const artifact = await shuffledArtifact();
  const model = new IrisModel(artifact);
  const t = await servers.start({ model, httpPort: 0 });
  return { t, model };
}

describe("measurements outside the training range", () => {
  it("are flagged by iris.v1 Predict (model order) and BatchPredict (a mask per row, only when a row is flagged)", async () => {
    const { rows, flagged } = await cases();
    expect(flagged(rows.inside)).toEqual([]);
    expect(flagged(rows.atMin)).toEqual([]);
    expect(flagged(rows.atMax)).toEqual([]);
    expect(flagged(rows.wide)).toEqual(["sepal_width", "petal_length"]);
    expect(flagged(rows.odd)).toEqual(["sepal_length", "petal_width"]);
    const { t, model } = await start();
    const iris = servers.client(t.address);
    for (const row of Object.values(rows)) {
      const r = await call(iris, iris.predict, { flower: flower(row) });
      if (!r.ok) throw r.err;
      expect(r.res.prediction!.outOfRangeFeatures).toEqual(inModelOrder(flagged(row)));
      // Answered as before: the same prediction as the model's.
      const x = MODEL_ORDER.map((name) => row[FEATURES.indexOf(name)]!);
      expect(r.res.prediction!.probabilities).toEqual(model.predict(x).probabilities);
    }

    const within = await call(iris, iris.batchPredict, { flowers: [rows.inside, rows.atMin, rows.atMax].map(flower), omitProbabilities: true });
    if (!within.ok) throw within.err;
    expect([within.res.outOfRangeMasks, within.res.outOfRangeFeatureNames]).toEqual([[], []]);

    const mixed = [rows.inside, rows.wide, rows.odd, rows.atMax];
    const batch = await call(iris, iris.batchPredict, { flowers: mixed.map(flower), omitProbabilities: false });
    if (!batch.ok) throw batch.err;
    expect(batch.res.outOfRangeFeatureNames).toEqual(MODEL_ORDER);
    const bits = (names: string[]) => names.reduce((m, n) => m | (1 << MODEL_ORDER.indexOf(n)), 0);
    expect(batch.res.outOfRangeMasks).toEqual(mixed.map((row) => bits(flagged(row))));
    expect(batch.res.outOfRangeMasks).toEqual([0, 0b1001, 0b0110, 0]);
  });

  it("are decoded by the SDK into each prediction's outOfRangeFeatures", async () => {
    const { rows, flagged } = await cases();
    const { t } = await start();
    const sdk = createIrisClient(t.address);
    servers.defer(() => sdk.close());
    const toMeasurements = (row: number[]) => flower(row) as Required<Flower>;
    expect((await sdk.predict(toMeasurements(rows.odd))).outOfRangeFeatures).toEqual(inModelOrder(flagged(rows.odd)));
    const mixed = [rows.wide, rows.inside, rows.odd];
    const batch = await sdk.batchPredict(mixed.map(toMeasurements), { omitProbabilities: true });
    expect(batch.predictions.map((p) => p.outOfRangeFeatures)).toEqual(mixed.map((row) => inModelOrder(flagged(row))));
    const clean = await sdk.batchPredict([toMeasurements(rows.inside)]);
    expect(clean.predictions[0]!.outOfRangeFeatures).toEqual([]);
  });

  it("are the out_of_range output (input order) and the out_of_range_rows parameter of the protocol over REST, JSON and binary", async () => {
    const { rows, flagged } = await cases();
    const { t, model } = await start();
    const http = httpClient(`http://127.0.0.1:${t.server.httpPort}`);
    const mixed = [rows.inside, rows.wide, rows.odd];
    const flags = mixed.flatMap((row) => FEATURES.map((f) => flagged(row).includes(f)));
    const body = { inputs: [{ name: "x", shape: [3, 4], datatype: "FP64", data: mixed.flat() }] };

    // Not asked for: the three outputs as before, and the parameter.
    const plain = await http.post(`/v2/models/${MODEL}/infer`, body);
    expect(plain.status).toBe(200);
    const json = plain.json as { outputs: { name: string }[]; parameters: unknown };
    expect(json.outputs.map((o) => o.name)).toEqual(["predict", "predict_proba", "species"]);
    expect(json.parameters).toEqual({ out_of_range_rows: 2 });
    // Rows in range: no parameter at all.
    const clean = await http.post(`/v2/models/${MODEL}/infer`, { inputs: [{ name: "x", shape: [1, 4], datatype: "FP64", data: rows.atMax }] });
    expect(clean.json).not.toHaveProperty("parameters");

    const asked = await http.post(`/v2/models/${MODEL}/infer`, { ...body, outputs: [{ name: "species" }, { name: "out_of_range" }] });
    expect(asked.json).toEqual({
      model_name: MODEL,
      model_version: model.version,
      parameters: { out_of_range_rows: 2 },
      outputs: [
        { ...expectedOutputs(model, mixed.map((row) => MODEL_ORDER.map((n) => row[FEATURES.indexOf(n)]!))).species },
        { name: "out_of_range", datatype: "BOOL", shape: [3, 4], data: flags },
      ],
    });

    const binary = await http.post(`/v2/models/${MODEL}/infer`, {
      ...body,
      parameters: { binary_data_output: true },
      outputs: [{ name: "out_of_range" }],
    });
    const { json: head, binary: bytes } = splitBinaryAnswer(binary);
    expect(head).toMatchObject({
      parameters: { binary_data_output: true, out_of_range_rows: 2 },
      outputs: [{ name: "out_of_range", datatype: "BOOL", shape: [3, 4], parameters: { binary_data_size: 12 } }],
    });
    expect([...bytes]).toEqual(flags.map(Number));
  });

  it("are the out_of_range output and parameter of the protocol over gRPC, typed and raw", async () => {
    const { rows, flagged } = await cases();
    const { t } = await start();
    const oip = new GRPCInferenceServiceClient(t.address, credentials.createInsecure());
    servers.defer(() => oip.close());
    const mixed = [rows.odd, rows.inside];
    const flags = mixed.flatMap((row) => FEATURES.map((f) => flagged(row).includes(f)));
    const empty = { boolContents: [], intContents: [], int64Contents: [], uintContents: [], uint64Contents: [], fp32Contents: [], fp64Contents: [], bytesContents: [] };
    const request = (raw: boolean): ModelInferRequest => ({
      modelName: MODEL,
      modelVersion: "",
      id: "",
      parameters: {},
      inputs: [{ name: "x", datatype: "FP64", shape: [2, 4], parameters: {}, contents: raw ? undefined : { ...empty, fp64Contents: mixed.flat() } }],
      outputs: [{ name: "out_of_range", parameters: {} }],
      rawInputContents: raw ? [Buffer.from(new Float64Array(mixed.flat()).buffer)] : [],
    });
    const typed = await call(oip, oip.modelInfer, request(false));
    if (!typed.ok) throw typed.err;
    expect(typed.res.parameters).toEqual({ out_of_range_rows: { int64Param: 1 } });
    expect(typed.res.outputs).toEqual([
      { name: "out_of_range", datatype: "BOOL", shape: [2, 4], parameters: {}, contents: { ...empty, boolContents: flags } },
    ]);
    const raw = await call(oip, oip.modelInfer, request(true));
    if (!raw.ok) throw raw.err;
    expect(raw.res.outputs[0]).toMatchObject({ name: "out_of_range", datatype: "BOOL", shape: [2, 4] });
    expect([...raw.res.rawOutputContents[0]!]).toEqual(flags.map(Number));
  });

  it("are the out_of_range field of POST /predict, for one flower and per row of a batch", async () => {
    const { rows, flagged } = await cases();
    const { t } = await start();
    const http = httpClient(`http://127.0.0.1:${t.server.httpPort}`);
    const one = await http.post("/predict", { features: rows.wide });
    expect((one.json as { out_of_range: unknown }).out_of_range).toEqual(inModelOrder(flagged(rows.wide)));
    const batch = await http.post("/predict", { features: [rows.inside, rows.odd] });
    expect((batch.json as { out_of_range: unknown }).out_of_range).toEqual([[], inModelOrder(flagged(rows.odd))]);
  });

  it("are printed by iris predict, locally and remotely, only when a row is out of range", async () => {
    const { rows, flagged } = await cases();
    const file = await modelFile(await shuffledArtifact());
    servers.defer(file.cleanup);
    const { t } = await start();
    const iris = (...args: string[]) =>
      new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
        execFile(process.execPath, ["--import", "tsx", "src/cli/main.ts", "predict", ...args], { cwd: REPO, env: { ...process.env, IRIS_MODEL: "" } }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
        ),
      );
    const input = JSON.stringify([rows.inside, rows.wide]);
    const [local, remote, clean] = await Promise.all([
      iris("--model", file.path, "--input", input),
      iris("--remote", t.address, "--input", input),
      iris("--model", file.path, "--input", JSON.stringify(rows.inside)),
    ]);
    const printed = JSON.parse(local.stdout) as Record<string, unknown>;
    expect(Object.keys(printed)).toEqual(["prediction", "species", "probabilities", "model", "out_of_range"]);
    expect(printed.out_of_range).toEqual([[], inModelOrder(flagged(rows.wide))]);
    expect(remote.stdout).toBe(local.stdout);
    expect(Object.keys(JSON.parse(clean.stdout) as object)).toEqual(["prediction", "species", "probabilities", "model"]);
  });
});
