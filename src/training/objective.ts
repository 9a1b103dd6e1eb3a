/**
 * scikit-learn's objective for `LogisticRegression(C)` with the multinomial
 * (softmax) loss and an L2 penalty on the weights only:
 *
 *     f(W, b) = 0.5·‖W‖²_F + C·Σᵢ −log softmax(W xᵢ + b)[yᵢ]
 *
 * with its gradient and Hessian. Parameters are one flat vector θ holding,
 * for each class k in turn, its d weights then its intercept.
 *
 * f does not change when the same constant is added to every intercept, so
 * its Hessian is singular along that direction. The trainer minimises
 * f + 0.5·(Σₖ bₖ)², whose minimiser is f's minimiser with centred
 * intercepts (the extra term is zero there) and whose Hessian is positive
 * definite, so Newton's linear system always has a unique solution.
 */
import { logSumExp } from "../model/index.js";

/** The rows a fit sees: a row-major feature matrix, labels and a subset. */
export interface TrainingRows {
  /** All rows × d, row-major. */
  x: Float64Array;
  /** Class index per row. */
  y: Int32Array;
  /** Indices of the rows to use (ascending). */
  rows: Int32Array;
  numFeatures: number;
  numClasses: number;
}

export interface Evaluation {
  /** Objective value (with the centring term). */
  value: number;
  /** Gradient, length P = K·(d+1). */
  gradient: Float64Array;
  /** Hessian, P × P row-major (only when asked for). */
  hessian?: Float64Array;
}

/**
 * Class scores z = W x + b for every used row, into `out` (rows × K);
 * θ laid out per class as [w_k1 … w_kd, b_k].
 */
function scores(theta: Float64Array, data: TrainingRows, out: Float64Array): void {
  const { x, rows, numFeatures: d, numClasses: k } = data;
  const stride = d + 1;
  for (let i = 0; i < rows.length; i++) {
    const base = rows[i]! * d;
    for (let c = 0; c < k; c++) {
      const p = c * stride;
      let z = theta[p + d]!;
      for (let j = 0; j < d; j++) z += theta[p + j]! * x[base + j]!;
      out[i * k + c] = z;
    }
  }
}

export class SoftmaxObjective {
  readonly size: number;
  private readonly z: Float64Array;
  private readonly p: Float64Array;

  constructor(
    readonly data: TrainingRows,
    readonly C: number,
  ) {
    this.size = data.numClasses * (data.numFeatures + 1);
    this.z = new Float64Array(data.rows.length * data.numClasses);
    this.p = new Float64Array(data.numClasses);
  }

  /** f(θ) only (for the line search). */
  value(theta: Float64Array): number {
    const { rows, y, numClasses: k } = this.data;
    scores(theta, this.data, this.z);
    let loss = 0;
    for (let i = 0; i < rows.length; i++) loss += logSumExp(this.z, i * k, k) - this.z[i * k + y[rows[i]!]!]!;
    return this.penalty(theta) + this.C * loss;
  }

  /** f(θ), ∇f(θ) and, when `withHessian`, ∇²f(θ). */
  evaluate(theta: Float64Array, withHessian: boolean): Evaluation {
    const { x, y, rows, numFeatures: d, numClasses: k } = this.data;
    const { C, size, z, p } = this;
    const stride = d + 1;
    const g = new Float64Array(size);
    const h = withHessian ? new Float64Array(size * size) : undefined;
    scores(theta, this.data, z);
    let loss = 0;
    const xt = new Float64Array(stride);
    xt[d] = 1;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      for (let j = 0; j < d; j++) xt[j] = x[r * d + j]!;
      const lse = logSumExp(z, i * k, k);
      const label = y[r]!;
      loss += lse - z[i * k + label]!;
      for (let c = 0; c < k; c++) p[c] = Math.exp(z[i * k + c]! - lse);
      for (let c = 0; c < k; c++) {
        const residual = C * (p[c]! - (c === label ? 1 : 0));
        for (let j = 0; j < stride; j++) g[c * stride + j]! += residual * xt[j]!;
      }
      if (h) {
        // Block (c, e) of the Hessian: C·(p_c·δ_ce − p_c·p_e)·x̃ x̃ᵀ; fill the upper triangle.
        for (let c = 0; c < k; c++) {
          for (let e = c; e < k; e++) {
            const a = C * ((c === e ? p[c]! : 0) - p[c]! * p[e]!);
            if (a === 0) continue;
            for (let j = 0; j < stride; j++) {
              const aj = a * xt[j]!;
              const row = (c * stride + j) * size + e * stride;
              for (let m = c === e ? j : 0; m < stride; m++) h[row + m]! += aj * xt[m]!;
            }
          }
        }
      }
    }
    // Penalty 0.5·‖W‖² and centring 0.5·(Σb)².
    let sumB = 0;
    for (let c = 0; c < k; c++) sumB += theta[c * stride + d]!;
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < d; j++) g[c * stride + j]! += theta[c * stride + j]!;
      g[c * stride + d]! += sumB;
    }
    if (h) {
      for (let c = 0; c < k; c++) {
        for (let j = 0; j < d; j++) h[(c * stride + j) * size + c * stride + j]! += 1;
        for (let e = c; e < k; e++) h[(c * stride + d) * size + e * stride + d]! += 1;
      }
      // Mirror the upper triangle so the matrix is exactly symmetric.
      for (let a = 0; a < size; a++) for (let b = 0; b < a; b++) h[a * size + b] = h[b * size + a]!;
    }
    return { value: this.penalty(theta) + C * loss, gradient: g, hessian: h };
  }

  /** 0.5·‖W‖² + 0.5·(Σb)². */
  private penalty(theta: Float64Array): number {
    const { numFeatures: d, numClasses: k } = this.data;
    const stride = d + 1;
    let w2 = 0;
    let sumB = 0;
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < d; j++) w2 += theta[c * stride + j]! ** 2;
      sumB += theta[c * stride + d]!;
    }
    return 0.5 * w2 + 0.5 * sumB * sumB;
  }
}
