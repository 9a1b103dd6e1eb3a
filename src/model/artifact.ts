/**
 * The model artifact (`artifacts/model.json`): its schema, its content-hash
 * version, and a validator that accepts only a complete, well-formed one.
 * Pure: no file I/O here (see ./load.ts).
 */
import { createHash } from "node:crypto";
import { Code, IrisError } from "../errors.js";

/** Schema id written into every artifact; bump the suffix on breaking changes. */
export const ARTIFACT_FORMAT = "iris-serve.model.v1";
/** The only algorithm this format describes. */
export const ALGORITHM = "multinomial-logistic-regression";

/** One input feature, in model order, with statistics of the training rows. */
export interface FeatureSpec {
  name: string;
  unit: string;
  min: number;
  max: number;
  mean: number;
  std: number;
}

/** What the optimizer was asked to do and how the data was split. */
export interface Hyperparameters {
  /** Inverse L2 regularisation strength, as scikit-learn's `C`. */
  C: number;
  penalty: "l2";
  maxIter: number;
  tol: number;
  testFraction: number;
  seed: number;
  folds: number;
}

export interface ModelArtifact {
  format: typeof ARTIFACT_FORMAT;
  /** Short model name, e.g. `iris-logreg`. */
  name: string;
  /** Content hash of features, classes and parameters (see {@link modelVersion}). */
  version: string;
  algorithm: typeof ALGORITHM;
  features: FeatureSpec[];
  /** Class labels in model order (index = class index). */
  classes: string[];
  /** classes × features. */
  coefficients: number[][];
  /** One per class, centred (sum 0). */
  intercepts: number[];
  hyperparameters: Hyperparameters;
  /** Provenance: dataset checksum, row counts, optimizer report, library versions. */
  training: Record<string, unknown>;
  /** Evaluation figures (held-out and cross-validation). */
  metrics: Record<string, unknown>;
}

/** The parameters that define a model's predictions; its version hashes exactly these. */
export interface ModelParameters {
  features: readonly string[];
  classes: readonly string[];
  coefficients: readonly (readonly number[])[];
  intercepts: readonly number[];
}

/**
 * The model's version: the first 16 hex digits of the SHA-256 of its
 * parameters as canonical JSON. Equal models get equal versions on every
 * platform (JSON number formatting is exact and deterministic).
 */
export function modelVersion(p: ModelParameters): string {
  const canonical = JSON.stringify({
    features: p.features,
    classes: p.classes,
    coefficients: p.coefficients,
    intercepts: p.intercepts,
  });
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/** Where a validation failure happened: file name (if any) and JSON path. */
function fail(source: string, path: string, message: string): never {
  throw new IrisError(Code.FAILED_PRECONDITION, `${source}: invalid model artifact: ${path}: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function finite(source: string, path: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v)) fail(source, path, `expected a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function nonEmptyString(source: string, path: string, v: unknown): string {
  if (typeof v !== "string" || v.trim() === "") fail(source, path, `expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function array(source: string, path: string, v: unknown, length?: number): unknown[] {
  if (!Array.isArray(v)) fail(source, path, `expected an array, got ${v === null ? "null" : typeof v}`);
  if (length !== undefined && v.length !== length) fail(source, path, `expected ${length} entries, got ${v.length}`);
  return v;
}

function unique(source: string, path: string, names: string[]): void {
  const seen = new Set<string>();
  for (const [i, n] of names.entries()) {
    if (seen.has(n)) fail(source, `${path}[${i}]`, `duplicate name "${n}"`);
    seen.add(n);
  }
}

/**
 * Checks that `value` is a complete model artifact and returns it typed.
 * Every failure is an IrisError (FAILED_PRECONDITION) naming `source` and the
 * JSON path of the first problem.
 */
export function validateArtifact(value: unknown, source = "model"): ModelArtifact {
  if (!isObject(value)) fail(source, "$", "expected a JSON object");
  if (value.format !== ARTIFACT_FORMAT) {
    fail(source, "format", `expected "${ARTIFACT_FORMAT}", got ${JSON.stringify(value.format)}`);
  }
  if (value.algorithm !== ALGORITHM) {
    fail(source, "algorithm", `expected "${ALGORITHM}", got ${JSON.stringify(value.algorithm)}`);
  }
  nonEmptyString(source, "name", value.name);
  const version = nonEmptyString(source, "version", value.version);

  const features = array(source, "features", value.features);
  if (features.length === 0) fail(source, "features", "expected at least one feature");
  features.forEach((f, i) => {
    const p = `features[${i}]`;
    if (!isObject(f)) fail(source, p, "expected an object");
    nonEmptyString(source, `${p}.name`, f.name);
    nonEmptyString(source, `${p}.unit`, f.unit);
    for (const key of ["min", "max", "mean", "std"] as const) finite(source, `${p}.${key}`, f[key]);
  });
  const featureNames = (features as FeatureSpec[]).map((f) => f.name);
  unique(source, "features", featureNames);

  const classes = array(source, "classes", value.classes);
  if (classes.length < 2) fail(source, "classes", `expected at least 2 classes, got ${classes.length}`);
  classes.forEach((c, i) => nonEmptyString(source, `classes[${i}]`, c));
  unique(source, "classes", classes as string[]);

  const coefficients = array(source, "coefficients", value.coefficients, classes.length);
  coefficients.forEach((row, k) => {
    array(source, `coefficients[${k}]`, row, features.length).forEach((c, j) =>
      finite(source, `coefficients[${k}][${j}]`, c),
    );
  });
  array(source, "intercepts", value.intercepts, classes.length).forEach((b, k) => finite(source, `intercepts[${k}]`, b));

  if (!isObject(value.hyperparameters)) fail(source, "hyperparameters", "expected an object");
  finite(source, "hyperparameters.C", value.hyperparameters.C);
  if (!isObject(value.training)) fail(source, "training", "expected an object");
  if (!isObject(value.metrics)) fail(source, "metrics", "expected an object");

  const expected = modelVersion({
    features: featureNames,
    classes: classes as string[],
    coefficients: coefficients as number[][],
    intercepts: value.intercepts as number[],
  });
  if (version !== expected) {
    fail(source, "version", `"${version}" does not match the parameters (their hash is "${expected}"); the file was altered or corrupted`);
  }
  return value as unknown as ModelArtifact;
}
