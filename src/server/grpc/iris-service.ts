/**
 * The iris.v1.IrisService handlers, typed as the generated IrisServiceServer
 * so the compiler checks them against the contract. Each reads the served
 * model once and answers entirely from it (a batch never mixes versions);
 * each only returns an answer or throws, and `unary` does the rest. Every
 * prediction says which measurements lie outside the model's training
 * range, and is reported to the recorder (metrics).
 */
import { Code, IrisError } from "../../errors.js";
import type {
  BatchPredictRequest,
  BatchPredictResponse,
  IrisServiceServer,
  ModelInfoRequest,
  ModelInfoResponse,
  PredictRequest,
  PredictResponse,
} from "../../gen/iris.js";
import type { Logger } from "../../logger.js";
import type { PredictionRecorder } from "../metrics/recorder.js";
import type { Readiness } from "../readiness.js";
import { unary } from "./unary.js";
import { readFlower, readFlowers } from "../validate.js";

export interface IrisServiceOptions {
  readiness: Readiness;
  /** Largest batch accepted by BatchPredict. */
  maxBatchRows: number;
  logger: Logger;
  /** Hears every prediction (metrics). */
  recorder: PredictionRecorder;
}

/** The fully qualified service name, as health checks and reflection know it. */
export const IRIS_SERVICE_NAME = "iris.v1.IrisService";

/** A plain array copy of a typed array's first `n` values; a counted loop is ~2x faster than Array.from here. */
function toArray(values: Float64Array | Int32Array | Uint32Array, n = values.length): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = values[i]!;
  return out;
}

export function createIrisService({ readiness, maxBatchRows, logger, recorder }: IrisServiceOptions): IrisServiceServer {
  // Predict's scratch space, reused by every call: handlers run one at a
  // time and copy out what they answer. Grown when a model with more
  // classes is swapped in.
  const row = new Float64Array(4);
  let classScratch = new Float64Array(8);

  const predict = (request: PredictRequest): PredictResponse => {
    const served = readiness.served();
    const model = served.model;
    readFlower(served, request.flower, "flower", row);
    const k = model.numClasses;
    if (classScratch.length < k) classScratch = new Float64Array(k);
    const classIndex = model.predictInto(row, classScratch);
    const mask = model.outOfRange(row);
    recorder.predicted(model, classIndex, mask);
    return {
      prediction: {
        species: model.classes[classIndex]!,
        classIndex,
        probabilities: toArray(classScratch, k),
        outOfRangeFeatures: mask === 0 ? [] : model.featuresOf(mask),
      },
      modelVersion: model.version,
    };
  };

  const batchPredict = ({ flowers, omitProbabilities }: BatchPredictRequest): BatchPredictResponse => {
    const served = readiness.served();
    const model = served.model;
    const rows = flowers.length;
    if (rows === 0) {
      throw new IrisError(Code.INVALID_ARGUMENT, "flowers is empty; send at least one flower", {
        violations: [{ field: "flowers", description: "must contain at least one flower" }],
      });
    }
    if (rows > maxBatchRows) {
      throw new IrisError(
        Code.RESOURCE_EXHAUSTED,
        `batch of ${rows} flowers exceeds the limit of ${maxBatchRows} rows per call; split it into smaller batches`,
      );
    }
    const x = new Float64Array(rows * model.numFeatures);
    readFlowers(served, flowers, x);
    const classIndices = new Int32Array(rows);
    const probabilities = omitProbabilities ? undefined : new Float64Array(rows * model.numClasses);
    model.predictBatch(x, rows, classIndices, probabilities);
    const masks = new Uint32Array(rows);
    const flagged = model.outOfRangeBatch(x, rows, masks) > 0;
    recorder.predictedBatch(model, classIndices, rows, flagged ? masks : undefined);
    return {
      modelVersion: model.version,
      // Built once per served model; the encoder only reads it.
      classes: served.info.classes,
      classIndices: toArray(classIndices),
      probabilities: probabilities === undefined ? [] : toArray(probabilities),
      // Both empty (nothing on the wire) unless a row is out of range.
      outOfRangeMasks: flagged ? toArray(masks) : [],
      outOfRangeFeatureNames: flagged ? served.featureNames : [],
    };
  };

  const modelInfo = (_request: ModelInfoRequest): ModelInfoResponse => readiness.served().info;

  return {
    predict: unary("Predict", logger, predict, (_req, res) => (res ? { modelVersion: res.modelVersion } : {})),
    batchPredict: unary("BatchPredict", logger, batchPredict, (req, res) => ({
      rows: req.flowers.length,
      ...(res ? { modelVersion: res.modelVersion } : {}),
    })),
    modelInfo: unary("ModelInfo", logger, modelInfo, (_req, res) => (res ? { modelVersion: res.version } : {})),
  };
}
