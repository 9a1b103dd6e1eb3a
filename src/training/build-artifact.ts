/**
 * Assembling the model artifact and the metrics document from a finished
 * run. Key order is fixed here, and nothing in either depends on the clock
 * (unless SOURCE_DATE_EPOCH gave a `createdAt`), the machine or the Node
 * version, so the same data and options give the same bytes.
 */
import {
  ALGORITHM,
  ARTIFACT_FORMAT,
  FEATURE_UNIT,
  modelVersion,
  type ArtifactMetrics,
  type FeatureSpec,
  type ModelArtifact,
} from "../model/index.js";
import type { Dataset } from "./dataset.js";
import type { FitResult } from "./newton.js";
import type { TrainOptions } from "./options.js";

/** The model's name in every artifact. */
const MODEL_NAME = "iris-logreg";
/** Schema id of metrics.json. */
const METRICS_FORMAT = "iris-serve.metrics.v1";

export interface ArtifactInput {
  options: TrainOptions;
  dataset: Dataset;
  /** The path to record for the data set (as given, `/`-separated). */
  datasetPath: string;
  trainRows: Int32Array;
  testRows: Int32Array;
  fit: FitResult;
  metrics: ArtifactMetrics;
  libraries: Record<string, string>;
}

/** Statistics of each feature over the training rows (std: population, ddof = 0). */
function featureStatistics(dataset: Dataset, rows: Int32Array): FeatureSpec[] {
  const d = dataset.featureNames.length;
  return dataset.featureNames.map((name, j) => {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const r of rows) {
      const v = dataset.x[r * d + j]!;
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    const mean = sum / rows.length;
    let squares = 0;
    for (const r of rows) squares += (dataset.x[r * d + j]! - mean) ** 2;
    return { name, unit: FEATURE_UNIT, min, max, mean, std: Math.sqrt(squares / rows.length) };
  });
}

function classCounts(classes: readonly string[], y: Int32Array, rows?: Int32Array): Record<string, number> {
  const counts = new Array<number>(classes.length).fill(0);
  if (rows) for (const r of rows) counts[y[r]!]!++;
  else for (const k of y) counts[k]!++;
  return Object.fromEntries(classes.map((c, k) => [c, counts[k]!]));
}

/** The artifact, with `createdAt` only when the options carry one. */
export function buildArtifact(input: ArtifactInput): ModelArtifact {
  const { options, dataset, fit, metrics } = input;
  const k = dataset.classes.length;
  const d = dataset.featureNames.length;
  const coefficients = Array.from({ length: k }, (_, c) => Array.from(fit.coefficients.subarray(c * d, (c + 1) * d)));
  const intercepts = Array.from(fit.intercepts);
  const classes = [...dataset.classes];
  const features = featureStatistics(dataset, input.trainRows);
  const version = modelVersion({ features: features.map((f) => f.name), classes, coefficients, intercepts });
  return {
    format: ARTIFACT_FORMAT,
    name: MODEL_NAME,
    version,
    algorithm: ALGORITHM,
    ...(options.createdAt === undefined ? {} : { createdAt: options.createdAt }),
    features,
    classes,
    coefficients,
    intercepts,
    hyperparameters: {
      C: options.C,
      penalty: "l2",
      maxIter: options.maxIter,
      tol: options.tol,
      testFraction: options.testFraction,
      seed: options.seed,
      folds: options.folds,
    },
    training: {
      dataset: {
        path: input.datasetPath,
        sha256: dataset.sha256,
        rows: dataset.rows,
        classCounts: classCounts(classes, dataset.y),
      },
      trainRows: input.trainRows.length,
      testRows: input.testRows.length,
      seed: options.seed,
      split: {
        method: options.testFraction === 0 ? "none (all rows train)" : "stratified-shuffle",
        testFraction: options.testFraction,
        prng: "mulberry32",
        trainClassCounts: classCounts(classes, dataset.y, input.trainRows),
        testClassCounts: classCounts(classes, dataset.y, input.testRows),
      },
      optimizer: {
        method: "newton",
        linearSolver: "cholesky (ml-matrix)",
        lineSearch: "backtracking (Armijo)",
        objective: "0.5*||W||^2 + C*sum_i -log softmax(W x_i + b)[y_i]; intercepts unpenalised, centred",
        iterations: fit.iterations,
        gradientNorm: fit.gradientNorm,
        gradientNormDefinition: "max |gradient| / (C * trainRows)",
        converged: fit.converged,
        objectiveValue: fit.objective,
      },
      libraries: input.libraries,
    },
    metrics,
  };
}

/** metrics.json: the evaluation figures, tied to the model version and data set. */
export function buildMetricsDocument(artifact: ModelArtifact, input: ArtifactInput): Record<string, unknown> {
  return {
    format: METRICS_FORMAT,
    model: { name: artifact.name, version: artifact.version },
    ...(artifact.createdAt === undefined ? {} : { createdAt: artifact.createdAt }),
    dataset: { path: input.datasetPath, sha256: input.dataset.sha256, rows: input.dataset.rows },
    ...input.metrics,
  };
}
