/**
 * The prediction behind `iris predict`, in three steps that every back end
 * shares: {@link parseInputRows} turns `--input` into checked numbers (usage
 * errors, exit 2), a predictor returns a {@link PredictOutput} —
 * {@link predictLocal} from a model file, {@link predictRemote} from a
 * running server through the client SDK — and {@link formatPrediction}
 * prints it as one JSON line that starts exactly as the original
 * `run_model.py` output did, `{"prediction":[0]`.
 */
import type { IrisClient } from "../client/index.js";
import { Code, IrisError } from "../errors.js";
import { FEATURES, loadModelFile, measurementProblem } from "../model/index.js";
import { usageError } from "./command.js";

/** What every predictor returns, in the printed key order. */
export interface PredictOutput {
  /** Class index of each row, in model class order. */
  prediction: number[];
  /** Species name of each row. */
  species: string[];
  /** Probability of each class, per row. */
  probabilities: number[][];
  /** Version of the model that answered. */
  model: string;
  /**
   * Per row, the features whose measurement lies outside the model's
   * training range (model order); absent when every row is within it.
   */
  outOfRange?: string[][];
}

/**
 * Parses `--input`: one row `[a,b,c,d]` or several `[[...],[...]]`, each of
 * the {@link FEATURES} in that order, passing the model's input rule
 * (finite, >= 0). Throws a one-line usage error naming the offending row and
 * value.
 */
export function parseInputRows(text: string): number[][] {
  const width = FEATURES.length;
  const example = `e.g. [${"1.0,".repeat(width - 1)}1.0] or [[...],[...]]`;
  if (text.trim() === "") throw usageError(`--input is empty: give a JSON array of ${width} measurements or of rows, ${example}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw usageError(`--input is not valid JSON: ${(err as Error).message.replace(/\s+/g, " ")}`);
  }
  if (!Array.isArray(json) || json.length === 0) {
    throw usageError(`--input must be a non-empty JSON array of ${width} measurements or of rows, ${example}`);
  }
  const single = !Array.isArray(json[0]);
  const rows: unknown[] = single ? [json] : json;
  return rows.map((row, r) => {
    const where = single ? "--input" : `--input row ${r}`;
    if (!Array.isArray(row)) throw usageError(`${where} must be an array of ${width} measurements, got ${JSON.stringify(row)}`);
    if (row.length !== width) {
      throw usageError(`${where} has ${row.length} value${row.length === 1 ? "" : "s"}, expected ${width} (${FEATURES.join(", ")})`);
    }
    return row.map((value, j) => {
      const name = FEATURES[j]!;
      if (typeof value !== "number") throw usageError(`${where}: ${name} must be a number, got ${JSON.stringify(value)}`);
      const problem = measurementProblem(value);
      if (problem !== undefined) throw usageError(`${where}: ${name} ${problem}`);
      return value;
    });
  });
}

/**
 * Predicts `rows` (measurements in {@link FEATURES} order) with the model
 * file at `modelPath`, handing each value to the model feature of the same
 * name, whatever the model's own order (load errors: exit 1).
 */
export async function predictLocal(modelPath: string, rows: readonly number[][]): Promise<PredictOutput> {
  const model = await loadModelFile(modelPath);
  const columns = model.featureNames.map((name) => (FEATURES as readonly string[]).indexOf(name));
  if (columns.length !== FEATURES.length || columns.includes(-1)) {
    throw new IrisError(
      Code.FAILED_PRECONDITION,
      `${modelPath}: the model's features (${model.featureNames.join(", ")}) are not the measurements --input gives (${FEATURES.join(", ")})`,
    );
  }
  const n = rows.length;
  const d = columns.length;
  const k = model.numClasses;
  const x = new Float64Array(n * d);
  rows.forEach((row, r) => columns.forEach((column, j) => (x[r * d + j] = row[column]!)));
  const classes = new Int32Array(n);
  const probabilities = new Float64Array(n * k);
  model.predictBatch(x, n, classes, probabilities);
  const masks = new Uint32Array(n);
  const flagged = model.outOfRangeBatch(x, n, masks) > 0;
  return {
    prediction: Array.from(classes),
    species: Array.from(classes, (c) => model.classes[c]!),
    probabilities: Array.from({ length: n }, (_, r) => Array.from(probabilities.subarray(r * k, (r + 1) * k))),
    model: model.version,
    ...(flagged ? { outOfRange: Array.from(masks, (mask) => model.featuresOf(mask)) } : {}),
  };
}

/**
 * Predicts `rows` (each [sepal_length, sepal_width, petal_length, petal_width])
 * with one BatchPredict call through `client`: the same output as
 * {@link predictLocal} for the same model.
 */
export async function predictRemote(client: IrisClient, rows: readonly number[][]): Promise<PredictOutput> {
  const flowers = rows.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({
    sepalLength: sepalLength!,
    sepalWidth: sepalWidth!,
    petalLength: petalLength!,
    petalWidth: petalWidth!,
  }));
  const result = await client.batchPredict(flowers);
  const flagged = result.predictions.some((p) => p.outOfRangeFeatures.length > 0);
  return {
    prediction: result.predictions.map((p) => p.classIndex),
    species: result.predictions.map((p) => p.species),
    probabilities: result.predictions.map((p) => p.probabilities),
    model: result.modelVersion,
    ...(flagged ? { outOfRange: result.predictions.map((p) => p.outOfRangeFeatures) } : {}),
  };
}

/** One JSON line, `{"prediction":[...]` first; `"out_of_range"` last, only when a row is out of the training range. */
export function formatPrediction(output: PredictOutput): string {
  const { prediction, species, probabilities, model, outOfRange } = output;
  return `${JSON.stringify({ prediction, species, probabilities, model, ...(outOfRange ? { out_of_range: outOfRange } : {}) })}\n`;
}
