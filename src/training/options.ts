/**
 * The trainer's options: defaults, and one check of every value up front.
 * Messages name the command-line flag, since that is how people set them.
 */
import { Code, IrisError } from "../errors.js";
import { MAX_INT32, MAX_SEED } from "../model/index.js";

export interface TrainOptions {
  /** CSV file to train on. */
  data: string;
  /** Directory the artifacts are written to. */
  out: string;
  /** Inverse L2 regularisation strength (scikit-learn's C), > 0. */
  C: number;
  /** Share of rows held out for testing, in [0, 1); 0 trains on all rows. */
  testFraction: number;
  /** PRNG seed for the split and the folds, an integer in [0, 2^32). */
  seed: number;
  /** Cross-validation folds, >= 2. */
  folds: number;
  /** Most Newton iterations per fit, from 1 to 2^31 − 1. */
  maxIter: number;
  /** Convergence tolerance on the scaled gradient norm, > 0. */
  tol: number;
  /** Fail (write nothing) when held-out accuracy is below this, in [0, 1]. */
  minAccuracy?: number;
  /** ISO time written as `createdAt` (from SOURCE_DATE_EPOCH); omitted when undefined. */
  createdAt?: string;
}

export const DEFAULT_TRAIN_OPTIONS: Readonly<TrainOptions> = Object.freeze({
  data: "data/iris.csv",
  out: "artifacts",
  C: 1,
  testFraction: 0.2,
  seed: 42,
  folds: 5,
  maxIter: 100,
  tol: 1e-10,
});

function bad(message: string): never {
  throw new IrisError(Code.INVALID_ARGUMENT, message);
}

function finite(flag: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) bad(`--${flag} must be a finite number, got ${String(value)}`);
  return value;
}

function integer(flag: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = finite(flag, value);
  if (!Number.isInteger(v) || v < min || v > max) {
    bad(`--${flag} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got ${v}`);
  }
  return v;
}

/**
 * Fills in defaults and checks every option; throws an INVALID_ARGUMENT
 * IrisError naming the first bad one. Checks that need the data (folds
 * against the smallest class) happen in the trainer, before any fitting.
 */
export function checkTrainOptions(partial: Partial<TrainOptions> = {}): TrainOptions {
  const o = { ...DEFAULT_TRAIN_OPTIONS, ...partial };
  if (typeof o.data !== "string" || o.data.trim() === "") bad("--data must name a CSV file");
  if (typeof o.out !== "string" || o.out.trim() === "") bad("--out must name a directory");
  if (!(finite("c", o.C) > 0)) bad(`--c must be > 0, got ${o.C}`);
  const testFraction = finite("test-fraction", o.testFraction);
  if (testFraction < 0 || testFraction >= 1) bad(`--test-fraction must be >= 0 and < 1, got ${testFraction}`);
  integer("seed", o.seed, 0, MAX_SEED);
  integer("folds", o.folds, 2);
  integer("max-iter", o.maxIter, 1, MAX_INT32);
  if (!(finite("tol", o.tol) > 0)) bad(`--tol must be > 0, got ${o.tol}`);
  if (o.minAccuracy !== undefined) {
    const min = finite("min-accuracy", o.minAccuracy);
    if (min < 0 || min > 1) bad(`--min-accuracy must be between 0 and 1, got ${min}`);
    if (testFraction === 0) bad("--min-accuracy needs held-out rows: it cannot be used with --test-fraction 0");
  }
  const options: TrainOptions = {
    data: o.data,
    out: o.out,
    C: o.C,
    testFraction,
    seed: o.seed,
    folds: o.folds,
    maxIter: o.maxIter,
    tol: o.tol,
  };
  if (o.minAccuracy !== undefined) options.minAccuracy = o.minAccuracy;
  if (o.createdAt !== undefined) options.createdAt = o.createdAt;
  return options;
}

/**
 * `createdAt` from the reproducible-builds SOURCE_DATE_EPOCH convention
 * (whole seconds since 1970): undefined when unset or empty, an error when
 * malformed.
 */
export function createdAtFromEpoch(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,12}$/.test(raw)) bad(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got "${raw}"`);
  return new Date(Number(raw) * 1000).toISOString();
}
