/**
 * The Open Inference Protocol's model: which model is addressed, its
 * metadata, and inference, independent of REST or gRPC. The transports turn
 * their requests into an InferenceRequest (tensors whose numbers are read
 * only once their shape and datatype have been checked) and encode the
 * InferenceResult's output tensors in their own way.
 *
 * The model takes one input tensor [N, 4] of any numeric datatype and any
 * name, the four measurements in FEATURES order, or four tensors named after
 * the features, each [N] or [N, 1]. It has three prediction outputs,
 * answered when a request names no output: `predict` (INT64 [N], the class
 * index), `predict_proba` (FP64 [N, classes]) and `species` (BYTES [N]);
 * `output-0` is another name of `predict` (KServe's runtimes call their
 * first output so, and its clients ask for it by that name).
 *
 * Out of training range: a fourth output, `out_of_range` (BOOL [N, 4], in
 * the input's feature order: true where that measurement lies outside the
 * feature's [min, max] in the training data), is answered when asked for by
 * name, so answers that do not ask stay exactly as they were. Whether asked
 * or not, an answer in which any row is out of range carries the response
 * parameter `out_of_range_rows` (INT64, how many rows), so a caller learns
 * of it and can ask for the output.
 */
import { Code, IrisError } from "../../errors.js";
import type { PredictionRecorder } from "../metrics/recorder.js";
import type { ServedModel } from "../served-model.js";
import { FLOWER_FIELDS } from "../served-model.js";
import { invalidField, readColumns, readMatrix } from "../validate.js";
import { bytesElements, elementCount, fp64Bytes, int64Bytes, numericDatatype, type NumericDatatype } from "./tensors.js";

/** What ServerMetadata calls this server. */
export const SERVER_NAME = "iris-serve";
/** The model's platform, in the protocol's "<project>_<format>" form. */
const PLATFORM = "iris-serve_json";
/**
 * The protocol extensions this server supports, listed in ServerMetadata on
 * both bindings: the REST binding's binary tensor data extension.
 */
export const EXTENSIONS = ["binary_tensor_data"] as const;
/** The name of the input tensor in ModelMetadata (any name is accepted). */
const INPUT_NAME = "input-0";

/** The outputs answered when a request names none. */
const OUTPUTS = ["predict", "predict_proba", "species"] as const;
/** Answered only when asked for by name. */
const OUT_OF_RANGE = "out_of_range";
type OutputKind = (typeof OUTPUTS)[number] | typeof OUT_OF_RANGE;
/** The response parameter that counts the rows out of range (absent when there are none). */
export const OUT_OF_RANGE_ROWS = "out_of_range_rows";
/** Other names of outputs. */
const ALIASES: Readonly<Record<string, OutputKind>> = { "output-0": "predict" };

const FEATURES = FLOWER_FIELDS.map((f) => f.name);

interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** An input tensor as a transport received it. */
export interface InferInput {
  /** Where it is in the request, for errors: `inputs[0]`. */
  path: string;
  name: string;
  datatype: string;
  shape: readonly unknown[];
  /**
   * Its `count` numbers, called once the datatype and shape are checked;
   * throws INVALID_ARGUMENT when the data does not match them.
   */
  read(datatype: NumericDatatype, shape: readonly number[], count: number): ArrayLike<number>;
  /**
   * The path, in the transport's own terms, of the value at row-major
   * `index` (called once the shape is checked): `inputs[0].data[6]`,
   * `inputs[0].contents.fp64_contents[6]`, `raw_input_contents[0][1][2]`.
   */
  element(index: number): string;
}

export interface InferenceRequest {
  inputs: readonly InferInput[];
  /** The outputs asked for, by name; empty for all three. */
  outputs: readonly string[];
}

export type OutputTensor =
  | { name: string; kind: "predict"; datatype: "INT64"; shape: number[]; classIndices: Int32Array }
  | { name: string; kind: "predict_proba"; datatype: "FP64"; shape: number[]; probabilities: Float64Array }
  | { name: string; kind: "species"; datatype: "BYTES"; shape: number[]; classIndices: Int32Array; classes: readonly string[] }
  | { name: string; kind: "out_of_range"; datatype: "BOOL"; shape: number[]; flags: Uint8Array };

/**
 * An output tensor's elements as bytes, as `raw_output_contents` (gRPC) and
 * the REST binary tensor extension carry them: little-endian numbers, BOOL
 * one byte per element, BYTES each element after its 4-byte length.
 */
export function outputBytes(output: OutputTensor): Buffer {
  switch (output.kind) {
    case "predict":
      return int64Bytes(output.classIndices);
    case "predict_proba":
      return fp64Bytes(output.probabilities);
    case "species":
      return bytesElements(Array.from(output.classIndices, (c) => output.classes[c]!));
    case "out_of_range":
      return Buffer.from(output.flags.buffer, output.flags.byteOffset, output.flags.byteLength);
  }
}

export interface InferenceResult {
  modelName: string;
  modelVersion: string;
  rows: number;
  /** How many rows have a measurement outside the training range. */
  outOfRangeRows: number;
  outputs: OutputTensor[];
}

/**
 * Resolves the model a request addresses: NOT_FOUND unless `name` is the
 * served model's name and `version` (when given) its version.
 */
export function checkModel(served: ServedModel, modelName: string, name: string, version: string | undefined): void {
  if (name !== modelName) {
    throw new IrisError(Code.NOT_FOUND, `model ${JSON.stringify(name)} is not served here; this server serves ${JSON.stringify(modelName)}`);
  }
  if (version !== undefined && version !== "" && version !== served.model.version) {
    throw new IrisError(
      Code.NOT_FOUND,
      `model ${JSON.stringify(modelName)} has no version ${JSON.stringify(version)}; the version served is ${JSON.stringify(served.model.version)}`,
    );
  }
}

export function modelMetadata(served: ServedModel, modelName: string): ModelMetadata {
  const k = served.model.numClasses;
  return {
    name: modelName,
    versions: [served.model.version],
    platform: PLATFORM,
    inputs: [{ name: INPUT_NAME, datatype: "FP64", shape: [-1, FEATURES.length] }],
    outputs: [
      { name: "predict", datatype: "INT64", shape: [-1] },
      { name: "predict_proba", datatype: "FP64", shape: [-1, k] },
      { name: "species", datatype: "BYTES", shape: [-1] },
      { name: OUT_OF_RANGE, datatype: "BOOL", shape: [-1, FEATURES.length] },
    ],
  };
}

/** Further facts for ModelMetadata's `properties` (gRPC): classes, features, artifact format. */
export function modelProperties(served: ServedModel): Record<string, string> {
  return {
    classes: served.model.classes.join(","),
    features: FEATURES.join(","),
    format: served.model.artifact.format,
    algorithm: served.model.artifact.algorithm,
  };
}


/** The requested outputs, resolved: kind and name (as asked). */
function requestedOutputs(names: readonly string[]): { kind: OutputKind; name: string }[] {
  if (names.length === 0) return OUTPUTS.map((kind) => ({ kind, name: kind }));
  const seen = new Set<string>();
  return names.map((name, i) => {
    const kind = (OUTPUTS as readonly string[]).includes(name) || name === OUT_OF_RANGE ? (name as OutputKind) : ALIASES[name];
    if (kind === undefined) {
      throw invalidField(
        `outputs[${i}].name ${JSON.stringify(name)} is not an output of this model (${OUTPUTS.join(", ")}, ${OUT_OF_RANGE}; output-0 is predict)`,
        `outputs[${i}].name`,
      );
    }
    if (seen.has(name)) throw invalidField(`outputs[${i}].name ${JSON.stringify(name)} is asked for twice`, `outputs[${i}].name`);
    seen.add(name);
    return { kind, name };
  });
}

function checkRows(rows: number, maxBatchRows: number, path: string): void {
  if (rows === 0) throw invalidField(`${path} has no rows; send at least one flower`, `${path}.shape`);
  if (rows > maxBatchRows) {
    throw new IrisError(
      Code.RESOURCE_EXHAUSTED,
      `${path} has ${rows} rows, over the limit of ${maxBatchRows} rows per call; split it into smaller batches`,
    );
  }
}

const INPUT_FORMS = `one tensor [N, 4] (${FEATURES.join(", ")}) or four tensors named ${FEATURES.join(", ")}, each [N] or [N, 1]`;

/** The measurements of the request's inputs, in model column order (rows × 4). */
function readInputs(served: ServedModel, inputs: readonly InferInput[], maxBatchRows: number): { x: Float64Array; rows: number } {
  if (inputs.length === 1) {
    const input = inputs[0]!;
    const datatype = numericDatatype(input.datatype, input.path);
    const count = elementCount(input.shape, input.path);
    const shape = input.shape as number[];
    if (shape.length !== 2 || shape[1] !== FEATURES.length) {
      throw invalidField(`${input.path}.shape is ${JSON.stringify(shape)}; the model takes ${INPUT_FORMS}`, `${input.path}.shape`);
    }
    const rows = shape[0]!;
    checkRows(rows, maxBatchRows, input.path);
    const values = input.read(datatype, shape, count);
    const x = new Float64Array(rows * FEATURES.length);
    readMatrix(served, values, rows, x, (r, j) => input.element(r * FEATURES.length + j));
    return { x, rows };
  }
  const byName = new Map(inputs.map((input) => [input.name, input]));
  const missing = FEATURES.filter((f) => !byName.has(f));
  if (inputs.length !== FEATURES.length || missing.length > 0 || byName.size !== inputs.length) {
    const names = inputs.map((i) => JSON.stringify(i.name)).join(", ");
    throw invalidField(`the request has ${inputs.length} input tensors (${names || "none"}); the model takes ${INPUT_FORMS}`, "inputs");
  }
  let rows = -1;
  const columns = FEATURES.map((feature) => {
    const input = byName.get(feature)!;
    const datatype = numericDatatype(input.datatype, input.path);
    const count = elementCount(input.shape, input.path);
    const shape = input.shape as number[];
    if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
      throw invalidField(`${input.path}.shape is ${JSON.stringify(shape)}; a tensor named after a feature is [N] or [N, 1]`, `${input.path}.shape`);
    }
    if (rows === -1) {
      rows = shape[0]!;
      checkRows(rows, maxBatchRows, input.path);
    } else if (shape[0] !== rows) {
      throw invalidField(`${input.path} has ${shape[0]} rows, but ${inputs[0]!.path} has ${rows}`, `${input.path}.shape`);
    }
    return { input, values: input.read(datatype, shape, count) };
  });
  const x = new Float64Array(rows * FEATURES.length);
  readColumns(
    served,
    columns.map((c) => c.values),
    rows,
    x,
    (r, j) => columns[j]!.input.element(r),
  );
  return { x, rows };
}

/** The out-of-range masks (model feature order) as flags [rows, 4] in the input's feature order. */
function outOfRangeFlags(served: ServedModel, masks: Uint32Array, rows: number): Uint8Array {
  const flags = new Uint8Array(rows * FEATURES.length);
  const columns = served.columns;
  for (let r = 0; r < rows; r++) {
    const mask = masks[r]!;
    if (mask === 0) continue;
    for (let j = 0; j < FEATURES.length; j++) flags[r * FEATURES.length + j] = (mask >>> columns[j]!) & 1;
  }
  return flags;
}

/**
 * Runs the model on the request's inputs and builds the outputs asked for,
 * in the order asked; `recorder` hears the predictions.
 */
export function infer(
  served: ServedModel,
  modelName: string,
  request: InferenceRequest,
  maxBatchRows: number,
  recorder: PredictionRecorder,
): InferenceResult {
  const wanted = requestedOutputs(request.outputs);
  if (request.inputs.length === 0) throw invalidField(`the request has no inputs; the model takes ${INPUT_FORMS}`, "inputs");
  const { x, rows } = readInputs(served, request.inputs, maxBatchRows);
  const model = served.model;
  const k = model.numClasses;
  const classIndices = new Int32Array(rows);
  const probabilities = wanted.some((w) => w.kind === "predict_proba") ? new Float64Array(rows * k) : undefined;
  model.predictBatch(x, rows, classIndices, probabilities);
  const masks = new Uint32Array(rows);
  const outOfRangeRows = model.outOfRangeBatch(x, rows, masks);
  recorder.predictedBatch(model, classIndices, rows, outOfRangeRows > 0 ? masks : undefined);
  const outputs = wanted.map(({ kind, name }): OutputTensor => {
    switch (kind) {
      case "predict":
        return { name, kind, datatype: "INT64", shape: [rows], classIndices };
      case "predict_proba":
        return { name, kind, datatype: "FP64", shape: [rows, k], probabilities: probabilities! };
      case "species":
        return { name, kind, datatype: "BYTES", shape: [rows], classIndices, classes: model.classes };
      case "out_of_range":
        return { name, kind, datatype: "BOOL", shape: [rows, FEATURES.length], flags: outOfRangeFlags(served, masks, rows) };
    }
  });
  return { modelName, modelVersion: model.version, rows, outOfRangeRows, outputs };
}
