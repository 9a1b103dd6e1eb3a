/**
 * The Open Inference Protocol over gRPC: inference.GRPCInferenceService,
 * typed as the generated GRPCInferenceServiceServer. The protocol's model
 * and tensors live in ../oip/; this module only maps the generated messages
 * to them and back. A request whose inputs came as `raw_input_contents` is
 * answered in `raw_output_contents` (tritonclient reads only that); one
 * whose inputs came as typed `contents` is answered in typed `contents`.
 * The BOOL output `out_of_range` travels as `bool_contents`, or as one byte
 * per element (0 or 1) in raw contents; `out_of_range_rows` is an int64
 * response parameter.
 */
import { Code, IrisError } from "../../errors.js";
import type {
  GRPCInferenceServiceServer,
  InferParameter,
  InferTensorContents,
  ModelInferRequest,
  ModelInferResponse,
  ModelInferResponse_InferOutputTensor,
} from "../../gen/inference/open_inference_grpc.js";
import type { Logger } from "../../logger.js";
import {
  checkModel,
  EXTENSIONS,
  infer,
  modelMetadata,
  modelProperties,
  OUT_OF_RANGE_ROWS,
  SERVER_NAME,
  type InferInput,
  outputBytes,
  type OutputTensor,
} from "../oip/inference.js";
import {
  contentsPath,
  numbersFromBytes,
  numbersFromContents,
  tensorIndex,
} from "../oip/tensors.js";
import type { PredictionRecorder } from "../metrics/recorder.js";
import type { Readiness } from "../readiness.js";
import { unary } from "./unary.js";

/** The fully qualified service name, as health checks and reflection know it. */
export const INFERENCE_SERVICE_NAME = "inference.GRPCInferenceService";

export interface InferenceServiceOptions {
  readiness: Readiness;
  /** The model's name in the protocol; the artifact's name when absent. */
  modelName: string | undefined;
  /** The server's version, for ServerMetadata. */
  serverVersion: string;
  maxBatchRows: number;
  logger: Logger;
  /** Hears every prediction (metrics). */
  recorder: PredictionRecorder;
}

const EMPTY_CONTENTS: InferTensorContents = {
  boolContents: [],
  intContents: [],
  int64Contents: [],
  uintContents: [],
  uint64Contents: [],
  fp32Contents: [],
  fp64Contents: [],
  bytesContents: [],
};

function inputsOf(request: ModelInferRequest): InferInput[] {
  const raw = request.rawInputContents;
  if (raw.length > 0) {
    if (raw.length !== request.inputs.length) {
      throw new IrisError(
        Code.INVALID_ARGUMENT,
        `raw_input_contents has ${raw.length} entries, but there are ${request.inputs.length} inputs; give one per input, in order`,
        { violations: [{ field: "raw_input_contents", description: "must have one entry per input" }] },
      );
    }
    const withContents = request.inputs.findIndex((i) => i.contents !== undefined);
    if (withContents >= 0) {
      throw new IrisError(
        Code.INVALID_ARGUMENT,
        `inputs[${withContents}].contents is set, but the request uses raw_input_contents; send values one way only`,
        { violations: [{ field: `inputs[${withContents}].contents`, description: "must be empty with raw_input_contents" }] },
      );
    }
  }
  return request.inputs.map((input, i) => {
    const path = `inputs[${i}]`;
    return {
      path,
      name: input.name,
      datatype: input.datatype,
      shape: input.shape,
      read: (datatype, _shape, count) =>
        raw.length > 0
          ? numbersFromBytes(raw[i]!, datatype, count, `raw_input_contents[${i}]`)
          : numbersFromContents(input.contents, datatype, count, path),
      // Raw bytes are named by the tensor's indices; contents by the field that carries the datatype.
      element: (index) =>
        raw.length > 0 ? `raw_input_contents[${i}]${tensorIndex(index, input.shape)}` : `${contentsPath(input.datatype, path)}[${index}]`,
    };
  });
}

function contentsOf(output: OutputTensor): InferTensorContents {
  switch (output.kind) {
    case "predict":
      return { ...EMPTY_CONTENTS, int64Contents: Array.from(output.classIndices) };
    case "predict_proba":
      return { ...EMPTY_CONTENTS, fp64Contents: Array.from(output.probabilities) };
    case "species":
      return { ...EMPTY_CONTENTS, bytesContents: Array.from(output.classIndices, (c) => Buffer.from(output.classes[c]!)) };
    case "out_of_range":
      return { ...EMPTY_CONTENTS, boolContents: Array.from(output.flags, (f) => f === 1) };
  }
}

export function createInferenceService(options: InferenceServiceOptions): GRPCInferenceServiceServer {
  const { readiness, logger } = options;
  const nameOf = (served: { model: { artifact: { name: string } } }): string => options.modelName ?? served.model.artifact.name;

  const modelInfer = (request: ModelInferRequest): ModelInferResponse => {
    const served = readiness.served();
    const modelName = nameOf(served);
    checkModel(served, modelName, request.modelName, request.modelVersion);
    const raw = request.rawInputContents.length > 0;
    const result = infer(
      served,
      modelName,
      { inputs: inputsOf(request), outputs: request.outputs.map((o) => o.name) },
      options.maxBatchRows,
      options.recorder,
    );
    const outputs: ModelInferResponse_InferOutputTensor[] = result.outputs.map((output) => ({
      name: output.name,
      datatype: output.datatype,
      shape: output.shape,
      parameters: {},
      contents: raw ? undefined : contentsOf(output),
    }));
    return {
      modelName: result.modelName,
      modelVersion: result.modelVersion,
      id: request.id,
      parameters: {
        ...(request.parameters as Record<string, InferParameter>),
        ...(result.outOfRangeRows > 0 ? { [OUT_OF_RANGE_ROWS]: { int64Param: result.outOfRangeRows } } : {}),
      },
      outputs,
      rawOutputContents: raw ? result.outputs.map(outputBytes) : [],
    };
  };

  return {
    serverLive: unary("ServerLive", logger, () => ({ live: true })),
    serverReady: unary("ServerReady", logger, () => ({ ready: readiness.ready })),
    modelReady: unary("ModelReady", logger, (request) => {
      const served = readiness.holder.current;
      if (served === undefined) return { ready: false };
      checkModel(served, nameOf(served), request.name, request.version);
      return { ready: readiness.ready };
    }),
    serverMetadata: unary("ServerMetadata", logger, () => ({
      name: SERVER_NAME,
      version: options.serverVersion,
      extensions: [...EXTENSIONS],
    })),
    modelMetadata: unary("ModelMetadata", logger, (request) => {
      const served = readiness.served();
      checkModel(served, nameOf(served), request.name, request.version);
      return { ...modelMetadata(served, nameOf(served)), properties: modelProperties(served) };
    }),
    modelInfer: unary("ModelInfer", logger, modelInfer, (request, response) => ({
      model: request.modelName,
      ...(response ? { modelVersion: response.modelVersion } : {}),
    })),
  };
}
