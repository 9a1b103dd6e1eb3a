/**
 * Contract tests of the Open Inference Protocol's gRPC binding,
 * inference.GRPCInferenceService: a real server on 127.0.0.1:0 called
 * through the generated client, with typed contents and with raw contents,
 * plus its health status and its description over reflection.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { Code } from "../src/errors.js";
import {
  GRPCInferenceServiceClient,
  ModelInferRequest,
  type InferTensorContents,
  type ModelInferRequest_InferInputTensor,
  type ModelInferResponse,
} from "../src/gen/inference/open_inference_grpc.js";
import type { IrisServiceClient } from "../src/gen/iris.js";
import type { IrisModel } from "../src/model/index.js";
import { decodeRpcStatus, STATUS_DETAILS_KEY } from "../src/rpc/status-details.js";
import { FEATURES } from "../src/model/index.js";
import { expectedOutputs, outOfRangeParameters, readBytesElements, readFloat64s, readInt64s, tensorBytes } from "./support/oip.js";
import { call, generatedClient, healthCheck, healthClient, irisRows, referenceModel, reflect } from "./support/service-fixtures.js";
import { useServer, useServers } from "./support/use-servers.js";

const MODEL = "iris-logreg";
const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VERSICOLOR = [6.2, 2.9, 4.3, 1.3];
const VIRGINICA = [7.7, 3.0, 6.1, 2.3];
const ROWS = [SETOSA, VERSICOLOR, VIRGINICA];
const INPUT_FORMS =
  "one tensor [N, 4] (sepal_length, sepal_width, petal_length, petal_width) or four tensors named sepal_length, sepal_width, petal_length, petal_width, each [N] or [N, 1]";

const EMPTY: InferTensorContents = {
  boolContents: [],
  intContents: [],
  int64Contents: [],
  uintContents: [],
  uint64Contents: [],
  fp32Contents: [],
  fp64Contents: [],
  bytesContents: [],
};

const server = useServer({ serverVersion: "2.0.0", maxBatchRows: 1000 });
const clients: { close(): void }[] = [];
afterAll(() => clients.forEach((c) => c.close()));
function inferenceClient(address: string): GRPCInferenceServiceClient {
  const c = new GRPCInferenceServiceClient(address, credentials.createInsecure());
  clients.push(c);
  return c;
}
let shared: GRPCInferenceServiceClient | undefined;
const oip = (): GRPCInferenceServiceClient => (shared ??= inferenceClient(server().address));
let sharedIris: IrisServiceClient | undefined;
const iris = (): IrisServiceClient => {
  if (sharedIris === undefined) {
    sharedIris = generatedClient(server().address);
    clients.push(sharedIris);
  }
  return sharedIris;
};
function generatedHealth(address: string) {
  const h = healthClient(address);
  clients.push(h);
  return h;
}
let cachedModel: IrisModel | undefined;
const model = async (): Promise<IrisModel> => (cachedModel ??= await referenceModel());

type InferRequest = Omit<Partial<ModelInferRequest>, "outputs"> & { outputs?: { name: string }[] };

function modelInfer(request: InferRequest, c = oip()) {
  const full: ModelInferRequest = {
    modelName: MODEL,
    modelVersion: "",
    id: "",
    parameters: {},
    inputs: [],
    rawInputContents: [],
    ...request,
    outputs: (request.outputs ?? []).map((o) => ({ parameters: {}, ...o })),
  };
  return call(c, c.modelInfer, full);
}

async function answered<T>(result: Promise<{ ok: true; res: T } | { ok: false; err: ServiceError }>): Promise<T> {
  const r = await result;
  if (!r.ok) throw r.err;
  return r.res;
}

/** Fails unless the call failed with `code`; returns its message and its google.rpc.BadRequest violations. */
async function failure(result: Promise<{ ok: true } | { ok: false; err: ServiceError }>, code: Code) {
  const r = await result;
  if (r.ok) throw new Error(`expected status ${code}, the call succeeded`);
  expect(r.err.code, r.err.details).toBe(code);
  const bin = r.err.metadata.get(STATUS_DETAILS_KEY)[0];
  const status = bin instanceof Buffer ? decodeRpcStatus(bin) : undefined;
  if (status !== undefined) expect([status.code, status.message]).toEqual([code, r.err.details]);
  return { message: r.err.details, violations: status?.violations ?? [] };
}

/** The typed-contents answer for `rows`: each output's values in the field of its datatype. */
async function typedAnswer(rows: number[][], extra: Partial<ModelInferResponse> = {}): Promise<ModelInferResponse> {
  const m = await model();
  const o = expectedOutputs(m, rows);
  const { out_of_range_rows: outOfRangeRows } = outOfRangeParameters(m, rows);
  return {
    modelName: MODEL,
    modelVersion: m.version,
    id: "",
    parameters: outOfRangeRows === undefined ? {} : { out_of_range_rows: { int64Param: outOfRangeRows } },
    outputs: [
      { name: "predict", datatype: "INT64", shape: o.predict.shape, parameters: {}, contents: { ...EMPTY, int64Contents: o.predict.data } },
      {
        name: "predict_proba",
        datatype: "FP64",
        shape: o.predict_proba.shape,
        parameters: {},
        contents: { ...EMPTY, fp64Contents: o.predict_proba.data },
      },
      {
        name: "species",
        datatype: "BYTES",
        shape: o.species.shape,
        parameters: {},
        contents: { ...EMPTY, bytesContents: o.species.data.map((s) => Buffer.from(s)) },
      },
    ],
    rawOutputContents: [],
    ...extra,
  };
}

function tensor(datatype: string, shape: number[], contents?: Partial<InferTensorContents>): ModelInferRequest_InferInputTensor {
  return { name: "input-0", datatype, shape, parameters: {}, contents: contents === undefined ? undefined : { ...EMPTY, ...contents } };
}

describe("health and metadata", () => {
  it("is live and ready, and so is the model, with or without its version", async () => {
    const m = await model();
    expect(await answered(call(oip(), oip().serverLive, {}))).toEqual({ live: true });
    expect(await answered(call(oip(), oip().serverReady, {}))).toEqual({ ready: true });
    expect(await answered(call(oip(), oip().modelReady, { name: MODEL, version: "" }))).toEqual({ ready: true });
    expect(await answered(call(oip(), oip().modelReady, { name: MODEL, version: m.version }))).toEqual({ ready: true });
  });

  it("gives the server metadata with its extensions", async () => {
    expect(await answered(call(oip(), oip().serverMetadata, {}))).toEqual({
      name: "iris-serve",
      version: "2.0.0",
      extensions: ["binary_tensor_data"],
    });
  });

  it("gives the model metadata with its properties", async () => {
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
      properties: {
        classes: "setosa,versicolor,virginica",
        features: FEATURES.join(","),
        format: m.artifact.format,
        algorithm: m.artifact.algorithm,
      },
    };
    expect(await answered(call(oip(), oip().modelMetadata, { name: MODEL, version: "" }))).toEqual(expected);
    expect(await answered(call(oip(), oip().modelMetadata, { name: MODEL, version: m.version }))).toEqual(expected);
  });

  it("answers NOT_FOUND for another model name or version on every model method", async () => {
    const m = await model();
    const otherName = `model "resnet" is not served here; this server serves "${MODEL}"`;
    const otherVersion = `model "${MODEL}" has no version "7"; the version served is "${m.version}"`;
    for (const [name, version, message] of [
      ["resnet", "", otherName],
      ["resnet", m.version, otherName],
      [MODEL, "7", otherVersion],
    ]) {
      const ready = await failure(call(oip(), oip().modelReady, { name: name!, version: version! }), Code.NOT_FOUND);
      expect([ready.message, ready.violations]).toEqual([message, []]);
      const metadata = await failure(call(oip(), oip().modelMetadata, { name: name!, version: version! }), Code.NOT_FOUND);
      expect([metadata.message, metadata.violations]).toEqual([message, []]);
    }
    const inputs = [tensor("FP64", [1, 4], { fp64Contents: SETOSA })];
    expect((await failure(modelInfer({ modelName: "resnet", inputs }), Code.NOT_FOUND)).message).toBe(otherName);
    expect((await failure(modelInfer({ modelVersion: "7", inputs }), Code.NOT_FOUND)).message).toBe(otherVersion);
  });

  it("reports inference.GRPCInferenceService's health, and reflection describes it", async () => {
    const h = generatedHealth(server().address);
    expect(await healthCheck(h, "inference.GRPCInferenceService")).toBe("SERVING");
    const res = await reflect(server().address, { fileContainingSymbol: "inference.GRPCInferenceService" });
    const files = res.fileDescriptorResponse!.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    expect(files.map((f) => f.name)).toEqual(["inference/open_inference_grpc.proto"]);
    const [file] = files;
    expect(file!.package).toBe("inference");
    expect(file!.service.map((s) => [s.name, s.method.map((m) => m.name)])).toEqual([
      ["GRPCInferenceService", ["ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"]],
    ]);
    const inferRequest = file!.messageType.find((m) => m.name === "ModelInferRequest")!;
    expect(inferRequest.field.map((f) => [f.name, f.number])).toEqual([
      ["model_name", 1],
      ["model_version", 2],
      ["id", 3],
      ["parameters", 4],
      ["inputs", 5],
      ["outputs", 6],
      ["raw_input_contents", 7],
    ]);
    const symbol = await reflect(server().address, { fileContainingSymbol: "inference.InferTensorContents" });
    expect(symbol.fileDescriptorResponse!.fileDescriptorProto.length).toBe(1);
  });
});

describe("ModelInfer with typed contents", () => {
  it("answers FP64 contents in typed contents, equal to the model module", async () => {
    const res = await answered(modelInfer({ inputs: [tensor("FP64", [3, 4], { fp64Contents: ROWS.flat() })] }));
    expect(res).toEqual(await typedAnswer(ROWS));
  });

  const integral = [
    [5, 3, 1, 0],
    [7, 3, 6, 2],
  ];
  it.each([
    ["FP32", "fp32Contents"],
    ["INT64", "int64Contents"],
    ["INT32", "intContents"],
    ["INT16", "intContents"],
    ["INT8", "intContents"],
    ["UINT64", "uint64Contents"],
    ["UINT32", "uintContents"],
    ["UINT16", "uintContents"],
    ["UINT8", "uintContents"],
  ] as const)("reads %s from %s", async (datatype, field) => {
    const res = await answered(modelInfer({ inputs: [tensor(datatype, [2, 4], { [field]: integral.flat() })] }));
    expect(res).toEqual(await typedAnswer(integral));
  });

  it("reads FP32 values as the float32 the client sent", async () => {
    // fp32_contents carries float32: 5.1 arrives as Math.fround(5.1).
    const res = await answered(modelInfer({ inputs: [tensor("FP32", [3, 4], { fp32Contents: ROWS.flat() })] }));
    expect(res).toEqual(await typedAnswer(ROWS.map((r) => r.map(Math.fround))));
  });

  it("reads four feature tensors, [N] and [N, 1], in any order", async () => {
    const inputs = FEATURES.map((name, j) => ({
      ...tensor("FP64", j % 2 ? [3] : [3, 1], { fp64Contents: ROWS.map((r) => r[j]!) }),
      name,
    })).reverse();
    expect(await answered(modelInfer({ inputs }))).toEqual(await typedAnswer(ROWS));
  });

  it("answers the outputs asked for, in order, output-0 under that name, with id and parameters", async () => {
    const full = await typedAnswer(ROWS);
    const parameters = { trace: { stringParam: "abc" }, priority: { int64Param: 2 }, sample: { boolParam: true } };
    const res = await answered(
      modelInfer({
        id: "req-7",
        parameters,
        inputs: [tensor("FP64", [3, 4], { fp64Contents: ROWS.flat() })],
        outputs: [{ name: "species" }, { name: "output-0" }],
      }),
    );
    expect(res).toEqual({ ...full, id: "req-7", parameters, outputs: [full.outputs[2], { ...full.outputs[0], name: "output-0" }] });
  });

  it("gives every iris row BatchPredict's probabilities, bit for bit", async () => {
    const { x } = await irisRows();
    const batch = await answered(
      call(iris(), iris().batchPredict, {
        omitProbabilities: false,
        flowers: x.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({ sepalLength, sepalWidth, petalLength, petalWidth })),
      }),
    );
    const res = await answered(modelInfer({ inputs: [tensor("FP64", [x.length, 4], { fp64Contents: x.flat() })], outputs: [{ name: "predict_proba" }, { name: "predict" }] }));
    const probabilities = res.outputs[0]!.contents!.fp64Contents;
    expect(probabilities.length).toBe(batch.probabilities.length);
    expect(probabilities.every((p, i) => Object.is(p, batch.probabilities[i]))).toBe(true);
    expect(res.outputs[1]!.contents!.int64Contents).toEqual(batch.classIndices);
  });
});

describe("ModelInfer with raw contents", () => {
  it("answers raw FP64 input in raw_output_contents, decoded as INT64, FP64 and BYTES", async () => {
    const m = await model();
    const o = expectedOutputs(m, ROWS);
    const res = await answered(modelInfer({ inputs: [tensor("FP64", [3, 4])], rawInputContents: [tensorBytes("FP64", ROWS.flat())] }));
    expect(res.outputs).toEqual([
      { name: "predict", datatype: "INT64", shape: [3], parameters: {}, contents: undefined },
      { name: "predict_proba", datatype: "FP64", shape: [3, 3], parameters: {}, contents: undefined },
      { name: "species", datatype: "BYTES", shape: [3], parameters: {}, contents: undefined },
    ]);
    expect(res.rawOutputContents.length).toBe(3);
    const [predict, proba, species] = res.rawOutputContents as [Buffer, Buffer, Buffer];
    expect(readInt64s(predict)).toEqual(o.predict.data);
    expect(readFloat64s(proba)).toEqual(o.predict_proba.data);
    expect(readBytesElements(species)).toEqual(o.species.data);
    expect(species.length).toBe(o.species.data.reduce((n, s) => n + 4 + s.length, 0));
    expect([res.modelName, res.modelVersion]).toEqual([MODEL, m.version]);
  });

  it.each(["FP32", "FP16", "INT64", "INT32", "UINT8", "INT8", "UINT64"])("reads raw %s", async (datatype) => {
    const rows = [
      [5.5, 3.25, 1.5, 0.25],
      [7, 3, 6, 2],
    ];
    const values = datatype.startsWith("FP") ? rows : rows.map((r) => r.map(Math.floor));
    const res = await answered(modelInfer({ inputs: [tensor(datatype, [2, 4])], rawInputContents: [tensorBytes(datatype, values.flat())], outputs: [{ name: "predict_proba" }] }));
    expect(readFloat64s(res.rawOutputContents[0] as Buffer)).toEqual(expectedOutputs(await model(), values).predict_proba.data);
  });

  it("reads raw feature tensors, one entry per input", async () => {
    const inputs = FEATURES.map((name) => ({ ...tensor("FP64", [3]), name }));
    const raw = FEATURES.map((_, j) => tensorBytes("FP64", ROWS.map((r) => r[j]!)));
    const res = await answered(modelInfer({ inputs, rawInputContents: raw, outputs: [{ name: "species" }] }));
    expect(readBytesElements(res.rawOutputContents[0] as Buffer)).toEqual(expectedOutputs(await model(), ROWS).species.data);
  });

  it("gives every iris row BatchPredict's probabilities, bit for bit", async () => {
    const { x } = await irisRows();
    const batch = await answered(
      call(iris(), iris().batchPredict, {
        omitProbabilities: false,
        flowers: x.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({ sepalLength, sepalWidth, petalLength, petalWidth })),
      }),
    );
    const res = await answered(
      modelInfer({ inputs: [tensor("FP64", [x.length, 4])], rawInputContents: [tensorBytes("FP64", x.flat())], outputs: [{ name: "predict_proba" }] }),
    );
    const probabilities = readFloat64s(res.rawOutputContents[0] as Buffer);
    expect(probabilities.length).toBe(batch.probabilities.length);
    expect(probabilities.every((p, i) => Object.is(p, batch.probabilities[i]))).toBe(true);
  });
});

describe("ModelInfer refuses bad requests with INVALID_ARGUMENT and google.rpc.BadRequest", () => {
  const fp64 = (values: number[], shape = [1, 4]) => tensor("FP64", shape, { fp64Contents: values });
  const cases: [label: string, request: InferRequest, field: string, message: string, description?: string][] = [
    ["no inputs", {}, "inputs", `the request has no inputs; the model takes ${INPUT_FORMS}`],
    [
      "contents in the wrong field for the datatype",
      { inputs: [tensor("FP64", [1, 4], { fp32Contents: SETOSA })] },
      "inputs[0].contents.fp32_contents",
      "inputs[0].contents has fp32_contents, but datatype FP64 travels in fp64_contents",
    ],
    [
      "INT32 values in int64_contents",
      { inputs: [tensor("INT32", [1, 4], { int64Contents: [5, 3, 1, 0] })] },
      "inputs[0].contents.int64_contents",
      "inputs[0].contents has int64_contents, but datatype INT32 travels in int_contents",
    ],
    [
      "too few values",
      { inputs: [fp64([5.1, 3.5, 1.4])] },
      "inputs[0].contents.fp64_contents",
      "inputs[0].contents.fp64_contents has 3 values, but the shape needs 4",
    ],
    ["no contents at all", { inputs: [tensor("FP64", [1, 4])] }, "inputs[0].contents.fp64_contents", "inputs[0].contents.fp64_contents has 0 values, but the shape needs 4"],
    [
      "FP16 in contents",
      { inputs: [tensor("FP16", [1, 4], { fp32Contents: SETOSA })] },
      "inputs[0].contents",
      "inputs[0]: FP16 values travel only in raw_input_contents (contents has no 16-bit float field)",
    ],
    [
      "an INT8 value out of range",
      { inputs: [tensor("INT8", [1, 4], { intContents: [5, 3, 200, 0] })] },
      "inputs[0].contents.int_contents[2]",
      "inputs[0].contents.int_contents[2] is 200, not a value of datatype INT8",
    ],
    [
      "a UINT16 value out of range",
      { inputs: [tensor("UINT16", [1, 4], { uintContents: [5, 70000, 1, 0] })] },
      "inputs[0].contents.uint_contents[1]",
      "inputs[0].contents.uint_contents[1] is 70000, not a value of datatype UINT16",
    ],
    [
      "a BOOL tensor",
      { inputs: [tensor("BOOL", [1, 4], { boolContents: [true, true, true, true] })] },
      "inputs[0].datatype",
      "inputs[0].datatype BOOL cannot carry measurements; send a numeric datatype (FP64, FP32, INT64, ...)",
    ],
    [
      "a BYTES tensor",
      { inputs: [tensor("BYTES", [1, 4], { bytesContents: [Buffer.from("5.1")] })] },
      "inputs[0].datatype",
      "inputs[0].datatype BYTES cannot carry measurements; send a numeric datatype (FP64, FP32, INT64, ...)",
    ],
    [
      "an unknown datatype",
      { inputs: [tensor("FLOAT64", [1, 4], { fp64Contents: SETOSA })] },
      "inputs[0].datatype",
      'inputs[0].datatype "FLOAT64" is not a datatype of the protocol (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES)',
    ],
    ["a rank-1 tensor", { inputs: [fp64(SETOSA, [4])] }, "inputs[0].shape", `inputs[0].shape is [4]; the model takes ${INPUT_FORMS}`],
    ["a negative dimension", { inputs: [fp64(SETOSA, [-1, 4])] }, "inputs[0].shape[0]", "inputs[0].shape[0] must be a whole number >= 0, got -1"],
    ["no rows", { inputs: [fp64([], [0, 4])] }, "inputs[0].shape", "inputs[0] has no rows; send at least one flower"],
    [
      "a negative measurement",
      { inputs: [fp64([...SETOSA, 6.2, 2.9, -4.3, 1.3], [2, 4])] },
      "inputs[0].contents.fp64_contents[6]",
      "inputs[0].contents.fp64_contents[6] must be >= 0 cm, got -4.3 (petal_length)",
    ],
    ["a NaN measurement", { inputs: [fp64([5.1, NaN, 1.4, 0.2])] }, "inputs[0].contents.fp64_contents[1]", "inputs[0].contents.fp64_contents[1] must be a number, got NaN (sepal_width)"],
    [
      "an infinite measurement",
      { inputs: [fp64([5.1, 3.5, 1.4, Infinity])] },
      "inputs[0].contents.fp64_contents[3]",
      "inputs[0].contents.fp64_contents[3] must be finite, got Infinity (petal_width)",
    ],
    [
      "a negative measurement in a feature tensor",
      { inputs: FEATURES.map((name, j) => ({ ...tensor("FP64", [2], { fp64Contents: j === 1 ? [3, -1] : [1, 2] }), name })) },
      "inputs[1].contents.fp64_contents[1]",
      "inputs[1].contents.fp64_contents[1] must be >= 0 cm, got -1",
    ],
    [
      "raw contents for some inputs only",
      { inputs: [fp64(SETOSA), fp64(SETOSA)], rawInputContents: [tensorBytes("FP64", SETOSA)] },
      "raw_input_contents",
      "raw_input_contents has 1 entries, but there are 2 inputs; give one per input, in order",
      "must have one entry per input",
    ],
    [
      "raw contents and typed contents",
      { inputs: [fp64(SETOSA)], rawInputContents: [tensorBytes("FP64", SETOSA)] },
      "inputs[0].contents",
      "inputs[0].contents is set, but the request uses raw_input_contents; send values one way only",
      "must be empty with raw_input_contents",
    ],
    [
      "raw contents of the wrong size",
      { inputs: [tensor("FP64", [1, 4])], rawInputContents: [tensorBytes("FP32", SETOSA)] },
      "raw_input_contents[0]",
      "raw_input_contents[0] is 16 bytes, but 4 FP64 values take 32",
    ],
    [
      "a negative measurement in raw contents",
      { inputs: [tensor("FP64", [2, 4])], rawInputContents: [tensorBytes("FP64", [...SETOSA, 6.2, -2.9, 4.3, 1.3])] },
      "raw_input_contents[0][1][1]",
      "raw_input_contents[0][1][1] must be >= 0 cm, got -2.9 (sepal_width)",
    ],
    [
      "an unknown output",
      { inputs: [fp64(SETOSA)], outputs: [{ name: "logits" }] },
      "outputs[0].name",
      'outputs[0].name "logits" is not an output of this model (predict, predict_proba, species, out_of_range; output-0 is predict)',
    ],
    [
      "an output asked for twice",
      { inputs: [fp64(SETOSA)], outputs: [{ name: "predict" }, { name: "predict" }] },
      "outputs[1].name",
      'outputs[1].name "predict" is asked for twice',
    ],
  ];
  it.each(cases)("%s", async (_label, request, field, message, description) => {
    const { message: got, violations } = await failure(modelInfer(request), Code.INVALID_ARGUMENT);
    expect(got).toBe(message);
    // The description is the message without the field's path, unless it says more.
    description ??= message.startsWith(`${field} `) ? message.slice(field.length + 1) : message;
    expect(violations).toEqual([{ field, description }]);
  });

  it("lists every bad measurement in the details", async () => {
    const { message, violations } = await failure(
      modelInfer({ inputs: [tensor("FP64", [2, 4])], rawInputContents: [tensorBytes("FP64", [-5.1, 3.5, 1.4, 0.2, 6.2, 2.9, -4.3, -1.3])] }),
      Code.INVALID_ARGUMENT,
    );
    expect(message).toBe("raw_input_contents[0][0][0] must be >= 0 cm, got -5.1 (sepal_length) (and 2 more invalid fields)");
    expect(violations).toEqual([
      { field: "raw_input_contents[0][0][0]", description: "must be >= 0 cm, got -5.1 (sepal_length)" },
      { field: "raw_input_contents[0][1][2]", description: "must be >= 0 cm, got -4.3 (petal_length)" },
      { field: "raw_input_contents[0][1][3]", description: "must be >= 0 cm, got -1.3 (petal_width)" },
    ]);
  });
});

describe("limits and readiness", () => {
  const servers = useServers();

  it("answers RESOURCE_EXHAUSTED to more rows than the limit", async () => {
    const { address } = await servers.start({ maxBatchRows: 2 });
    const c = inferenceClient(address);
    const { message } = await failure(modelInfer({ inputs: [tensor("FP64", [3, 4], { fp64Contents: ROWS.flat() })] }, c), Code.RESOURCE_EXHAUSTED);
    expect(message).toBe("inputs[0] has 3 rows, over the limit of 2 rows per call; split it into smaller batches");
  });

  it("answers RESOURCE_EXHAUSTED to a message over the size limit", async () => {
    const { address } = await servers.start({ maxReceiveBytes: 1024 });
    const c = inferenceClient(address);
    const rows = Array.from({ length: 64 }, () => SETOSA).flat();
    const request = { inputs: [tensor("FP64", [64, 4])], rawInputContents: [tensorBytes("FP64", rows)] };
    const size = ModelInferRequest.encode({ ...ModelInferRequest.fromPartial({}), ...request, modelName: MODEL }).finish().length;
    const { message } = await failure(modelInfer(request, c), Code.RESOURCE_EXHAUSTED);
    expect(message).toBe(`Received message larger than max (${size} vs 1024)`);
  });

  it("is not ready and answers UNAVAILABLE without a model, and ready once one is swapped in", async () => {
    const { address, holder } = await servers.start({ model: null });
    const c = inferenceClient(address);
    const h = servers.health(address);
    expect(await answered(call(c, c.serverLive, {}))).toEqual({ live: true });
    expect(await answered(call(c, c.serverReady, {}))).toEqual({ ready: false });
    expect(await answered(call(c, c.modelReady, { name: MODEL, version: "" }))).toEqual({ ready: false });
    expect(await healthCheck(h, "inference.GRPCInferenceService")).toBe("NOT_SERVING");
    const noModel = "no model is loaded yet; retry shortly";
    expect((await failure(call(c, c.modelMetadata, { name: MODEL, version: "" }), Code.UNAVAILABLE)).message).toBe(noModel);
    const inputs = [tensor("FP64", [1, 4], { fp64Contents: SETOSA })];
    expect((await failure(modelInfer({ inputs }, c), Code.UNAVAILABLE)).message).toBe(noModel);

    holder.swap(await model());
    expect(await answered(call(c, c.serverReady, {}))).toEqual({ ready: true });
    expect(await answered(call(c, c.modelReady, { name: MODEL, version: "" }))).toEqual({ ready: true });
    expect(await healthCheck(h, "inference.GRPCInferenceService")).toBe("SERVING");
    expect(await answered(modelInfer({ inputs }, c))).toEqual(await typedAnswer([SETOSA]));
  });

  it("serves the model under the name it is given", async () => {
    const { address } = await servers.start({ modelName: "iris" });
    const c = inferenceClient(address);
    const res = await answered(modelInfer({ modelName: "iris", inputs: [tensor("FP64", [1, 4], { fp64Contents: SETOSA })] }, c));
    expect(res).toEqual(await typedAnswer([SETOSA], { modelName: "iris" }));
    expect((await failure(call(c, c.modelReady, { name: MODEL, version: "" }), Code.NOT_FOUND)).message).toBe(
      `model "${MODEL}" is not served here; this server serves "iris"`,
    );
  });
});
