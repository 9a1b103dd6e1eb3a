/**
 * The Open Inference Protocol over HTTP/REST: every endpoint of the spec,
 * each model route also under `/versions/{version}`, with the binary tensor
 * data extension both ways. The protocol's model and tensors live in
 * ../oip/; this module maps JSON (and binary parts) to them and back. The
 * BOOL output `out_of_range` is JSON `true`/`false`, or one byte per
 * element (0 or 1) as binary data; `out_of_range_rows` is a number among
 * the response's parameters.
 */
import type { FastifyReply } from "fastify";
import type { PredictionRecorder } from "../metrics/recorder.js";
import {
  checkModel,
  EXTENSIONS,
  infer,
  modelMetadata,
  OUT_OF_RANGE_ROWS,
  SERVER_NAME,
  type InferInput,
  outputBytes,
  type OutputTensor,
} from "../oip/inference.js";
import {
  jsonElementPath,
  numbersFromBytes,
  numbersFromJson,
  tensorIndex,
} from "../oip/tensors.js";
import type { Readiness } from "../readiness.js";
import type { ServedModel } from "../served-model.js";
import { invalidField } from "../validate.js";
import { BinaryReader, INFERENCE_HEADER } from "./binary.js";
import {
  errors,
  InferRequest,
  InferResponse,
  LiveResponse,
  ModelMetadataResponse,
  ModelParams,
  ModelReadyResponse,
  ReadyResponse,
  ServerMetadataResponse,
  VersionedModelParams,
} from "./schemas.js";
import type { HttpApp } from "./server.js";

export interface InferenceRoutesOptions {
  readiness: Readiness;
  /** The model's name in the protocol; the artifact's name when absent. */
  modelName: string | undefined;
  serverVersion: string;
  maxBatchRows: number;
  /** Hears every prediction (metrics). */
  recorder: PredictionRecorder;
  /** The binary part of a request body that used the binary extension, by its parsed JSON object. */
  binaryPart(body: object): Buffer | undefined;
}

type Params = { name: string; version?: string };

/** Routes that answer while the server stops (health and server metadata); others then answer 503. */
export const ANSWERED_WHILE_DRAINING: ReadonlySet<string> = new Set([
  "/v2/health/live",
  "/v2/health/ready",
  "/v2",
  "/v2/models/:name/ready",
  "/v2/models/:name/versions/:version/ready",
]);

const INFER = "/v2/models/:name/infer";
const VERSIONED_INFER = "/v2/models/:name/versions/:version/infer";
/** The routes whose bodies may use the binary tensor data extension. */
export const BINARY_ROUTES: ReadonlySet<string> = new Set([INFER, VERSIONED_INFER]);

/** An output tensor in JSON: its values in `data`, flat and row-major. */
function jsonData(output: OutputTensor): (number | string | boolean)[] {
  switch (output.kind) {
    case "predict":
      return Array.from(output.classIndices);
    case "predict_proba":
      return Array.from(output.probabilities);
    case "species":
      return Array.from(output.classIndices, (c) => output.classes[c]!);
    case "out_of_range":
      return Array.from(output.flags, (f) => f === 1);
  }
}

export function inferenceRoutes(app: HttpApp, options: InferenceRoutesOptions): void {
  const { readiness } = options;
  const nameOf = (served: ServedModel): string => options.modelName ?? served.model.artifact.name;
  const tags = ["open inference protocol"];

  app.get(
    "/v2/health/live",
    { schema: { summary: "Whether the server is live", tags, response: { 200: LiveResponse } } },
    () => ({ live: true }),
  );

  app.get(
    "/v2/health/ready",
    {
      schema: {
        summary: "Whether the server is ready for inference (503 before the model is loaded and while stopping)",
        tags,
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    (_request, reply) => {
      const ready = readiness.ready;
      void reply.code(ready ? 200 : 503).send({ ready });
    },
  );

  app.get(
    "/v2",
    { schema: { summary: "Server metadata", tags, response: { 200: ServerMetadataResponse } } },
    () => ({ name: SERVER_NAME, version: options.serverVersion, extensions: [...EXTENSIONS] }),
  );

  const metadata = ({ name, version }: Params) => {
    const served = readiness.served();
    checkModel(served, nameOf(served), name, version);
    return modelMetadata(served, nameOf(served));
  };
  const metadataSchema = (params: typeof ModelParams | typeof VersionedModelParams) => ({
    schema: { summary: "Model metadata", tags, params, response: { 200: ModelMetadataResponse, ...errors(404, 503) } },
  });
  app.get("/v2/models/:name", metadataSchema(ModelParams), (request) => metadata(request.params));
  app.get("/v2/models/:name/versions/:version", metadataSchema(VersionedModelParams), (request) => metadata(request.params));

  const modelReady = ({ name, version }: Params, reply: FastifyReply): void => {
    const served = readiness.holder.current;
    if (served !== undefined) checkModel(served, nameOf(served), name, version);
    const ready = readiness.ready;
    void reply.code(ready ? 200 : 503).send({ name, ready });
  };
  const readySchema = (params: typeof ModelParams | typeof VersionedModelParams) => ({
    schema: {
      summary: "Whether the model is ready (503 when not)",
      tags,
      params,
      response: { 200: ModelReadyResponse, 503: ModelReadyResponse, ...errors(404) },
    },
  });
  app.get("/v2/models/:name/ready", readySchema(ModelParams), (request, reply) => modelReady(request.params, reply));
  app.get("/v2/models/:name/versions/:version/ready", readySchema(VersionedModelParams), (request, reply) =>
    modelReady(request.params, reply),
  );

  const inferSchema = (params: typeof ModelParams | typeof VersionedModelParams) => ({
    schema: {
      summary: "Inference on a batch of flowers",
      description:
        "The input is one tensor [N, 4] of any numeric datatype (sepal_length, sepal_width, petal_length, petal_width), " +
        "or four tensors named after the features, each [N] or [N, 1]. The outputs are predict (INT64 [N]), " +
        "predict_proba (FP64 [N, classes]) and species (BYTES [N]), all three when none is asked for; output-0 is another name of predict. " +
        "out_of_range (BOOL [N, 4], in the input's feature order) is answered when asked for: true where a measurement lies " +
        "outside the feature's training range; an answer with such rows has the parameter out_of_range_rows (how many). " +
        "The binary tensor data extension is supported both ways (Inference-Header-Content-Length).",
      tags,
      params,
      body: InferRequest,
      // A body using the binary tensor data extension is the JSON object followed by bytes.
      consumes: ["application/json", "application/octet-stream"],
      response: {
        200: {
          description: "The outputs, in the order asked for",
          content: {
            "application/json": { schema: InferResponse },
            "application/octet-stream": {
              schema: {
                type: "string",
                format: "binary",
                description:
                  "When an output is asked for as binary: this JSON answer (as application/json), as many bytes as the " +
                  "Inference-Header-Content-Length header says, then the bytes of each binary output in output order " +
                  "(binary_data_size in its parameters)",
              },
            },
          },
        },
        ...errors(400, 404, 413, 503),
      },
    },
    // The model is looked up before the body is validated: another model's
    // name is 404 (and no model 503) whatever the body holds.
    preValidation: (request: { params: unknown }, _reply: unknown, done: (err?: Error) => void) => {
      try {
        const { name, version } = request.params as Params;
        const served = readiness.served();
        checkModel(served, nameOf(served), name, version);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  const inferHandler = (params: Params, body: InferRequest, reply: FastifyReply): void => {
    const served = readiness.served();
    const modelName = nameOf(served);
    checkModel(served, modelName, params.name, params.version);
    const result = infer(
      served,
      modelName,
      { inputs: inputsOf(body, options.binaryPart(body)), outputs: (body.outputs ?? []).map((o) => o.name) },
      options.maxBatchRows,
      options.recorder,
    );
    reply.request.call.rows = result.rows;
    reply.request.call.modelVersion = result.modelVersion;

    const allBinary = body.parameters?.binary_data_output === true;
    const binaryByName = new Map((body.outputs ?? []).map((o) => [o.name, o.parameters?.binary_data]));
    const binaries: Buffer[] = [];
    const outputs = result.outputs.map((output) => {
      const asked = binaryByName.get(output.name);
      const binary = typeof asked === "boolean" ? asked : allBinary;
      const { name, datatype, shape } = output;
      if (!binary) return { name, datatype, shape, data: jsonData(output) };
      const bytes = outputBytes(output);
      binaries.push(bytes);
      return { name, datatype, shape, parameters: { binary_data_size: bytes.length } };
    });
    const response = {
      model_name: result.modelName,
      model_version: result.modelVersion,
      ...(body.id !== undefined ? { id: body.id } : {}),
      ...(body.parameters !== undefined || result.outOfRangeRows > 0
        ? { parameters: { ...body.parameters, ...(result.outOfRangeRows > 0 ? { [OUT_OF_RANGE_ROWS]: result.outOfRangeRows } : {}) } }
        : {}),
      outputs,
    };
    if (binaries.length === 0) {
      void reply.send(response);
      return;
    }
    const json = Buffer.from(JSON.stringify(response));
    void reply
      .header(INFERENCE_HEADER, String(json.length))
      .type("application/octet-stream")
      .send(Buffer.concat([json, ...binaries]));
  };
  app.post(INFER, inferSchema(ModelParams), (request, reply) => inferHandler(request.params, request.body, reply));
  app.post(VERSIONED_INFER, inferSchema(VersionedModelParams), (request, reply) =>
    inferHandler(request.params, request.body, reply),
  );
}

/**
 * The request's inputs for the protocol's model. Binary parts are cut in
 * request order up front (the model reads its inputs in feature order).
 */
function inputsOf(body: InferRequest, binary: Buffer | undefined): InferInput[] {
  const reader = binary === undefined ? undefined : new BinaryReader(binary);
  const inputs = body.inputs.map((input, i): InferInput => {
    const path = `inputs[${i}]`;
    const size = input.parameters?.binary_data_size;
    let bytes: Buffer | undefined;
    if (size !== undefined) {
      if (reader === undefined) {
        throw invalidField(
          `${path}.parameters.binary_data_size is set, but the request has no binary part (send the ${INFERENCE_HEADER} header with the JSON part's length)`,
          `${path}.parameters.binary_data_size`,
        );
      }
      if (input.data !== undefined) throw invalidField(`${path} has both data and binary_data_size; send its values one way`, `${path}.data`);
      bytes = reader.take(size, path);
    } else if (input.data === undefined) {
      throw invalidField(`${path} has no data (nor binary_data_size)`, `${path}.data`);
    }
    return {
      path,
      name: input.name,
      datatype: input.datatype,
      shape: input.shape,
      read: (datatype, shape, count) =>
        bytes !== undefined
          ? numbersFromBytes(bytes, datatype, count, `${path}.parameters.binary_data_size`)
          : numbersFromJson(input.data, datatype, shape, path),
      // Binary values have no JSON path: the tensor's own indices name them.
      element: bytes !== undefined ? (index) => `${path}${tensorIndex(index, input.shape)}` : jsonElementPath(input.data, input.shape, path),
    };
  });
  reader?.finish();
  return inputs;
}

