/**
 * A model ready to be served: the IrisModel, when it was loaded, its
 * precomputed ModelInfo answer, and where each iris.v1.Flower field goes in
 * the model's input row.
 */
import { Code, IrisError } from "../errors.js";
import type { Feature, Flower, Hyperparameters, ModelInfoResponse } from "../gen/iris.js";
import { FEATURES, type FeatureName, type IrisModel } from "../model/index.js";

/** `sepal_length` → `sepalLength`: a proto field's name in the generated TypeScript. */
type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;

/**
 * The fields of iris.v1.Flower, one per feature in FEATURES order: the
 * generated property and the feature (and proto field) name. The compiler
 * checks that Flower's properties are exactly the features.
 */
export const FLOWER_FIELDS = FEATURES.map((name) => ({
  name,
  key: name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as Camel<FeatureName>,
}));
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
true satisfies SameKeys<Required<Flower>, Record<Camel<FeatureName>, number>>;

export interface ServedModel {
  readonly model: IrisModel;
  readonly loadedAt: Date;
  readonly info: ModelInfoResponse;
  /**
   * Model input column of each Flower field, in FLOWER_FIELDS order
   * (sepal_length, sepal_width, petal_length, petal_width).
   */
  readonly columns: readonly [number, number, number, number];
  /** Whether the model's features are in Flower field order (columns 0, 1, 2, 3). */
  readonly modelOrder: boolean;
  /** The model's feature names in model order (the bits of an out-of-range mask); the encoder only reads it. */
  readonly featureNames: string[];
  /** The model's training ranges, for readers of measurements in FLOWER_FIELDS order. */
  readonly ranges: MeasurementRanges;
}

/**
 * Each measurement's training range, in FLOWER_FIELDS order, and the bit it
 * sets in an out-of-range mask (1 << its model column) when it lies
 * outside: IrisModel.outOfRange's test (`v < min || v > max`), for code that
 * meets the measurements before they are put in model order.
 */
export interface MeasurementRanges {
  readonly low: Float64Array;
  readonly high: Float64Array;
  readonly bits: Int32Array;
}

/**
 * Wraps a loaded model for serving. Throws FAILED_PRECONDITION when the
 * model's features are not exactly the four Flower measurements (in any
 * order): such a model cannot be fed from this contract.
 */
export function serveModel(model: IrisModel, loadedAt: Date = new Date()): ServedModel {
  const columns = FEATURES.map((n) => model.featureNames.indexOf(n));
  if (model.numFeatures !== FEATURES.length || columns.includes(-1)) {
    throw new IrisError(
      Code.FAILED_PRECONDITION,
      `model features [${model.featureNames.join(", ")}] do not match the iris.v1.Flower fields [${FEATURES.join(", ")}]`,
    );
  }
  return Object.freeze({
    model,
    loadedAt,
    info: modelInfo(model, loadedAt),
    columns: columns as [number, number, number, number],
    modelOrder: columns.every((c, i) => c === i),
    featureNames: [...model.featureNames],
    ranges: {
      low: Float64Array.from(columns, (c) => model.artifact.features[c]!.min),
      high: Float64Array.from(columns, (c) => model.artifact.features[c]!.max),
      bits: Int32Array.from(columns, (c) => 1 << c),
    },
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Numeric leaves of a JSON value keyed by dotted path: `{test: {accuracy: 1}}`
 * → `test.accuracy`. Array entries are keyed by their `class` or `name` when
 * they have one (`perClass.setosa.f1`), else by index (`confusionMatrix.0.2`).
 */
export function flattenMetrics(value: unknown, prefix = "", out: Record<string, number> = {}): Record<string, number> {
  const join = (key: string): string => (prefix === "" ? key : `${prefix}.${key}`);
  if (typeof value === "number" && Number.isFinite(value)) {
    if (prefix !== "") out[prefix] = value;
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      const label = isRecord(v) ? (typeof v.class === "string" ? v.class : typeof v.name === "string" ? v.name : undefined) : undefined;
      flattenMetrics(v, join(label ?? String(i)), out);
    });
  } else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) flattenMetrics(v, join(k), out);
  }
  return out;
}

/** The ModelInfo answer for a model loaded at `loadedAt`. */
export function modelInfo(model: IrisModel, loadedAt: Date): ModelInfoResponse {
  const a = model.artifact;
  const features: Feature[] = a.features.map((f) => ({
    name: f.name,
    unit: f.unit,
    min: f.min,
    max: f.max,
    mean: f.mean,
    std: f.std,
  }));
  const { C: c, penalty, maxIter, tol, testFraction, seed, folds } = a.hyperparameters;
  const hyperparameters: Hyperparameters = { c, penalty, maxIter, tol, testFraction, seed, folds };
  return {
    name: a.name,
    version: model.version,
    format: a.format,
    algorithm: a.algorithm,
    features,
    classes: [...model.classes],
    hyperparameters,
    metrics: flattenMetrics(a.metrics),
    datasetChecksum: a.training.dataset.sha256,
    loadedAt,
    training: a.training,
  };
}
