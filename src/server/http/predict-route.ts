/**
 * `POST /predict`: the original project's route, answered as it answered
 * (`{"prediction": 0}` first), plus the species, every class's probability
 * and the model version. `{"features": [...4]}` is one flower;
 * `{"features": [[...4], ...]}` a batch, whose keys then hold arrays.
 * `out_of_range` names the features whose measurement lies outside the
 * model's training range (empty when none does).
 */
import { Code, IrisError } from "../../errors.js";
import type { PredictionRecorder } from "../metrics/recorder.js";
import type { Readiness } from "../readiness.js";
import { readMatrix } from "../validate.js";
import { errors, PredictRequest, PredictResponse } from "./schemas.js";
import type { HttpApp } from "./server.js";

export interface PredictRouteOptions {
  readiness: Readiness;
  maxBatchRows: number;
  /** Hears every prediction (metrics). */
  recorder: PredictionRecorder;
}

export function predictRoute(app: HttpApp, { readiness, maxBatchRows, recorder }: PredictRouteOptions): void {
  app.post(
    "/predict",
    {
      schema: {
        summary: "Predict the species of one flower or a batch (the original project's route)",
        tags: ["predict"],
        body: PredictRequest,
        response: { 200: PredictResponse, ...errors(400, 413, 503) },
      },
    },
    (request) => {
      const served = readiness.served();
      const { features } = request.body;
      const batch = features.some((row) => Array.isArray(row));
      const rows = batch ? features.length : 1;
      if (rows > maxBatchRows) {
        throw new IrisError(
          Code.RESOURCE_EXHAUSTED,
          `batch of ${rows} flowers exceeds the limit of ${maxBatchRows} rows per call; split it into smaller batches`,
        );
      }
      const values = batch ? (features as number[][]).flat() : (features as number[]);
      const x = new Float64Array(rows * 4);
      readMatrix(served, values, rows, x, batch ? (r, j) => `features[${r}][${j}]` : (_r, j) => `features[${j}]`);
      const model = served.model;
      const k = model.numClasses;
      const classIndices = new Int32Array(rows);
      const probabilities = new Float64Array(rows * k);
      model.predictBatch(x, rows, classIndices, probabilities);
      const masks = new Uint32Array(rows);
      const flagged = model.outOfRangeBatch(x, rows, masks) > 0;
      recorder.predictedBatch(model, classIndices, rows, flagged ? masks : undefined);
      request.call.rows = rows;
      request.call.modelVersion = model.version;
      const probabilitiesOf = (r: number): number[] => Array.from(probabilities.subarray(r * k, (r + 1) * k));
      if (!batch) {
        const c = classIndices[0]!;
        return {
          prediction: c,
          species: model.classes[c]!,
          probabilities: probabilitiesOf(0),
          model_version: model.version,
          out_of_range: model.featuresOf(masks[0]!),
        };
      }
      return {
        prediction: Array.from(classIndices),
        species: Array.from(classIndices, (c) => model.classes[c]!),
        probabilities: Array.from({ length: rows }, (_, r) => probabilitiesOf(r)),
        model_version: model.version,
        out_of_range: Array.from(masks, (mask) => model.featuresOf(mask)),
      };
    },
  );
}
