/**
 * The JSON Schemas of the HTTP routes, written once with TypeBox: fastify
 * validates every request against them and @fastify/swagger builds the
 * OpenAPI document (`/openapi.json`, `/docs`) from the very same objects, so
 * the documentation cannot drift from what the server accepts.
 */
import { Type, type Static, type TSchema } from "typebox";
import { FLOWER_FIELDS } from "../served-model.js";
import { DATATYPE_SIZES } from "../oip/tensors.js";
import { MEASUREMENT } from "./errors.js";

const FEATURE_LIST = FLOWER_FIELDS.map((f) => f.name).join(", ");

/** One measurement in cm. */
const Measurement = Type.Number({ minimum: 0, $comment: MEASUREMENT, description: "A measurement in cm, finite and >= 0" });

/** One flower: its four measurements in feature order. */
const Row = Type.Array(Measurement, { minItems: 4, maxItems: 4, description: FEATURE_LIST });

export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: "What went wrong, in one line" }),
    violations: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String({ description: "Path of the offending field, e.g. features[2]" }),
          description: Type.String({ description: "What is wrong with it" }),
        }),
      ),
    ),
  },
  { $id: "ErrorBody", description: "Every error answer of the HTTP port" },
);

// ---- POST /predict, the original project's route -----------------------------

/**
 * `features` is one row of four measurements, or an array of rows: an
 * if/then/else rather than anyOf, so that a bad value is reported once, in
 * the branch the request meant, rather than once per branch.
 */
const Features = Type.Unsafe<number[] | number[][]>({
  type: "array",
  description: `One flower's four measurements in cm (${FEATURE_LIST}), or an array of such rows for a batch`,
  // Any row that is an array makes it a batch.
  if: { type: "array", contains: { type: "array" } },
  then: { type: "array", minItems: 1, items: Row },
  else: Row,
  examples: [
    [5.1, 3.5, 1.4, 0.2],
    [
      [5.1, 3.5, 1.4, 0.2],
      [6.7, 3.0, 5.2, 2.3],
    ],
  ],
});

export const PredictRequest = Type.Object({ features: Features }, { additionalProperties: false });
export type PredictRequest = Static<typeof PredictRequest>;

const Probabilities = Type.Array(Type.Number(), { description: "The probability of each class, in the model's class order" });
const FeatureNames = Type.Array(Type.String(), { description: `Feature names (${FEATURE_LIST})` });

export const PredictResponse = Type.Object(
  {
    prediction: Type.Union([Type.Integer(), Type.Array(Type.Integer())], {
      description: "The class index (an array of them for a batch), as the original project answered",
    }),
    species: Type.Union([Type.String(), Type.Array(Type.String())], { description: "The species name(s)" }),
    probabilities: Type.Union([Probabilities, Type.Array(Probabilities)]),
    model_version: Type.String({ description: "The version of the model that answered" }),
    out_of_range: Type.Union([FeatureNames, Type.Array(FeatureNames)], {
      description:
        "The features whose measurement lies outside the range the model was trained on (its training [min, max]), " +
        "in model order; empty when all are within it. The prediction stands, but the model is extrapolating there.",
    }),
  },
  { description: "With a batch, every key but model_version holds one entry per row, in order" },
);

// ---- Open Inference Protocol (REST) -----------------------------------------

const Parameters = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
  description: "Parameters as name/value pairs",
});

const Datatype = Type.Unsafe<string>({ type: "string", enum: Object.keys(DATATYPE_SIZES), description: "The tensor's datatype" });

const Shape = Type.Array(Type.Integer({ minimum: 0 }), { description: "The tensor's shape" });

const InputTensor = Type.Object({
  name: Type.String({ description: `Any name for one [N, 4] tensor; the feature names (${FEATURE_LIST}) for four [N] tensors` }),
  shape: Shape,
  datatype: Datatype,
  parameters: Type.Optional(Parameters),
  data: Type.Optional(
    Type.Array(Type.Unknown(), {
      description: "The values, flat in row-major order or nested as the shape; absent when the tensor's bytes follow the JSON (binary_data_size)",
    }),
  ),
});

const RequestedOutput = Type.Object({
  name: Type.String({ description: "predict, predict_proba, species, out_of_range, or output-0 (= predict)" }),
  parameters: Type.Optional(Parameters),
});

export const InferRequest = Type.Object(
  {
    id: Type.Optional(Type.String({ description: "Returned in the response" })),
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(InputTensor, { minItems: 1 }),
    outputs: Type.Optional(Type.Array(RequestedOutput)),
  },
  { description: "An inference request of the Open Inference Protocol" },
);
export type InferRequest = Static<typeof InferRequest>;

const OutputTensor = Type.Object({
  name: Type.String(),
  shape: Shape,
  datatype: Datatype,
  parameters: Type.Optional(Parameters),
  data: Type.Optional(Type.Array(Type.Union([Type.Number(), Type.String(), Type.Boolean()]), { description: "Flat, row-major" })),
});

export const InferResponse = Type.Object({
  model_name: Type.String(),
  model_version: Type.String(),
  id: Type.Optional(Type.String()),
  parameters: Type.Optional(Parameters),
  outputs: Type.Array(OutputTensor),
});

const TensorMetadata = Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) });

export const ModelMetadataResponse = Type.Object({
  name: Type.String(),
  versions: Type.Array(Type.String()),
  platform: Type.String(),
  inputs: Type.Array(TensorMetadata),
  outputs: Type.Array(TensorMetadata),
});

export const ServerMetadataResponse = Type.Object({
  name: Type.String(),
  version: Type.String(),
  extensions: Type.Array(Type.String()),
});

export const LiveResponse = Type.Object({ live: Type.Boolean() });
export const ReadyResponse = Type.Object({ ready: Type.Boolean() });
export const ModelReadyResponse = Type.Object({ name: Type.String(), ready: Type.Boolean() });

export const ModelParams = Type.Object({ name: Type.String() });
export const VersionedModelParams = Type.Object({ name: Type.String(), version: Type.String() });

/** The error answers a route may give, for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref("ErrorBody")]));
}
