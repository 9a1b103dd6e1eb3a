/**
 * The arithmetic of a multinomial logistic regression, shared by prediction
 * (IrisModel) and the trainer's evaluation so that both score a row with the
 * same operations in the same order. Pure and allocation-free: callers own
 * every buffer.
 */

/**
 * Class scores (logits) of one row: z[c] = b[c] + Σⱼ w[c·d + j]·x[xOffset + j],
 * accumulated in that order, written into z[zOffset .. zOffset + k) with
 * k = b.length and `w` row-major classes × d. Returns the index of the
 * largest score (the first one on ties).
 */
export function linearScores(
  w: Float64Array,
  b: Float64Array,
  d: number,
  x: ArrayLike<number>,
  xOffset: number,
  z: Float64Array,
  zOffset: number,
): number {
  const k = b.length;
  let best = 0;
  let max = -Infinity;
  for (let c = 0; c < k; c++) {
    let s = b[c]!;
    const base = c * d;
    for (let j = 0; j < d; j++) s += w[base + j]! * x[xOffset + j]!;
    z[zOffset + c] = s;
    if (s > max) {
      max = s;
      best = c;
    }
  }
  return best;
}

/** log Σ exp(z[offset .. offset + k)), without overflow. */
export function logSumExp(z: Float64Array, offset: number, k: number): number {
  let max = -Infinity;
  for (let c = 0; c < k; c++) if (z[offset + c]! > max) max = z[offset + c]!;
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(z[offset + c]! - max);
  return max + Math.log(sum);
}

/**
 * log softmax(z)[c] for the k scores at z[offset ..]: the log-probability of
 * class c, computed from the scores, so it stays exact (and finite) where
 * the probability itself underflows to 0.
 */
export function logSoftmaxAt(z: Float64Array, offset: number, k: number, c: number): number {
  return z[offset + c]! - logSumExp(z, offset, k);
}
