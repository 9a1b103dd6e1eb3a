/**
 * The model artifact's content-hash version, and the validator that accepts
 * only a complete, well-formed artifact: the schema (./artifact-schema.ts),
 * then what JSON Schema cannot say (shapes, unique names, min <= max, the
 * version hash). Pure: no file I/O here (see ./load.ts).
 */
import { createHash } from "node:crypto";
import Schema from "typebox/schema";
import { Code, IrisError } from "../errors.js";
import { ModelArtifactSchema, PATTERN_PHRASES, type ModelArtifact } from "./artifact-schema.js";
import { firstSchemaProblem } from "./schema-problem.js";

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

/** The compiled schema, made on first use (compiling is cheap, but nobody pays for it at import). */
let compiled: Schema.Validator<typeof ModelArtifactSchema> | undefined;

function fail(source: string, path: string, message: string): never {
  throw new IrisError(Code.FAILED_PRECONDITION, `${source}: invalid model artifact: ${path}: ${message}`);
}

function unique(source: string, path: string, names: readonly string[]): void {
  const seen = new Set<string>();
  for (const [i, n] of names.entries()) {
    if (seen.has(n)) fail(source, `${path}[${i}]`, `duplicate name "${n}"`);
    seen.add(n);
  }
}

function length(source: string, path: string, values: readonly unknown[], expected: number, per: string): void {
  if (values.length !== expected) fail(source, path, `expected ${expected} entries (one per ${per}), got ${values.length}`);
}

/**
 * Checks that `value` is a complete model artifact and returns it typed.
 * Every failure is an IrisError (FAILED_PRECONDITION) naming `source` and the
 * JSON path of the first problem:
 * `<source>: invalid model artifact: <path>: <what is wrong>`.
 */
export function validateArtifact(value: unknown, source = "model"): ModelArtifact {
  compiled ??= Schema.Compile(ModelArtifactSchema);
  if (!compiled.Check(value)) {
    const [, errors] = compiled.Errors(value);
    const problem = firstSchemaProblem(ModelArtifactSchema, value, errors, PATTERN_PHRASES);
    fail(source, problem.path, problem.message);
  }
  const a = value;
  const featureNames = a.features.map((f) => f.name);
  unique(source, "features", featureNames);
  a.features.forEach((f, i) => {
    if (f.min > f.max) fail(source, `features[${i}]`, `min ${f.min} is greater than max ${f.max}`);
  });
  unique(source, "classes", a.classes);
  length(source, "coefficients", a.coefficients, a.classes.length, "class");
  a.coefficients.forEach((row, k) => length(source, `coefficients[${k}]`, row, featureNames.length, "feature"));
  length(source, "intercepts", a.intercepts, a.classes.length, "class");

  const expected = modelVersion({ features: featureNames, classes: a.classes, coefficients: a.coefficients, intercepts: a.intercepts });
  if (a.version !== expected) {
    fail(source, "version", `"${a.version}" does not match the parameters (their hash is "${expected}"); the file was altered or corrupted`);
  }
  return a;
}
