/**
 * One training run: load the CSV, split it (stratified, seeded), cross-
 * validate on the training part, fit the model on the training part,
 * evaluate it on the held-out part, and render the artifacts — all in
 * memory. Nothing is written until writeTrainingOutputs (./output.ts), so a run
 * that fails (bad data, bad options, quality gate) leaves the output
 * directory untouched.
 */
import { isAbsolute, normalize, posix, sep } from "node:path";
import { Code, IrisError } from "../errors.js";
import {
  linearScores,
  logSoftmaxAt,
  validateArtifact,
  type ArtifactMetrics,
  type CrossValidationMetrics,
  type HeldOutMetrics,
  type ModelArtifact,
} from "../model/index.js";
import type { OutputFile } from "./atomic-write.js";
import { buildArtifact, buildMetricsDocument, type ArtifactInput } from "./build-artifact.js";
import { loadDataset, type Dataset } from "./dataset.js";
import { formatJson } from "./json.js";
import { classificationMetrics, confusionMatrix, logLoss, meanStd } from "./metrics.js";
import { fitSoftmax, type FitResult } from "./newton.js";
import { checkTrainOptions, type TrainOptions } from "./options.js";
import { checkOutputDirectory, OUTPUT_FILES } from "./output.js";
import { deriveSeed } from "./prng.js";
import { plural } from "../report/index.js";
import { renderHtml, renderMarkdown } from "./report/index.js";
import { rowsByClass, stratifiedKFold, stratifiedSplit, type Split } from "./split.js";
import { libraryVersions } from "./versions.js";

/** Independent PRNG streams derived from the seed. */
const SPLIT_STREAM = 0;
const FOLD_STREAM = 1;

export interface TrainingRun {
  options: TrainOptions;
  dataset: Dataset;
  split: Split;
  fit: FitResult;
  artifact: ModelArtifact;
  metrics: ArtifactMetrics;
  /** Rendered outputs, ready to write. */
  files: OutputFile[];
  /** Things a person should know (non-convergence); the CLI prints them to stderr. */
  warnings: string[];
}

/**
 * What a model predicts for some rows, and each row's log-probability of its
 * true class: scored by the model module's own arithmetic, so the figures
 * are those of the model as it will be served.
 */
function evaluateRows(
  coefficients: Float64Array,
  intercepts: Float64Array,
  dataset: Dataset,
  rows: Int32Array,
): { predicted: Int32Array; logProbTrue: Float64Array } {
  const d = dataset.featureNames.length;
  const k = intercepts.length;
  const z = new Float64Array(k);
  const predicted = new Int32Array(rows.length);
  const logProbTrue = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    predicted[i] = linearScores(coefficients, intercepts, d, dataset.x, r * d, z, 0);
    logProbTrue[i] = logSoftmaxAt(z, 0, k, dataset.y[r]!);
  });
  return { predicted, logProbTrue };
}

function labelsOf(dataset: Dataset, rows: Int32Array): Int32Array {
  return rows.map((r) => dataset.y[r]!);
}

/** The data set's path as recorded in the artifact: as given, `/`-separated, without `./`. */
export function recordedPath(path: string): string {
  const normalised = normalize(path).split(sep).join(posix.sep);
  return isAbsolute(path) ? normalised : posix.normalize(normalised);
}

/** Fits on `rows`; a fit whose numbers overflowed float64 is a usage error (no model can come of it). */
function fitRows(dataset: Dataset, rows: Int32Array, options: TrainOptions): FitResult {
  const fit = fitSoftmax(
    { x: dataset.x, y: dataset.y, rows, numFeatures: dataset.featureNames.length, numClasses: dataset.classes.length },
    { C: options.C, maxIter: options.maxIter, tol: options.tol },
  );
  if (fit.stopReason === "non-finite") {
    const largest = dataset.x.reduce((m, v) => Math.max(m, v), 0);
    throw new IrisError(
      Code.INVALID_ARGUMENT,
      `the fit overflows float64 after ${plural(fit.iterations, "Newton step")} ` +
        `(--c ${options.C}, largest measurement ${largest} cm in ${options.data}): use a smaller --c, or rescale the data`,
    );
  }
  return fit;
}

/** Checks what only the data can tell: every class trains, and the folds fit the smallest class. */
function checkAgainstData(dataset: Dataset, split: Split, options: TrainOptions): void {
  const counts = rowsByClass(dataset.y, dataset.classes.length, split.train).map((r) => r.length);
  counts.forEach((n, k) => {
    if (n === 0) {
      throw new IrisError(
        Code.INVALID_ARGUMENT,
        `--test-fraction ${options.testFraction} leaves no training rows of "${dataset.classes[k]}"; use a smaller fraction`,
      );
    }
  });
  const smallest = Math.min(...counts);
  const k = counts.indexOf(smallest);
  if (smallest < 2) {
    throw new IrisError(
      Code.INVALID_ARGUMENT,
      `only ${smallest} training row of "${dataset.classes[k]}" is left, too few to cross-validate` +
        (options.testFraction > 0 ? `; use a smaller --test-fraction than ${options.testFraction}` : ""),
    );
  }
  if (options.folds > smallest) {
    throw new IrisError(
      Code.INVALID_ARGUMENT,
      `--folds ${options.folds} is more than the ${smallest} training rows of "${dataset.classes[k]}"; ` +
        `use at most ${smallest} folds`,
    );
  }
}

function crossValidate(dataset: Dataset, rows: Int32Array, options: TrainOptions): CrossValidationMetrics {
  const folds = stratifiedKFold(
    dataset.y,
    dataset.classes.length,
    rows,
    options.folds,
    deriveSeed(options.seed, FOLD_STREAM),
  );
  const accuracies: number[] = [];
  let maxIterations = 0;
  let allConverged = true;
  for (const fold of folds) {
    const fit = fitRows(dataset, fold.train, options);
    maxIterations = Math.max(maxIterations, fit.iterations);
    allConverged &&= fit.converged;
    const { predicted } = evaluateRows(fit.coefficients, fit.intercepts, dataset, fold.test);
    const truth = labelsOf(dataset, fold.test);
    let correct = 0;
    for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) correct++;
    accuracies.push(correct / truth.length);
  }
  const { mean, std } = meanStd(accuracies);
  return {
    method: "stratified-k-fold",
    folds: options.folds,
    rows: rows.length,
    accuracyMean: mean,
    accuracyStd: std,
    std: "population (ddof=0)",
    foldAccuracies: accuracies,
    maxIterations,
    allConverged,
  };
}

/**
 * Runs the whole training in memory. Throws an INVALID_ARGUMENT IrisError
 * for bad options or data; writes nothing.
 */
export async function train(partial: Partial<TrainOptions>): Promise<TrainingRun> {
  const options = checkTrainOptions(partial);
  await checkOutputDirectory(options.out);
  const dataset = await loadDataset(options.data);
  const numClasses = dataset.classes.length;
  const split: Split =
    options.testFraction === 0
      ? { train: Int32Array.from({ length: dataset.rows }, (_, i) => i), test: new Int32Array(0) }
      : stratifiedSplit(dataset.y, numClasses, options.testFraction, deriveSeed(options.seed, SPLIT_STREAM));
  checkAgainstData(dataset, split, options);

  const crossValidation = crossValidate(dataset, split.train, options);
  const fit = fitRows(dataset, split.train, options);

  const onTrain = evaluateRows(fit.coefficients, fit.intercepts, dataset, split.train);
  const trainTruth = labelsOf(dataset, split.train);
  const trainCorrect = trainTruth.reduce((s, t, i) => s + (t === onTrain.predicted[i] ? 1 : 0), 0);
  let heldOut: HeldOutMetrics | null = null;
  if (split.test.length > 0) {
    const onTest = evaluateRows(fit.coefficients, fit.intercepts, dataset, split.test);
    const scores = classificationMetrics(
      confusionMatrix(labelsOf(dataset, split.test), onTest.predicted, numClasses),
      dataset.classes,
    );
    heldOut = { ...scores, logLoss: logLoss(onTest.logProbTrue) };
  }
  const metrics: ArtifactMetrics = {
    heldOut,
    crossValidation,
    train: { rows: split.train.length, accuracy: trainCorrect / split.train.length, logLoss: logLoss(onTrain.logProbTrue) },
  };

  const warnings: string[] = [];
  if (!fit.converged) {
    warnings.push(
      `the optimizer did not converge in ${plural(fit.iterations, "iteration")} (gradient norm ${fit.gradientNorm.toExponential(2)} > --tol ${options.tol}, stopped by ${fit.stopReason}); the model may be inexact: raise --max-iter or --tol`,
    );
  }
  if (!crossValidation.allConverged) {
    warnings.push("some cross-validation fits did not converge; their accuracies may be inexact");
  }

  const datasetPath = recordedPath(options.data);
  const input: ArtifactInput = {
    options,
    dataset,
    datasetPath,
    trainRows: split.train,
    testRows: split.test,
    fit,
    metrics,
    libraries: libraryVersions(),
  };
  const artifact = buildArtifact(input);
  // The artifact must pass the same validation every consumer applies.
  const modelJson = formatJson(artifact);
  validateArtifact(JSON.parse(modelJson), "trained model");
  const report = {
    artifact,
    heldOut,
    crossValidation,
    train: metrics.train,
    datasetPath,
    sha256: dataset.sha256,
    iterations: fit.iterations,
    gradientNorm: fit.gradientNorm,
    converged: fit.converged,
    trainRows: split.train.length,
    testRows: split.test.length,
  };
  const contents: Record<(typeof OUTPUT_FILES)[number], string> = {
    "report.md": renderMarkdown(report),
    "report.html": renderHtml(report),
    "metrics.json": formatJson(buildMetricsDocument(artifact, input)),
    "model.json": modelJson,
  };
  const files = OUTPUT_FILES.map((name) => ({ name, content: contents[name] }));
  return { options, dataset, split, fit, artifact, metrics, files, warnings };
}

/**
 * The quality gate: throws (FAILED_PRECONDITION, CLI exit 1) when held-out
 * accuracy is below `--min-accuracy`.
 */
export function checkQualityGate(run: TrainingRun): void {
  const min = run.options.minAccuracy;
  if (min === undefined || run.metrics.heldOut === null) return;
  const { accuracy, correct, rows } = run.metrics.heldOut;
  if (accuracy < min) {
    throw new IrisError(
      Code.FAILED_PRECONDITION,
      `held-out accuracy ${accuracy.toFixed(4)} (${correct}/${rows}) is below --min-accuracy ${min}; nothing was written`,
    );
  }
}
