/**
 * Interoperability of the Open Inference Protocol with an independent
 * client: test/support/oip-client.py drives the server with Python's grpcio
 * through modules protoc generates, at test time, from the specification's
 * own open_inference_grpc.proto (test/fixtures/open-inference-protocol/),
 * and with urllib over REST, including the binary tensor data extension.
 * Expected answers come from the model module.
 */
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { IrisModel } from "../src/model/index.js";
import { expectedOutputs } from "./support/oip.js";
import { irisRows, referenceModel } from "./support/service-fixtures.js";
import { useServer } from "./support/use-servers.js";

const PYTHON = "/usr/bin/python3";
const PROTOC = "/usr/bin/protoc";
const CLIENT = fileURLToPath(new URL("support/oip-client.py", import.meta.url));
const APT = "apt-get install -y python3-grpcio python3-protobuf protobuf-compiler";
const MODEL = "iris-logreg";
const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.2, 2.9, 4.3, 1.3],
  [7.7, 3.0, 6.1, 2.3],
];

function client(...args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [CLIENT, ...args], (err, stdout, stderr) => {
      if (err) reject(new Error(`oip-client.py ${args.join(" ")} failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

beforeAll(async () => {
  // Missing tools are a failure, not a skip: CI installs them.
  await access(PYTHON).catch(() => {
    throw new Error(`${PYTHON} is missing (${APT})`);
  });
  await access(PROTOC).catch(() => {
    throw new Error(`${PROTOC} is missing (${APT})`);
  });
});
const server = useServer({ httpPort: 0 });
const grpcAddress = (): string => server().address;
const httpUrl = (): string => `http://127.0.0.1:${server().server.httpPort}`;
let cachedModel: IrisModel | undefined;
const model = async (): Promise<IrisModel> => (cachedModel ??= await referenceModel());

async function expectedAnswer(rows: number[][], names = ["predict", "predict_proba", "species"]) {
  const outputs = expectedOutputs(await model(), rows);
  return names.map((n) => outputs[n as keyof typeof outputs]);
}

describe("a Python grpcio client built from the specification's proto", () => {
  it("reads ServerReady", async () => {
    expect(await client("ready", grpcAddress())).toEqual({ ready: true });
  });

  it("reads ModelMetadata", async () => {
    const m = await model();
    expect(await client("metadata", grpcAddress(), MODEL)).toEqual({
      name: MODEL,
      versions: [m.version],
      platform: "iris-serve_json",
      inputs: [{ name: "input-0", datatype: "FP64", shape: ["-1", "4"] }],
      outputs: [
        { name: "predict", datatype: "INT64", shape: ["-1"] },
        { name: "predict_proba", datatype: "FP64", shape: ["-1", "3"] },
        { name: "species", datatype: "BYTES", shape: ["-1"] },
        { name: "out_of_range", datatype: "BOOL", shape: ["-1", "4"] },
      ],
      properties: {
        classes: "setosa,versicolor,virginica",
        features: "sepal_length,sepal_width,petal_length,petal_width",
        format: m.artifact.format,
        algorithm: m.artifact.algorithm,
      },
    });
  });

  it("runs ModelInfer with typed contents and gets typed contents back", async () => {
    const m = await model();
    expect(await client("infer", grpcAddress(), MODEL, "FP64", JSON.stringify(ROWS))).toEqual({
      model_name: MODEL,
      model_version: m.version,
      id: "python-1",
      parameters: { client: "grpcio" },
      raw: false,
      outputs: await expectedAnswer(ROWS),
    });
    const integral = [
      [5, 3, 1, 0],
      [7, 3, 6, 2],
    ];
    const int64 = (await client("infer", grpcAddress(), MODEL, "INT64", JSON.stringify(integral), "--outputs", "species,output-0")) as {
      outputs: unknown[];
    };
    const [species, predict] = await expectedAnswer(integral, ["species", "predict"]);
    expect(int64.outputs).toEqual([species, { ...predict, name: "output-0" }]);
  });

  it("runs ModelInfer with raw contents, as tritonclient does, and decodes the raw answer", async () => {
    const { x } = await irisRows();
    const res = (await client("infer", grpcAddress(), MODEL, "FP64", JSON.stringify(x), "--raw")) as { raw: boolean; outputs: unknown[] };
    expect(res.raw).toBe(true);
    // All 150 rows, every probability exactly the model module's.
    expect(res.outputs).toEqual(await expectedAnswer(x));
    const fp32 = [
      [5.5, 3.25, 1.5, 0.25],
      [6.5, 3, 5.5, 2],
    ];
    for (const datatype of ["FP32", "FP16"]) {
      const r = (await client("infer", grpcAddress(), MODEL, datatype, JSON.stringify(fp32), "--raw")) as { outputs: unknown[] };
      expect([datatype, r.outputs]).toEqual([datatype, await expectedAnswer(fp32)]);
    }
  });

  it("gets INVALID_ARGUMENT naming the bad value, and NOT_FOUND for another model", async () => {
    const bad = JSON.stringify([[5.1, 3.5, -1.4, 0.2]]);
    expect(await client("infer", grpcAddress(), MODEL, "FP64", bad, "--raw")).toEqual({
      error: { code: "INVALID_ARGUMENT", details: "raw_input_contents[0][0][2] must be >= 0 cm, got -1.4 (petal_length)" },
    });
    expect(await client("infer", grpcAddress(), MODEL, "FP64", bad)).toEqual({
      error: { code: "INVALID_ARGUMENT", details: "inputs[0].contents.fp64_contents[2] must be >= 0 cm, got -1.4 (petal_length)" },
    });
    expect(await client("metadata", grpcAddress(), "resnet")).toEqual({
      error: { code: "NOT_FOUND", details: `model "resnet" is not served here; this server serves "${MODEL}"` },
    });
  });
});

describe("a Python urllib client over REST", () => {
  it("runs inference with nested JSON data", async () => {
    const m = await model();
    expect(await client("rest-infer", httpUrl(), MODEL, "FP64", JSON.stringify(ROWS))).toEqual({
      model_name: MODEL,
      model_version: m.version,
      id: "python-2",
      outputs: await expectedAnswer(ROWS),
    });
  });

  it("sends binary inputs and reads binary outputs (the binary tensor data extension)", async () => {
    const m = await model();
    const { x } = await irisRows();
    const res = (await client("rest-infer", httpUrl(), MODEL, "FP64", JSON.stringify(x), "--binary-input", "--binary-output")) as {
      outputs: { parameters: { binary_data_size: number } }[];
    };
    const expected = await expectedAnswer(x);
    expect(res).toEqual({
      model_name: MODEL,
      model_version: m.version,
      id: "python-2",
      parameters: { binary_data_output: true },
      outputs: expected.map((o, i) => ({ ...o, parameters: { binary_data_size: res.outputs[i]!.parameters.binary_data_size } })),
    });
    expect(res.outputs.map((o) => o.parameters.binary_data_size)).toEqual([
      150 * 8,
      150 * 3 * 8,
      expected[2]!.data.reduce((n: number, s) => n + 4 + String(s).length, 0),
    ]);
    const int8 = [
      [5, 3, 1, 0],
      [7, 3, 6, 2],
    ];
    const small = (await client("rest-infer", httpUrl(), MODEL, "INT8", JSON.stringify(int8), "--binary-input")) as { outputs: unknown[] };
    expect(small.outputs).toEqual(await expectedAnswer(int8));
  });

  it("gets a 400 naming the bad value", async () => {
    expect(await client("rest-infer", httpUrl(), MODEL, "FP64", JSON.stringify([[5.1, 3.5, 1.4, -0.2]]), "--binary-input")).toEqual({
      status: 400,
      body: {
        error: "inputs[0][0][3] must be >= 0 cm, got -0.2 (petal_width)",
        violations: [{ field: "inputs[0][0][3]", description: "must be >= 0 cm, got -0.2 (petal_width)" }],
      },
    });
  });
});
