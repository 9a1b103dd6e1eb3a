/**
 * A loaded multinomial logistic regression: pure, allocation-free prediction.
 * The server, the CLI and the benchmarks all predict through this class.
 */
import type { ModelArtifact } from "./artifact.js";

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
  if (value < 0) return `must be >= 0 cm, got ${value}`;
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
  }

  /**
   * Class probabilities for one row (numerically stable softmax), written
   * into `out[offset .. offset + numClasses)`. Returns the index of the most
   * probable class. No allocation.
   */
  predictInto(row: ArrayLike<number>, out: Float64Array, offset = 0): number {
    return this.predictRow(row, 0, out, offset);
  }

  /** Predicts one row; allocates the result (convenience path). */
  predict(row: ArrayLike<number>): Prediction {
    const probs = new Float64Array(this.numClasses);
    const classIndex = this.predictRow(row, 0, probs, 0);
    return { classIndex, label: this.classes[classIndex]!, probabilities: Array.from(probs) };
  }

  /**
   * Batch prediction over a row-major matrix `x` (rows × numFeatures).
   * Writes the class index of each row into `classesOut` and, when given, the
   * probabilities into `probabilitiesOut` (rows × numClasses). No allocation.
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
      for (let r = 0; r < rows; r++) classesOut[r] = this.predictRow(x, r * d, probabilitiesOut, r * k);
    } else {
      for (let r = 0; r < rows; r++) classesOut[r] = this.argmaxRow(x, r * d);
    }
  }

  /** Scores (logits) → softmax into out[offset..]; returns the argmax. */
  private predictRow(x: ArrayLike<number>, xOffset: number, out: Float64Array, offset: number): number {
    const { w, b, numClasses: k, numFeatures: d } = this;
    let best = 0;
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let z = b[c]!;
      const base = c * d;
      for (let j = 0; j < d; j++) z += w[base + j]! * x[xOffset + j]!;
      out[offset + c] = z;
      if (z > max) {
        max = z;
        best = c;
      }
    }
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
    const { w, b, numClasses: k, numFeatures: d } = this;
    let best = 0;
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let z = b[c]!;
      const base = c * d;
      for (let j = 0; j < d; j++) z += w[base + j]! * x[xOffset + j]!;
      if (z > max) {
        max = z;
        best = c;
      }
    }
    return best;
  }
}
