/**
 * A loaded multinomial logistic regression: pure, allocation-free prediction.
 * The server, the CLI and the benchmarks all predict through this class.
 */
import type { ModelArtifact } from "./artifact-schema.js";
import { FEATURE_UNIT } from "./features.js";
import { linearScores } from "./scoring.js";
import { SoftmaxKernel, type KernelLoan } from "./softmax-kernel.js";

/** One prediction: the winning class and the probability of every class. */
export interface Prediction {
  classIndex: number;
  /** Class label (`classes[classIndex]`). */
  label: string;
  /** Probabilities in model class order; they sum to 1. */
  probabilities: number[];
}

/**
 * Why a measurement cannot be fed to the model, or undefined when it can.
 * The one input rule shared by the server and the CLI: present, finite, ≥ 0.
 */
export function measurementProblem(value: number | null | undefined): string | undefined {
  if (value === undefined || value === null) return "is required";
  if (typeof value !== "number" || Number.isNaN(value)) return "must be a number, got NaN";
  if (!Number.isFinite(value)) return `must be finite, got ${value}`;
  if (value < 0) return `must be >= 0 ${FEATURE_UNIT}, got ${value}`;
  return undefined;
}

export class IrisModel {
  readonly artifact: ModelArtifact;
  readonly version: string;
  readonly classes: readonly string[];
  readonly featureNames: readonly string[];
  readonly numClasses: number;
  readonly numFeatures: number;
  /** Coefficients, row-major classes × features. */
  private readonly w: Float64Array;
  private readonly b: Float64Array;
  /** Scratch scores for the argmax-only batch path. */
  private readonly scores: Float64Array;
  /** Scratch for one row and its class, for predictInto. */
  private readonly one = new Float64Array(4);
  private readonly oneClass = new Int32Array(1);
  /** Each feature's training range, in model order: [min, max]. */
  private readonly low: Float64Array;
  private readonly high: Float64Array;
  /**
   * Whether the model has Iris's shape (3 classes × 4 features): prediction
   * then runs unrolled kernels, about twice as fast as the general loops and
   * bit-for-bit identical to them (same operations in the same order).
   */
  private readonly iris: boolean;

  /** Wraps an artifact that {@link validateArtifact} has accepted. */
  constructor(artifact: ModelArtifact) {
    this.artifact = artifact;
    this.version = artifact.version;
    this.classes = Object.freeze([...artifact.classes]);
    this.featureNames = Object.freeze(artifact.features.map((f) => f.name));
    this.numClasses = artifact.classes.length;
    this.numFeatures = artifact.features.length;
    this.w = Float64Array.from(artifact.coefficients.flat());
    this.b = Float64Array.from(artifact.intercepts);
    this.scores = new Float64Array(this.numClasses);
    this.low = Float64Array.from(artifact.features, (f) => f.min);
    this.high = Float64Array.from(artifact.features, (f) => f.max);
    this.iris = this.numClasses === 3 && this.numFeatures === 4;
  }

  /**
   * Which of a row's measurements lie outside the range the model was
   * trained on (each feature's [min, max] in the artifact): bit j is set
   * for feature j (model order) when it does. 0 when all are within: the
   * model is interpolating; otherwise it extrapolates, and the answer,
   * though computed the same way, deserves less trust.
   */
  outOfRange(x: ArrayLike<number>, offset = 0): number {
    const { low, high, numFeatures: d } = this;
    let mask = 0;
    for (let j = 0; j < d; j++) {
      const v = x[offset + j]!;
      if (v < low[j]! || v > high[j]!) mask |= 1 << j;
    }
    return mask;
  }

  /**
   * {@link outOfRange} for each row of a row-major matrix (rows ×
   * numFeatures), into `masks`; returns how many rows have a bit set.
   */
  outOfRangeBatch(x: Float64Array, rows: number, masks: Uint32Array): number {
    const d = this.numFeatures;
    if (masks.length < rows) throw new RangeError(`masks holds ${masks.length}, expected ${rows}`);
    if (d === 4) return this.outOfRangeBatch4(x, rows, masks);
    let flagged = 0;
    for (let r = 0; r < rows; r++) {
      const mask = this.outOfRange(x, r * d);
      masks[r] = mask;
      if (mask !== 0) flagged++;
    }
    return flagged;
  }

  /** {@link outOfRangeBatch} unrolled for 4 features. */
  private outOfRangeBatch4(x: Float64Array, rows: number, masks: Uint32Array): number {
    const { low, high } = this;
    const l0 = low[0]!;
    const l1 = low[1]!;
    const l2 = low[2]!;
    const l3 = low[3]!;
    const h0 = high[0]!;
    const h1 = high[1]!;
    const h2 = high[2]!;
    const h3 = high[3]!;
    let flagged = 0;
    for (let r = 0, o = 0; r < rows; r++, o += 4) {
      const v0 = x[o]!;
      const v1 = x[o + 1]!;
      const v2 = x[o + 2]!;
      const v3 = x[o + 3]!;
      const mask =
        (v0 < l0 || v0 > h0 ? 1 : 0) | (v1 < l1 || v1 > h1 ? 2 : 0) | (v2 < l2 || v2 > h2 ? 4 : 0) | (v3 < l3 || v3 > h3 ? 8 : 0);
      masks[r] = mask;
      if (mask !== 0) flagged++;
    }
    return flagged;
  }

  /** The names of the features a mask of {@link outOfRange} flags, in model order. */
  featuresOf(mask: number): string[] {
    const names: string[] = [];
    for (let j = 0; j < this.numFeatures; j++) if (mask & (1 << j)) names.push(this.featureNames[j]!);
    return names;
  }

  /**
   * Class probabilities for one row (numerically stable softmax), written
   * into `out[offset .. offset + numClasses)`. Returns the index of the most
   * probable class. No allocation.
   */
  predictInto(row: ArrayLike<number>, out: Float64Array, offset = 0): number {
    if (!this.iris) return this.predictRow(row, 0, out, offset);
    // The batch kernel, on a copy of the row: one implementation of the unrolled math.
    const one = this.one;
    for (let j = 0; j < 4; j++) one[j] = row[j]!;
    this.predictBatch3x4(one, 0, 1, this.oneClass, out, offset);
    return this.oneClass[0]!;
  }

  /** Predicts one row; allocates the result (convenience path). */
  predict(row: ArrayLike<number>): Prediction {
    const probs = new Float64Array(this.numClasses);
    const classIndex = this.predictInto(row, probs, 0);
    return { classIndex, label: this.classes[classIndex]!, probabilities: Array.from(probs) };
  }

  /**
   * Batch prediction over a row-major matrix `x` (rows × numFeatures).
   * Writes the class index of each row into `classesOut` and, when given, the
   * probabilities into `probabilitiesOut` (rows × numClasses). Nothing is
   * allocated per row. For a 3-class, 4-feature model the probabilities come
   * from the WebAssembly kernel (./softmax-kernel.ts), bit for bit what the
   * JavaScript kernel gives.
   */
  predictBatch(x: Float64Array, rows: number, classesOut: Int32Array, probabilitiesOut?: Float64Array): void {
    const d = this.numFeatures;
    const k = this.numClasses;
    if (x.length < rows * d) throw new RangeError(`x holds ${x.length} values, expected ${rows * d}`);
    if (classesOut.length < rows) throw new RangeError(`classesOut holds ${classesOut.length}, expected ${rows}`);
    if (probabilitiesOut && probabilitiesOut.length < rows * k) {
      throw new RangeError(`probabilitiesOut holds ${probabilitiesOut.length}, expected ${rows * k}`);
    }
    if (probabilitiesOut) {
      const kernel = this.iris ? SoftmaxKernel.shared() : null;
      if (kernel !== null) {
        // The rows the WebAssembly kernel leaves are the JavaScript kernel's, one by one.
        kernel.run(this.w, this.b, x, rows, classesOut, probabilitiesOut, (r) =>
          this.predictBatch3x4(x, r, r + 1, classesOut, probabilitiesOut, 0),
        );
      } else if (this.iris) this.predictBatch3x4(x, 0, rows, classesOut, probabilitiesOut, 0);
      else for (let r = 0; r < rows; r++) classesOut[r] = this.predictRow(x, r * d, probabilitiesOut, r * k);
    } else {
      if (this.iris) this.predictBatch3x4(x, 0, rows, classesOut, undefined, 0);
      else for (let r = 0; r < rows; r++) classesOut[r] = this.argmaxRow(x, r * d);
    }
  }

  /**
   * The batch kernel's own memory for `rows` rows, for a caller that can
   * write the measurements (model order) straight into its `x`; then
   * predictLent() writes the classes and probabilities in place, as
   * predictBatch() would. Undefined when this model does not run the
   * WebAssembly kernel (not 3 classes × 4 features, or no WebAssembly
   * SIMD). The loan ends at the kernel's next use, by any model.
   */
  lendBatch(rows: number): KernelLoan | undefined {
    return this.iris ? SoftmaxKernel.shared()?.lend(rows) : undefined;
  }

  /** predictBatch() with probabilities, on the rows of a loan from lendBatch(). */
  predictLent(loan: KernelLoan): void {
    SoftmaxKernel.shared()!.runLent(this.w, this.b, loan, (r) => this.predictBatch3x4(loan.x, r, r + 1, loan.classes, loan.probabilities, 0));
  }

  /** Scores (logits) → softmax into out[offset..]; returns the argmax. */
  private predictRow(x: ArrayLike<number>, xOffset: number, out: Float64Array, offset: number): number {
    const { w, b, numClasses: k, numFeatures: d } = this;
    const best = linearScores(w, b, d, x, xOffset, out, offset);
    for (let c = 0; c < k; c++) {
      if (!Number.isFinite(out[offset + c]!)) return this.predictRowScaled(x, xOffset, out, offset);
    }
    const max = out[offset + best]!;
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(out[offset + c]! - max);
      out[offset + c] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let c = 0; c < k; c++) out[offset + c]! *= inv;
    return best;
  }

  /** The most probable class without computing probabilities. */
  private argmaxRow(x: Float64Array, xOffset: number): number {
    const { w, b, numClasses: k, numFeatures: d, scores } = this;
    const best = linearScores(w, b, d, x, xOffset, scores, 0);
    for (let c = 0; c < k; c++) {
      if (!Number.isFinite(scores[c]!)) return this.predictRowScaled(x, xOffset, scores, 0);
    }
    return best;
  }

  /**
   * {@link predictRow} for rows [from, to) of `x`, unrolled for 3 classes ×
   * 4 features, each row's class into classesOut[row] and probabilities into
   * out[offset + 3 row ..] (or, without `out`, {@link argmaxRow}):
   * one loop with the coefficients in locals, on typed arrays only, so that
   * every access stays monomorphic.
   */
  private predictBatch3x4(x: Float64Array, from: number, to: number, classesOut: Int32Array, out: Float64Array | undefined, offset: number): void {
    const { w, b } = this;
    const w0 = w[0]!, w1 = w[1]!, w2 = w[2]!, w3 = w[3]!;
    const w4 = w[4]!, w5 = w[5]!, w6 = w[6]!, w7 = w[7]!;
    const w8 = w[8]!, w9 = w[9]!, w10 = w[10]!, w11 = w[11]!;
    const b0 = b[0]!, b1 = b[1]!, b2 = b[2]!;
    for (let r = from, o = from * 4, p = offset + from * 3; r < to; r++, o += 4, p += 3) {
      const x0 = x[o]!;
      const x1 = x[o + 1]!;
      const x2 = x[o + 2]!;
      const x3 = x[o + 3]!;
      const z0 = b0 + w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;
      const z1 = b1 + w4 * x0 + w5 * x1 + w6 * x2 + w7 * x3;
      const z2 = b2 + w8 * x0 + w9 * x1 + w10 * x2 + w11 * x3;
      if (!(Number.isFinite(z0) && Number.isFinite(z1) && Number.isFinite(z2))) {
        classesOut[r] = out === undefined ? this.predictRowScaled(x, o, this.scores, 0) : this.predictRowScaled(x, o, out, p);
        continue;
      }
      let best = 0;
      let max = z0;
      if (z1 > max) {
        max = z1;
        best = 1;
      }
      if (z2 > max) {
        max = z2;
        best = 2;
      }
      classesOut[r] = best;
      if (out === undefined) continue;
      // exp(0) is exactly 1: the most probable class needs no exp.
      const e0 = best === 0 ? 1 : Math.exp(z0 - max);
      const e1 = best === 1 ? 1 : Math.exp(z1 - max);
      const e2 = best === 2 ? 1 : Math.exp(z2 - max);
      const inv = 1 / (e0 + e1 + e2);
      out[p] = e0 * inv;
      out[p + 1] = e1 * inv;
      out[p + 2] = e2 * inv;
    }
  }

  /**
   * The slow path for inputs so large that a score overflows float64 (or
   * overflowed terms cancel into NaN): scores are computed divided by the
   * largest input magnitude s, compared there, and their differences scaled
   * back inside the exponent, so the probabilities are what float64 can
   * represent of the exact softmax (0 or 1 at such sizes) and never NaN.
   */
  private predictRowScaled(x: ArrayLike<number>, xOffset: number, out: Float64Array, offset: number): number {
    const { w, b, numClasses: k, numFeatures: d } = this;
    let s = 1;
    for (let j = 0; j < d; j++) s = Math.max(s, Math.abs(x[xOffset + j]!));
    let best = 0;
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let z = b[c]! / s;
      const base = c * d;
      for (let j = 0; j < d; j++) z += w[base + j]! * (x[xOffset + j]! / s);
      out[offset + c] = z;
      if (z > max) {
        max = z;
        best = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < k; c++) {
      // (z_c − max)·s <= 0; it may overflow to −Infinity, whose exp is 0.
      const e = Math.exp((out[offset + c]! - max) * s);
      out[offset + c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) out[offset + c]! /= sum;
    return best;
  }
}
