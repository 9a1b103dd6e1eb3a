/**
 * Contract tests of the Open Inference Protocol's REST binding (KServe V2)
 * on the HTTP port: a real server on 127.0.0.1:0 called with Node's fetch
 * (and node:http where a request must stay open), including the binary
 * tensor data extension both ways. Every answer is also checked against
 * the server's OpenAPI document (see support/http-client.ts).
 */
import http from "node:http";
import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import type { IrisServiceClient } from "../src/gen/iris.js";
import type { IrisModel } from "../src/model/index.js";
import { call, generatedClient, irisRows, referenceModel } from "./support/service-fixtures.js";
import { httpClient, splitBinaryAnswer, type HttpClient, type HttpResponse } from "./support/http-client.js";
import { FEATURES } from "../src/model/index.js";
import { expectedOutputs, outOfRangeParameters, readBytesElements, readFloat64s, readInt64s, tensorBytes } from "./support/oip.js";
import { useServer, useServers } from "./support/use-servers.js";

const MODEL = "iris-logreg";
const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VERSICOLOR = [6.2, 2.9, 4.3, 1.3];
const VIRGINICA = [7.7, 3.0, 6.1, 2.3];
const ROWS = [SETOSA, VERSICOLOR, VIRGINICA];
const INPUT_FORMS =
  "one tensor [N, 4] (sepal_length, sepal_width, petal_length, petal_width) or four tensors named sepal_length, sepal_width, petal_length, petal_width, each [N] or [N, 1]";

const server = useServer({ httpPort: 0, serverVersion: "1.2.3", maxBatchRows: 1000 });
const client = (): HttpClient => httpClient(`http://127.0.0.1:${server().server.httpPort}`);
let cachedModel: IrisModel | undefined;
const model = async (): Promise<IrisModel> => (cachedModel ??= await referenceModel());
// An iris.v1 client of the same server, for the bit-for-bit comparison.
let irisClient: IrisServiceClient | undefined;
const iris = (): IrisServiceClient => (irisClient ??= generatedClient(server().address));
afterAll(() => irisClient?.close());

function infer(body: unknown, path = `/v2/models/${MODEL}/infer`): Promise<HttpResponse> {
  return client().post(path, typeof body === "string" ? body : JSON.stringify(body), { headers: { "content-type": "application/json" } });
}

/** The whole JSON answer for `rows` with all three outputs (or those named). */
async function answer(rows: number[][], names: string[] = ["predict", "predict_proba", "species"], extra: object = {}) {
  const m = await model();
  const outputs = expectedOutputs(m, rows);
  const given = (extra as { parameters?: object }).parameters;
  const parameters = { ...given, ...outOfRangeParameters(m, rows) };
  return {
    model_name: MODEL,
    model_version: m.version,
    ...extra,
    ...(given !== undefined || Object.keys(parameters).length > 0 ? { parameters } : {}),
    outputs: names.map((n) => outputs[n as keyof typeof outputs]),
  };
}

function invalid(field: string, description: string) {
  return { error: `${field} ${description}`, violations: [{ field, description }] };
}

/** A 400 whose message does not begin with the field's path: the description is the whole message. */
function invalidAs(field: string, message: string) {
  return { error: message, violations: [{ field, description: message }] };
}

function fp64(rows: number[][], name = "input-0") {
  return { name, shape: [rows.length, 4], datatype: "FP64", data: rows.flat() };
}

/** A body using the binary tensor data extension: the JSON, then the bytes; the header gives the JSON's length. */
function binaryBody(json: object, ...parts: Buffer[]): { body: Buffer; headers: Record<string, string> } {
  const head = Buffer.from(JSON.stringify(json));
  return {
    body: Buffer.concat([head, ...parts]),
    headers: { "inference-header-content-length": String(head.length), "content-type": "application/octet-stream" },
  };
}

describe("health and metadata", () => {
  it("is live and ready", async () => {
    const live = await client().get("/v2/health/live");
    expect([live.status, live.json]).toEqual([200, { live: true }]);
    const ready = await client().get("/v2/health/ready");
    expect([ready.status, ready.json]).toEqual([200, { ready: true }]);
  });

  it("gives the server metadata with the binary tensor data extension", async () => {
    const res = await client().get("/v2");
    expect([res.status, res.json]).toEqual([200, { name: "iris-serve", version: "1.2.3", extensions: ["binary_tensor_data"] }]);
  });

  it("gives the model metadata, with or without the version", async () => {
    const m = await model();
    const expected = {
      name: MODEL,
      versions: [m.version],
      platform: "iris-serve_json",
      inputs: [{ name: "input-0", datatype: "FP64", shape: [-1, 4] }],
      outputs: [
        { name: "predict", datatype: "INT64", shape: [-1] },
        { name: "predict_proba", datatype: "FP64", shape: [-1, 3] },
        { name: "species", datatype: "BYTES", shape: [-1] },
        { name: "out_of_range", datatype: "BOOL", shape: [-1, 4] },
      ],
    };
    for (const path of [`/v2/models/${MODEL}`, `/v2/models/${MODEL}/versions/${m.version}`]) {
      const res = await client().get(path);
      expect([res.status, res.json]).toEqual([200, expected]);
    }
  });

  it("says the model is ready, with or without the version", async () => {
    const m = await model();
    for (const path of [`/v2/models/${MODEL}/ready`, `/v2/models/${MODEL}/versions/${m.version}/ready`]) {
      const res = await client().get(path);
      expect([res.status, res.json]).toEqual([200, { name: MODEL, ready: true }]);
    }
  });

  it("answers 404 with an error body for another model name or version on every model route", async () => {
    const m = await model();
    const otherName = { error: `model "resnet" is not served here; this server serves "${MODEL}"` };
    const otherVersion = { error: `model "${MODEL}" has no version "7"; the version served is "${m.version}"` };
    for (const suffix of ["", "/ready"]) {
      const a = await client().get(`/v2/models/resnet${suffix}`);
      expect([a.status, a.json]).toEqual([404, otherName]);
      const b = await client().get(`/v2/models/resnet/versions/${m.version}${suffix}`);
      expect([b.status, b.json]).toEqual([404, otherName]);
      const c = await client().get(`/v2/models/${MODEL}/versions/7${suffix}`);
      expect([c.status, c.json]).toEqual([404, otherVersion]);
    }
    const body = { inputs: [fp64([SETOSA])] };
    const d = await infer(body, "/v2/models/resnet/infer");
    expect([d.status, d.json]).toEqual([404, otherName]);
    const e = await infer(body, `/v2/models/${MODEL}/versions/7/infer`);
    expect([e.status, e.json]).toEqual([404, otherVersion]);
    // The model is looked up first: another model is 404 whatever the body holds.
    const f = await infer({ inputs: [] }, "/v2/models/resnet/infer");
    expect([f.status, f.json]).toEqual([404, otherName]);
  });
});

describe("inference in JSON", () => {
  it("answers one [N, 4] FP64 tensor with all three outputs, flat or nested", async () => {
    const flat = await infer({ inputs: [fp64(ROWS)] });
    expect([flat.status, flat.json]).toEqual([200, await answer(ROWS)]);
    const nested = await infer({ inputs: [{ name: "x", shape: [3, 4], datatype: "FP64", data: ROWS }] });
    expect([nested.status, nested.json]).toEqual([200, await answer(ROWS)]);
  });

  it("answers under the versioned route too", async () => {
    const m = await model();
    const res = await infer({ inputs: [fp64(ROWS)] }, `/v2/models/${MODEL}/versions/${m.version}/infer`);
    expect([res.status, res.json]).toEqual([200, await answer(ROWS)]);
  });

  it("gives every iris row the probabilities iris.v1 BatchPredict gives, bit for bit", async () => {
    const { x } = await irisRows();
    const res = await infer({ inputs: [fp64(x)], outputs: [{ name: "predict_proba" }, { name: "predict" }] });
    expect(res.status).toBe(200);
    const grpc = await call(iris(), iris().batchPredict, {
      omitProbabilities: false,
      flowers: x.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({ sepalLength, sepalWidth, petalLength, petalWidth })),
    });
    if (!grpc.ok) throw grpc.err;
    const outputs = (res.json as { outputs: { data: number[] }[] }).outputs;
    expect(outputs[0]!.data).toEqual(grpc.res.probabilities);
    expect(outputs[1]!.data).toEqual(grpc.res.classIndices);
    expect(outputs[0]!.data.map((p, i) => Object.is(p, grpc.res.probabilities[i]))).not.toContain(false);
  });

  const integral = [
    [5, 3, 1, 0],
    [7, 3, 6, 2],
  ];
  it.each(["FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"])(
    "reads a %s tensor",
    async (datatype) => {
      const res = await infer({ inputs: [{ name: "x", shape: [2, 4], datatype, data: integral.flat() }] });
      expect([res.status, res.json]).toEqual([200, await answer(integral)]);
    },
  );

  it("reads four tensors named after the features, [N] or [N, 1], in any order", async () => {
    const column = (j: number) => ROWS.map((r) => r[j]!);
    const flat = FEATURES.map((name, j) => ({ name, shape: [3], datatype: "FP64", data: column(j) })).reverse();
    const a = await infer({ inputs: flat });
    expect([a.status, a.json]).toEqual([200, await answer(ROWS)]);
    const tall = FEATURES.map((name, j) => ({ name, shape: [3, 1], datatype: j % 2 ? "FP32" : "FP64", data: column(j).map((v) => [v]) }));
    // FP32 data in JSON is read as the number written: the same rows.
    const b = await infer({ inputs: [tall[2], tall[0], tall[3], tall[1]] });
    expect([b.status, b.json]).toEqual([200, await answer(ROWS)]);
  });

  it("answers the outputs asked for, in the order asked, output-0 under that name", async () => {
    const subset = await infer({ inputs: [fp64(ROWS)], outputs: [{ name: "species" }, { name: "predict_proba" }] });
    expect([subset.status, subset.json]).toEqual([200, await answer(ROWS, ["species", "predict_proba"])]);
    const alias = await infer({ inputs: [fp64(ROWS)], outputs: [{ name: "output-0" }] });
    const outputs = expectedOutputs(await model(), ROWS);
    expect([alias.status, alias.json]).toEqual([200, { ...(await answer(ROWS, [])), outputs: [{ ...outputs.predict, name: "output-0" }] }]);
  });

  it("returns the request's id and parameters", async () => {
    const parameters = { trace: "abc", priority: 2, sample: true };
    const res = await infer({ id: "req-42", parameters, inputs: [fp64([SETOSA])] });
    expect([res.status, res.json]).toEqual([200, await answer([SETOSA], undefined, { id: "req-42", parameters })]);
  });
});

describe("inference refuses bad requests with 400 naming the field", () => {
  const one = (input: object) => ({ inputs: [{ name: "x", shape: [1, 4], datatype: "FP64", data: SETOSA, ...input }] });
  const cases: [label: string, body: unknown, expected: unknown][] = [
    ["no inputs", { inputs: [] }, invalid("inputs", "has 0 values, expected at least 1")],
    ["a request without inputs", {}, invalid("inputs", "is required")],
    [
      "a BOOL tensor",
      one({ datatype: "BOOL" }),
      invalid("inputs[0].datatype", "BOOL cannot carry measurements; send a numeric datatype (FP64, FP32, INT64, ...)"),
    ],
    [
      "a BYTES tensor",
      one({ datatype: "BYTES", data: ["5.1", "3.5", "1.4", "0.2"] }),
      invalid("inputs[0].datatype", "BYTES cannot carry measurements; send a numeric datatype (FP64, FP32, INT64, ...)"),
    ],
    [
      "an unknown datatype",
      one({ datatype: "FP8" }),
      invalid(
        "inputs[0].datatype",
        'must be one of "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES", got "FP8"',
      ),
    ],
    ["a rank-1 tensor", one({ shape: [4] }), invalid("inputs[0].shape", `is [4]; the model takes ${INPUT_FORMS}`)],
    ["five columns", one({ shape: [1, 5], data: [...SETOSA, 1] }), invalid("inputs[0].shape", `is [1,5]; the model takes ${INPUT_FORMS}`)],
    ["a rank-3 tensor", one({ shape: [1, 1, 4] }), invalid("inputs[0].shape", `is [1,1,4]; the model takes ${INPUT_FORMS}`)],
    ["no rows", one({ shape: [0, 4], data: [] }), invalidAs("inputs[0].shape", "inputs[0] has no rows; send at least one flower")],
    ["a negative dimension", one({ shape: [-1, 4] }), invalid("inputs[0].shape[0]", "must be >= 0, got -1")],
    ["a fractional dimension", one({ shape: [1.5, 4] }), invalid("inputs[0].shape[0]", "must be an integer, got 1.5")],
    ["too few values", one({ shape: [2, 4], data: [...SETOSA, 1, 2, 3] }), invalid("inputs[0].data", "has 7 values, but shape [2,4] needs 8")],
    ["too many values", one({ data: [...SETOSA, 1] }), invalid("inputs[0].data", "has 5 values, but shape [1,4] needs 4")],
    [
      "ragged nested data",
      one({ shape: [2, 4], data: [SETOSA, [6.2, 2.9, 4.3]] }),
      invalid("inputs[0].data[1]", "must be an array of 4 entries (shape [2,4]), got 3 entries"),
    ],
    [
      "nested data with a number for a row",
      one({ shape: [2, 4], data: [SETOSA, 6.2] }),
      invalid("inputs[0].data[1]", "must be an array of 4 entries (shape [2,4]), got number 6.2"),
    ],
    [
      "nested data deeper than the shape",
      one({ data: [[[5.1], 3.5, 1.4, 0.2]] }),
      invalid("inputs[0].data[0][0]", "must be a number, got an array"),
    ],
    ["no data", { inputs: [{ name: "x", shape: [1, 4], datatype: "FP64" }] }, invalidAs("inputs[0].data", "inputs[0] has no data (nor binary_data_size)")],
    ["data that is not an array", one({ data: "5.1,3.5,1.4,0.2" }), invalid("inputs[0].data", 'must be an array, got "5.1,3.5,1.4,0.2"')],
    ["a string value", one({ data: [5.1, "3.5", 1.4, 0.2] }), invalid("inputs[0].data[1]", 'must be a number, got a string "3.5"')],
    ["a null value", one({ data: [5.1, 3.5, null, 0.2] }), invalid("inputs[0].data[2]", "must be a number, got null")],
    ["a fractional INT64 value", one({ datatype: "INT64", data: [5, 3.5, 1, 0] }), invalid("inputs[0].data[1]", "is 3.5, not a value of datatype INT64")],
    ["a UINT8 value over 255", one({ datatype: "UINT8", data: [5, 3, 300, 0] }), invalid("inputs[0].data[2]", "is 300, not a value of datatype UINT8")],
    ["an INT8 value under -128", one({ datatype: "INT8", data: [5, 3, -200, 0] }), invalid("inputs[0].data[2]", "is -200, not a value of datatype INT8")],
    ["a negative UINT16 value", one({ datatype: "UINT16", data: [5, -3, 1, 0] }), invalid("inputs[0].data[1]", "is -3, not a value of datatype UINT16")],
    ["a negative measurement", one({ data: [5.1, 3.5, -1.4, 0.2] }), invalid("inputs[0].data[2]", "must be >= 0 cm, got -1.4 (petal_length)")],
    [
      "a negative measurement in nested data",
      one({ shape: [2, 4], data: [SETOSA, [6.2, -2.9, 4.3, 1.3]] }),
      invalid("inputs[0].data[1][1]", "must be >= 0 cm, got -2.9 (sepal_width)"),
    ],
    [
      "a negative measurement in flat data of two rows",
      one({ shape: [2, 4], data: [...SETOSA, 6.2, 2.9, 4.3, -1.3] }),
      invalid("inputs[0].data[7]", "must be >= 0 cm, got -1.3 (petal_width)"),
    ],
    ["an infinite measurement (1e999)", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 1e999, 1.4, 0.2]}]}`, invalid("inputs[0].data[1]", "must be finite, got Infinity (sepal_width)")],
    ["an unknown output", { ...one({}), outputs: [{ name: "logits" }] }, invalid("outputs[0].name", '"logits" is not an output of this model (predict, predict_proba, species, out_of_range; output-0 is predict)')],
    ["an output asked for twice", { ...one({}), outputs: [{ name: "species" }, { name: "species" }] }, invalid("outputs[1].name", '"species" is asked for twice')],
    ["an output without a name", { ...one({}), outputs: [{}] }, invalid("outputs[0].name", "is required")],
    ["a non-object body", "[1, 2]", invalid("body", "must be an object, got [1,2]")],
    [
      "a parameter that is an object",
      { ...one({}), parameters: { headers: { a: 1 } } },
      invalid("parameters.headers", 'must be a string, a number or a boolean, got {"a":1}'),
    ],
    [
      "an input parameter that is null",
      one({ parameters: { content_type: null } }),
      invalid("inputs[0].parameters.content_type", "must be a string, a number or a boolean, got null"),
    ],
  ];
  it.each(cases)("%s", async (_label, body, expected) => {
    const res = await infer(body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual(expected);
  });

  const column = (name: string, data: number[], extra: object = {}) => ({ name, shape: [data.length], datatype: "FP64", data, ...extra });
  const columns: [label: string, inputs: object[], expected: unknown][] = [
    [
      "three feature tensors",
      FEATURES.slice(0, 3).map((f) => column(f, [1])),
      invalidAs("inputs", `the request has 3 input tensors ("sepal_length", "sepal_width", "petal_length"); the model takes ${INPUT_FORMS}`),
    ],
    [
      "a tensor not named after a feature",
      [...FEATURES.slice(0, 3).map((f) => column(f, [1])), column("petal", [1])],
      invalidAs("inputs", `the request has 4 input tensors ("sepal_length", "sepal_width", "petal_length", "petal"); the model takes ${INPUT_FORMS}`,
      ),
    ],
    [
      "a feature twice",
      [...FEATURES.map((f) => column(f, [1])), column("petal_width", [1])],
      invalidAs("inputs", `the request has 5 input tensors ("sepal_length", "sepal_width", "petal_length", "petal_width", "petal_width"); the model takes ${INPUT_FORMS}`,
      ),
    ],
    [
      "columns of different lengths",
      FEATURES.map((f, j) => column(f, j === 2 ? [1] : [1, 2])),
      invalidAs("inputs[2].shape", "inputs[2] has 1 rows, but inputs[0] has 2"),
    ],
    [
      "a [N, 2] column",
      FEATURES.map((f, j) => (j === 1 ? { ...column(f, [1, 2]), shape: [1, 2] } : column(f, [1]))),
      invalid("inputs[1].shape", "is [1,2]; a tensor named after a feature is [N] or [N, 1]"),
    ],
    [
      "a negative measurement in a column",
      FEATURES.map((f, j) => column(f, j === 3 ? [0.2, -0.5] : [1, 2])),
      invalid("inputs[3].data[1]", "must be >= 0 cm, got -0.5"),
    ],
    [
      "a negative measurement in an [N, 1] column",
      FEATURES.map((f, j) => ({ name: f, shape: [2, 1], datatype: "FP64", data: j === 0 ? [[1], [-5]] : [[1], [2]] })),
      invalid("inputs[0].data[1][0]", "must be >= 0 cm, got -5"),
    ],
  ];
  it.each(columns)("%s", async (_label, inputs, expected) => {
    const res = await infer({ inputs });
    expect(res.status).toBe(400);
    expect(res.json).toEqual(expected);
  });

  it("lists every bad measurement of a request", async () => {
    const res = await infer({ inputs: [fp64([[5.1, -1, 1.4, 0.2], SETOSA, [-2, 3, 1, -3]])] });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: "inputs[0].data[1] must be >= 0 cm, got -1 (sepal_width) (and 2 more invalid fields)",
      violations: [
        { field: "inputs[0].data[1]", description: "must be >= 0 cm, got -1 (sepal_width)" },
        { field: "inputs[0].data[8]", description: "must be >= 0 cm, got -2 (sepal_length)" },
        { field: "inputs[0].data[11]", description: "must be >= 0 cm, got -3 (petal_width)" },
      ],
    });
  });
});

describe("the binary tensor data extension", () => {
  it("reads an input tensor's values from the bytes after the JSON", async () => {
    for (const datatype of ["FP64", "FP32", "FP16", "INT64", "UINT8", "INT16"]) {
      const rows = datatype === "FP64" ? ROWS : [[5, 3, 1, 0], [7, 3, 6, 2]];
      const bytes = tensorBytes(datatype, rows.flat());
      const { body, headers } = binaryBody(
        { inputs: [{ name: "x", shape: [rows.length, 4], datatype, parameters: { binary_data_size: bytes.length } }] },
        bytes,
      );
      const res = await client().post(`/v2/models/${MODEL}/infer`, body, { headers });
      expect([datatype, res.status, res.json]).toEqual([datatype, 200, await answer(rows)]);
    }
  });

  it("mixes binary and JSON inputs, taking the bytes in input order", async () => {
    const column = (j: number) => ROWS.map((r) => r[j]!);
    const petalLength = tensorBytes("FP64", column(2));
    const sepalLength = tensorBytes("FP32", column(0).map(Math.fround));
    const { body, headers } = binaryBody(
      {
        inputs: [
          { name: "sepal_width", shape: [3], datatype: "FP64", data: column(1) },
          { name: "sepal_length", shape: [3, 1], datatype: "FP32", parameters: { binary_data_size: sepalLength.length } },
          { name: "petal_width", shape: [3], datatype: "FP64", data: column(3) },
          { name: "petal_length", shape: [3], datatype: "FP64", parameters: { binary_data_size: petalLength.length } },
        ],
      },
      sepalLength,
      petalLength,
    );
    const res = await client().post(`/v2/models/${MODEL}/infer`, body, { headers });
    const rows = ROWS.map(([a, b, c, d]) => [Math.fround(a!), b!, c!, d!]);
    expect([res.status, res.json]).toEqual([200, await answer(rows)]);
  });

  it("accepts the header on a body that has no binary part", async () => {
    const { body, headers } = binaryBody({ inputs: [fp64(ROWS)] });
    const res = await client().post(`/v2/models/${MODEL}/infer`, body, { headers });
    expect([res.status, res.json]).toEqual([200, await answer(ROWS)]);
  });

  it("answers an output as bytes when it asks for binary_data, and decodes as INT64, FP64 and BYTES", async () => {
    const m = await model();
    const expected = expectedOutputs(m, ROWS);
    const res = await infer({
      inputs: [fp64(ROWS)],
      outputs: [
        { name: "predict", parameters: { binary_data: true } },
        { name: "species", parameters: { binary_data: true } },
        { name: "predict_proba", parameters: { binary_data: false } },
        { name: "output-0", parameters: { binary_data: true } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(Number(res.headers.get("content-length"))).toBe(res.bytes.length);
    const { json, binary } = splitBinaryAnswer(res);
    const speciesSize = expected.species.data.reduce((n, s) => n + 4 + Buffer.byteLength(s), 0);
    expect(json).toEqual({
      model_name: MODEL,
      model_version: m.version,
      outputs: [
        { name: "predict", datatype: "INT64", shape: [3], parameters: { binary_data_size: 24 } },
        { name: "species", datatype: "BYTES", shape: [3], parameters: { binary_data_size: speciesSize } },
        expected.predict_proba,
        { name: "output-0", datatype: "INT64", shape: [3], parameters: { binary_data_size: 24 } },
      ],
    });
    expect(binary.length).toBe(24 + speciesSize + 24);
    expect(readInt64s(binary.subarray(0, 24))).toEqual(expected.predict.data);
    expect(readBytesElements(binary.subarray(24, 24 + speciesSize))).toEqual(expected.species.data);
    expect(readInt64s(binary.subarray(24 + speciesSize))).toEqual(expected.predict.data);
  });

  it("answers every output as bytes with binary_data_output, unless an output says otherwise", async () => {
    const m = await model();
    const expected = expectedOutputs(m, ROWS);
    const all = await infer({ parameters: { binary_data_output: true }, inputs: [fp64(ROWS)] });
    expect(all.status).toBe(200);
    const { json, binary } = splitBinaryAnswer(all);
    const speciesSize = expected.species.data.reduce((n, s) => n + 4 + Buffer.byteLength(s), 0);
    expect(json).toEqual({
      model_name: MODEL,
      model_version: m.version,
      parameters: { binary_data_output: true },
      outputs: [
        { name: "predict", datatype: "INT64", shape: [3], parameters: { binary_data_size: 24 } },
        { name: "predict_proba", datatype: "FP64", shape: [3, 3], parameters: { binary_data_size: 72 } },
        { name: "species", datatype: "BYTES", shape: [3], parameters: { binary_data_size: speciesSize } },
      ],
    });
    expect(readInt64s(binary.subarray(0, 24))).toEqual(expected.predict.data);
    // Bit for bit: the doubles the JSON answer gives.
    expect(readFloat64s(binary.subarray(24, 96))).toEqual(expected.predict_proba.data);
    expect(readBytesElements(binary.subarray(96))).toEqual(expected.species.data);

    const some = await infer({
      parameters: { binary_data_output: true },
      inputs: [fp64(ROWS)],
      outputs: [{ name: "species", parameters: { binary_data: false } }, { name: "predict" }],
    });
    const split = splitBinaryAnswer(some);
    expect(split.json.outputs).toEqual([expected.species, { name: "predict", datatype: "INT64", shape: [3], parameters: { binary_data_size: 24 } }]);
    expect(readInt64s(split.binary)).toEqual(expected.predict.data);
  });

  it("answers in JSON when no output is binary, even for a binary request", async () => {
    const bytes = tensorBytes("FP64", SETOSA);
    const { body, headers } = binaryBody({ inputs: [{ name: "x", shape: [1, 4], datatype: "FP64", parameters: { binary_data_size: 32 } }] }, bytes);
    const res = await client().post(`/v2/models/${MODEL}/infer`, body, { headers });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("inference-header-content-length")).toBeNull();
    expect(res.json).toEqual(await answer([SETOSA]));
  });

  const input = (parameters: object, extra: object = {}) => ({ name: "x", shape: [1, 4], datatype: "FP64", parameters, ...extra });
  const sizeField = "inputs[0].parameters.binary_data_size";
  const bad: [label: string, json: object, binary: Buffer, expected: unknown][] = [
    [
      "a size larger than the bytes left",
      { inputs: [input({ binary_data_size: 40 })] },
      tensorBytes("FP64", SETOSA),
      invalid(sizeField, "is 40, but only 32 bytes of binary data are left in the body"),
    ],
    [
      "a size that is not a whole number of elements",
      { inputs: [input({ binary_data_size: 31 })] },
      tensorBytes("FP64", SETOSA).subarray(0, 31),
      invalid(sizeField, "is 31 bytes, but 4 FP64 values take 32"),
    ],
    [
      "a size that does not fit the shape",
      { inputs: [input({ binary_data_size: 24 })] },
      tensorBytes("FP64", SETOSA.slice(0, 3)),
      invalid(sizeField, "is 24 bytes, but 4 FP64 values take 32"),
    ],
    [
      "a negative size",
      { inputs: [input({ binary_data_size: -32 })] },
      tensorBytes("FP64", SETOSA),
      invalid(sizeField, "must be a whole number of bytes, got -32"),
    ],
    [
      "a size given as a string",
      { inputs: [input({ binary_data_size: "32" })] },
      tensorBytes("FP64", SETOSA),
      invalid(sizeField, 'must be a whole number of bytes, got "32"'),
    ],
    [
      "bytes left over",
      { inputs: [input({ binary_data_size: 32 })] },
      tensorBytes("FP64", [...SETOSA, 1]),
      invalidAs("inputs", "the body has 8 bytes of binary data that no input claims (binary_data_size of the inputs adds up to 32)"),
    ],
    [
      "both data and binary_data_size",
      { inputs: [input({ binary_data_size: 32 }, { data: SETOSA })] },
      tensorBytes("FP64", SETOSA),
      invalidAs("inputs[0].data", "inputs[0] has both data and binary_data_size; send its values one way"),
    ],
    [
      "a negative measurement in the bytes",
      { inputs: [{ ...input({ binary_data_size: 64 }), shape: [2, 4] }] },
      tensorBytes("FP64", [...SETOSA, 6.2, 2.9, -4.3, 1.3]),
      invalid("inputs[0][1][2]", "must be >= 0 cm, got -4.3 (petal_length)"),
    ],
    [
      "an INT8 tensor whose bytes hold a negative measurement",
      { inputs: [{ ...input({ binary_data_size: 4 }), datatype: "INT8" }] },
      tensorBytes("INT8", [5, 3, -1, 0]),
      invalid("inputs[0][0][2]", "must be >= 0 cm, got -1 (petal_length)"),
    ],
  ];
  it.each(bad)("refuses %s", async (_label, json, binary, expected) => {
    const { body, headers } = binaryBody(json, binary);
    const res = await client().post(`/v2/models/${MODEL}/infer`, body, { headers });
    expect(res.status).toBe(400);
    expect(res.json).toEqual(expected);
  });

  it("refuses a header larger than the body, or not a number", async () => {
    const body = Buffer.from(JSON.stringify({ inputs: [fp64([SETOSA])] }));
    for (const header of [String(body.length + 1), "abc", "-5", "12.5"]) {
      const res = await client().post(`/v2/models/${MODEL}/infer`, body, { headers: { "inference-header-content-length": header } });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        error: `the Inference-Header-Content-Length header must be the JSON part's length in bytes, at most the body's ${body.length}; got ${JSON.stringify(header)}`,
      });
    }
  });

  it("refuses a header that cuts the JSON short", async () => {
    const { body, headers } = binaryBody({ inputs: [fp64([SETOSA])] });
    const res = await client().post(`/v2/models/${MODEL}/infer`, body, {
      headers: { ...headers, "inference-header-content-length": String(body.length - 2) },
    });
    expect(res.status).toBe(400);
    const cut = body.subarray(0, body.length - 2).toString();
    let parseError = "";
    try {
      JSON.parse(cut);
    } catch (err) {
      parseError = (err as Error).message;
    }
    expect(res.json).toEqual(invalid("body", `is not valid JSON: ${parseError}`));
  });

  it("refuses binary_data_size without the header", async () => {
    const body = JSON.stringify({ inputs: [input({ binary_data_size: 32 })] });
    const res = await infer(body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual(
      invalid(
        sizeField,
        "is set, but the request has no binary part (send the inference-header-content-length header with the JSON part's length)",
      ),
    );
  });
});

describe("limits", () => {
  const limited = useServer({ httpPort: 0, maxBatchRows: 2, maxReceiveBytes: 4096 });
  const small = (): HttpClient => httpClient(`http://127.0.0.1:${limited().server.httpPort}`);

  it("answers 413 to more rows than the limit, in one tensor or in columns", async () => {
    const one = await small().post(`/v2/models/${MODEL}/infer`, { inputs: [fp64(ROWS)] });
    expect([one.status, one.json]).toEqual([413, { error: "inputs[0] has 3 rows, over the limit of 2 rows per call; split it into smaller batches" }]);
    const columns = FEATURES.map((name, j) => ({ name, shape: [3], datatype: "FP64", data: ROWS.map((r) => r[j]) }));
    const four = await small().post(`/v2/models/${MODEL}/infer`, { inputs: columns });
    expect([four.status, four.json]).toEqual([413, { error: "inputs[0] has 3 rows, over the limit of 2 rows per call; split it into smaller batches" }]);
  });

  it("answers 413 to a body over the size limit", async () => {
    const rows = Array.from({ length: 400 }, () => SETOSA);
    const res = await small().post(`/v2/models/${MODEL}/infer`, { inputs: [fp64(rows)] });
    expect([res.status, res.json]).toEqual([413, { error: "the request body is larger than the server's limit of 4096 bytes" }]);
  });
});

describe("readiness", () => {
  const servers = useServers();

  it("is not ready without a model, and ready once one is swapped in", async () => {
    const { server: s, holder } = await servers.start({ model: null, httpPort: 0 });
    const c = httpClient(`http://127.0.0.1:${s.httpPort}`);
    const live = await c.get("/v2/health/live");
    expect([live.status, live.json]).toEqual([200, { live: true }]);
    const ready = await c.get("/v2/health/ready");
    expect([ready.status, ready.json]).toEqual([503, { ready: false }]);
    const modelReady = await c.get(`/v2/models/${MODEL}/ready`);
    expect([modelReady.status, modelReady.json]).toEqual([503, { name: MODEL, ready: false }]);
    const noModel = { error: "no model is loaded yet; retry shortly" };
    const metadata = await c.get(`/v2/models/${MODEL}`);
    expect([metadata.status, metadata.json]).toEqual([503, noModel]);
    const inferred = await c.post(`/v2/models/${MODEL}/infer`, { inputs: [fp64([SETOSA])] });
    expect([inferred.status, inferred.json]).toEqual([503, noModel]);
    const invalid = await c.post(`/v2/models/${MODEL}/infer`, { inputs: "none" });
    expect([invalid.status, invalid.json]).toEqual([503, noModel]);
    const server = await c.get("/v2");
    expect(server.status).toBe(200);

    const m = await model();
    holder.swap(m);
    const after = await c.get("/v2/health/ready");
    expect([after.status, after.json]).toEqual([200, { ready: true }]);
    const afterModel = await c.get(`/v2/models/${MODEL}/ready`);
    expect([afterModel.status, afterModel.json]).toEqual([200, { name: MODEL, ready: true }]);
    const answered = await c.post(`/v2/models/${MODEL}/infer`, { inputs: [fp64([SETOSA])] });
    expect([answered.status, answered.json]).toEqual([200, await answer([SETOSA])]);
    holder.swap(undefined);
    const unloaded = await c.get("/v2/health/ready");
    expect([unloaded.status, unloaded.json]).toEqual([503, { ready: false }]);
  });

  it("serves the model under the name it is given", async () => {
    const { server: s } = await servers.start({ httpPort: 0, modelName: "iris" });
    const c = httpClient(`http://127.0.0.1:${s.httpPort}`);
    const metadata = await c.get("/v2/models/iris");
    expect([metadata.status, (metadata.json as { name: string }).name]).toEqual([200, "iris"]);
    const res = await c.post("/v2/models/iris/infer", { inputs: [fp64([SETOSA])] });
    expect([res.status, res.json]).toEqual([200, { ...(await answer([SETOSA])), model_name: "iris" }]);
    const old = await c.get(`/v2/models/${MODEL}/ready`);
    expect([old.status, old.json]).toEqual([404, { error: `model "${MODEL}" is not served here; this server serves "iris"` }]);
  });

  it("while draining: not ready, every answer closes its connection, and new requests get 503", async () => {
    const { server: s } = await servers.start({ httpPort: 0 });
    const c = httpClient(`http://127.0.0.1:${s.httpPort}`);
    const before = await c.get("/v2/health/ready");
    expect([before.status, before.headers.get("connection")]).toEqual([200, "keep-alive"]);
    s.readiness.drain();
    const ready = await c.get("/v2/health/ready");
    expect([ready.status, ready.json, ready.headers.get("connection")]).toEqual([503, { ready: false }, "close"]);
    const modelReady = await c.get(`/v2/models/${MODEL}/ready`);
    expect([modelReady.status, modelReady.json]).toEqual([503, { name: MODEL, ready: false }]);
    const live = await c.get("/v2/health/live");
    expect([live.status, live.json, live.headers.get("connection")]).toEqual([200, { live: true }, "close"]);
    const stopping = { error: "the server is shutting down; retry the request on another instance" };
    const inferred = await c.post(`/v2/models/${MODEL}/infer`, { inputs: [fp64([SETOSA])] });
    expect([inferred.status, inferred.json, inferred.headers.get("connection")]).toEqual([503, stopping, "close"]);
    const predicted = await c.post("/predict", { features: SETOSA });
    expect([predicted.status, predicted.json]).toEqual([503, stopping]);
  });

  it("on shutdown: not ready first, the request in flight is answered, new connections are refused", async () => {
    const { server: s } = await servers.start({ httpPort: 0 });
    const port = s.httpPort!;
    const events: string[] = [];
    s.readiness.onChange((ready) => events.push(`ready=${ready}`));
    const agent = new http.Agent({ keepAlive: true });
    servers.defer(() => agent.destroy());
    const body = JSON.stringify({ inputs: [fp64(ROWS)] });
    const request = http.request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: `/v2/models/${MODEL}/infer`,
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    // The headers and half the body: the server has the request and waits for the rest.
    const arrived = once(s.http!.app.server, "request");
    request.write(body.slice(0, 20));
    await arrived;

    const stopped = s.shutdown(30_000);
    expect(s.readiness.ready).toBe(false);
    const refused = await fetch(`http://127.0.0.1:${port}/v2/health/ready`).then(
      (r) => `answered ${r.status}`,
      (err: Error & { cause?: { code?: string } }) => err.cause?.code,
    );
    expect(refused).toBe("ECONNREFUSED");

    const responded = once(request, "response") as Promise<[http.IncomingMessage]>;
    request.end(body.slice(20));
    const [response] = await responded;
    events.push(`answered ${response.statusCode}`);
    let text = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => (text += chunk));
    await once(response, "end");
    expect(JSON.parse(text)).toEqual(await answer(ROWS));
    // The answer tells the client not to send anything more on this connection.
    expect(response.headers.connection).toBe("close");
    expect(events).toEqual(["ready=false", "answered 200"]);
    expect(await stopped).toEqual({ forced: false });
  });
});
