/**
 * Fitting: Newton's method with a backtracking (Armijo) line search on
 * {@link SoftmaxObjective}, solving each Newton system by Cholesky
 * decomposition (ml-matrix), in float64 on the raw features.
 */
import { CholeskyDecomposition, Matrix } from "ml-matrix";
import { SoftmaxObjective, type TrainingRows } from "./objective.js";

export interface FitOptions {
  /** Inverse regularisation strength (> 0), scikit-learn's `C`. */
  C: number;
  /** Most Newton steps to take. */
  maxIter: number;
  /** Stop when the scaled gradient norm is at most this. */
  tol: number;
}

/** The fitted parameters and how the optimizer got there. */
export interface FitResult {
  /** classes × features, row-major. */
  coefficients: Float64Array;
  /** One per class, centred (sum 0). */
  intercepts: Float64Array;
  /** Newton steps taken. */
  iterations: number;
  /**
   * Final scaled gradient norm: max |∂f/∂θ| / (C·n), i.e. the largest
   * gradient component of f/(C·n) = mean cross-entropy + ‖W‖²/(2·C·n), so the
   * same tolerance means the same for any C and any number of rows.
   */
  gradientNorm: number;
  converged: boolean;
  /** Objective value at the solution (without the centring term, which is 0 there). */
  objective: number;
  /**
   * Why the optimizer stopped: the gradient met the tolerance, the iteration
   * limit, no step decreased the objective, or the objective, gradient or
   * Hessian overflowed float64 (C or the features too large).
   */
  stopReason: "gradient" | "max-iter" | "line-search" | "non-finite";
}

/** Armijo sufficient-decrease constant. */
const ARMIJO = 1e-4;
/** Most halvings of the step before the line search gives up. */
const MAX_HALVINGS = 60;
/** Slack for rounding when comparing objective values near the optimum. */
const ROUNDING = 64 * Number.EPSILON;
/** Most times the Hessian's diagonal is raised tenfold before giving up on a Newton step. */
const MAX_DAMPINGS = 40;

/** Minimises the objective on `data`; starts from θ = 0. */
export function fitSoftmax(data: TrainingRows, options: FitOptions): FitResult {
  const { C, maxIter, tol } = options;
  const objective = new SoftmaxObjective(data, C);
  const n = data.rows.length;
  const scale = C * n;
  const size = objective.size;
  let theta = new Float64Array(size);
  let current = objective.evaluate(theta, true);
  let gradientNorm = maxAbs(current.gradient) / scale;
  let iterations = 0;
  let stopReason: FitResult["stopReason"] = "max-iter";
  const trial = new Float64Array(size);

  for (;;) {
    if (!Number.isFinite(current.value) || !Number.isFinite(gradientNorm)) {
      stopReason = "non-finite";
      break;
    }
    if (gradientNorm <= tol) {
      stopReason = "gradient";
      break;
    }
    if (iterations >= maxIter) break;
    const direction = newtonDirection(current.hessian!, current.gradient, size);
    if (direction === undefined) {
      stopReason = "non-finite";
      break;
    }
    let slope = 0;
    for (let i = 0; i < size; i++) slope += current.gradient[i]! * direction[i]!;
    let step = 1;
    let accepted = false;
    for (let halvings = 0; halvings <= MAX_HALVINGS; halvings++) {
      for (let i = 0; i < size; i++) trial[i] = theta[i]! + step * direction[i]!;
      const value = objective.value(trial);
      const slack = ROUNDING * Math.abs(current.value);
      if (Number.isFinite(value) && value <= current.value + ARMIJO * step * slope + slack) {
        accepted = true;
        break;
      }
      step /= 2;
    }
    if (!accepted) {
      stopReason = "line-search";
      break;
    }
    theta = trial.slice();
    iterations++;
    current = objective.evaluate(theta, true);
    gradientNorm = maxAbs(current.gradient) / scale;
  }

  const { numFeatures: d, numClasses: k } = data;
  const coefficients = new Float64Array(k * d);
  const intercepts = new Float64Array(k);
  let mean = 0;
  for (let c = 0; c < k; c++) mean += theta[c * (d + 1) + d]! / k;
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) coefficients[c * d + j] = theta[c * (d + 1) + j]!;
    intercepts[c] = theta[c * (d + 1) + d]! - mean;
  }
  return {
    coefficients,
    intercepts,
    iterations,
    gradientNorm,
    converged: gradientNorm <= tol,
    objective: current.value - 0.5 * (mean * k) ** 2,
    stopReason,
  };
}

/**
 * Solves H·p = −g by Cholesky. The Hessian is positive definite by
 * construction; should rounding make it numerically indefinite, a growing
 * multiple of the identity is added until the decomposition succeeds.
 * Returns undefined when H is not finite or no damping helps (float64
 * overflow), so the caller stops instead of looping forever.
 */
function newtonDirection(hessian: Float64Array, gradient: Float64Array, size: number): Float64Array | undefined {
  if (!hessian.every(Number.isFinite)) return undefined;
  const h = new Matrix(size, size);
  let maxDiagonal = 0;
  for (let a = 0; a < size; a++) {
    for (let b = 0; b < size; b++) h.set(a, b, hessian[a * size + b]!);
    maxDiagonal = Math.max(maxDiagonal, Math.abs(hessian[a * size + a]!));
  }
  const rhs = Matrix.columnVector(Array.from(gradient, (v) => -v));
  let cholesky = new CholeskyDecomposition(h);
  let damping = 1e-12 * Math.max(1, maxDiagonal);
  for (let attempt = 0; !cholesky.isPositiveDefinite(); attempt++) {
    if (attempt === MAX_DAMPINGS || !Number.isFinite(damping)) return undefined;
    const damped = h.clone();
    for (let a = 0; a < size; a++) damped.set(a, a, h.get(a, a) + damping);
    cholesky = new CholeskyDecomposition(damped);
    damping *= 10;
  }
  const direction = Float64Array.from(cholesky.solve(rhs).getColumn(0));
  return direction.every(Number.isFinite) ? direction : undefined;
}

function maxAbs(v: Float64Array): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
}
