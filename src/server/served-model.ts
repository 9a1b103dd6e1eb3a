/**
 * A model ready to be served: the IrisModel, when it was loaded, its
 * precomputed ModelInfo answer, and where each iris.v1.Flower field goes in
 * the model's input row.
 */
import { Code, IrisError } from "../errors.js";
import type { Feature, Hyperparameters, ModelInfoResponse } from "../gen/iris.js";
import type { IrisModel } from "../model/index.js";

/** The fields of iris.v1.Flower: the generated property and the proto/feature name. */
export const FLOWER_FIELDS = [
  { key: "sepalLength", name: "sepal_length" },
  { key: "sepalWidth", name: "sepal_width" },
  { key: "petalLength", name: "petal_length" },
  { key: "petalWidth", name: "petal_width" },
] as const;

export interface ServedModel {
  readonly model: IrisModel;
  readonly loadedAt: Date;
  readonly info: ModelInfoResponse;
  /**
   * Model input column of each Flower field, in FLOWER_FIELDS order
   * (sepal_length, sepal_width, petal_length, petal_width).
   */
  readonly columns: readonly [number, number, number, number];
}

/**
 * Wraps a loaded model for serving. Throws FAILED_PRECONDITION when the
 * model's features are not exactly the four Flower measurements (in any
 * order): such a model cannot be fed from this contract.
 */
export function serveModel(model: IrisModel, loadedAt: Date = new Date()): ServedModel {
  const names = FLOWER_FIELDS.map((f) => f.name);
  const columns = names.map((n) => model.featureNames.indexOf(n));
  if (model.numFeatures !== names.length || columns.includes(-1)) {
    throw new IrisError(
      Code.FAILED_PRECONDITION,
      `model features [${model.featureNames.join(", ")}] do not match the iris.v1.Flower fields [${names.join(", ")}]`,
    );
  }
  return Object.freeze({
    model,
    loadedAt,
    info: modelInfo(model, loadedAt),
    columns: columns as [number, number, number, number],
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

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * The dataset checksum recorded in the training provenance: the first
 * SHA-256 hex string under a key that names a checksum (`sha256`,
 * `checksum`, `datasetSha256`, ...), preferring keys under or naming the
 * dataset. Empty when there is none.
 */
export function datasetChecksum(training: Record<string, unknown>): string {
  const found: { path: string; value: string }[] = [];
  const walk = (v: unknown, path: string): void => {
    if (typeof v === "string" && SHA256_HEX.test(v) && /sha256|checksum|hash/i.test(path)) found.push({ path, value: v });
    else if (isRecord(v)) for (const [k, child] of Object.entries(v)) walk(child, path === "" ? k : `${path}.${k}`);
  };
  walk(training, "");
  const best = found.find((f) => /data/i.test(f.path)) ?? found[0];
  return best?.value.toLowerCase() ?? "";
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
  const h = a.hyperparameters;
  const hyperparameters: Hyperparameters = {
    c: h.C,
    penalty: h.penalty ?? "",
    maxIter: h.maxIter ?? 0,
    tol: h.tol ?? 0,
    testFraction: h.testFraction ?? 0,
    seed: h.seed ?? 0,
    folds: h.folds ?? 0,
  };
  return {
    name: a.name,
    version: model.version,
    format: a.format,
    algorithm: a.algorithm,
    features,
    classes: [...model.classes],
    hyperparameters,
    metrics: flattenMetrics(a.metrics),
    datasetChecksum: datasetChecksum(a.training),
    loadedAt,
    training: a.training,
  };
}
