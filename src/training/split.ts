/**
 * Stratified splitting with the seeded generator: a train/test split and
 * k-fold cross-validation folds that keep each class's share of the rows.
 * Row indices in every returned part are sorted ascending, so the rows a
 * model sees are always visited in file order.
 */
import { Prng } from "./prng.js";

export interface Split {
  train: Int32Array;
  test: Int32Array;
}

/** Indices of each class's rows, in ascending order. */
export function rowsByClass(y: ArrayLike<number>, numClasses: number, subset?: ArrayLike<number>): Int32Array[] {
  const rows = subset ?? Int32Array.from({ length: y.length }, (_, i) => i);
  const counts = new Int32Array(numClasses);
  for (let i = 0; i < rows.length; i++) counts[y[rows[i]!]!]!++;
  const out = Array.from(counts, (c) => new Int32Array(c));
  const fill = new Int32Array(numClasses);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const k = y[r]!;
    out[k]![fill[k]!++] = r;
  }
  return out;
}

/**
 * How many test rows each class gives: `ceil(testFraction · n)` rows in all
 * (as scikit-learn's `train_test_split`), shared in proportion to class sizes
 * by largest remainder (ties to the lower class index).
 */
export function testCounts(classSizes: readonly number[], testFraction: number): number[] {
  const n = classSizes.reduce((a, b) => a + b, 0);
  // The small slack keeps float error (0.07 · 100 = 7.000000000000001) from adding a row.
  const total = Math.max(0, Math.ceil(testFraction * n - 1e-9));
  const ideal = classSizes.map((s) => (total * s) / n);
  const counts = ideal.map(Math.floor);
  let left = total - counts.reduce((a, b) => a + b, 0);
  const order = ideal
    .map((v, k) => ({ k, rest: v - Math.floor(v) }))
    .sort((a, b) => b.rest - a.rest || a.k - b.k);
  for (const { k } of order) {
    if (left === 0) break;
    counts[k]!++;
    left--;
  }
  return counts;
}

/**
 * Stratified train/test split. Each class's rows are shuffled with `seed`
 * and the first {@link testCounts} of them go to the test part.
 * `testFraction` 0 puts every row in `train`.
 */
export function stratifiedSplit(y: ArrayLike<number>, numClasses: number, testFraction: number, seed: number): Split {
  const byClass = rowsByClass(y, numClasses);
  const counts = testCounts(
    byClass.map((rows) => rows.length),
    testFraction,
  );
  const rng = new Prng(seed);
  const train: number[] = [];
  const test: number[] = [];
  byClass.forEach((rows, k) => {
    const shuffled = rng.shuffle(rows.slice());
    for (let i = 0; i < shuffled.length; i++) (i < counts[k]! ? test : train).push(shuffled[i]!);
  });
  return { train: sortedInt32(train), test: sortedInt32(test) };
}

/**
 * Stratified k-fold cross-validation over `rows` (a subset of the data's
 * indices). Each class's rows are shuffled with `seed` and dealt to the folds
 * in turn, continuing where the previous class stopped, so fold sizes differ
 * by at most one and every class is spread evenly. Fold `i`'s `test` part is
 * the rows dealt to it; its `train` part is all the others.
 */
export function stratifiedKFold(
  y: ArrayLike<number>,
  numClasses: number,
  rows: ArrayLike<number>,
  folds: number,
  seed: number,
): Split[] {
  const rng = new Prng(seed);
  const foldOf = new Map<number, number>();
  let next = 0;
  for (const members of rowsByClass(y, numClasses, rows)) {
    const shuffled = rng.shuffle(members.slice());
    for (const r of shuffled) {
      foldOf.set(r, next);
      next = (next + 1) % folds;
    }
  }
  return Array.from({ length: folds }, (_, f) => {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      (foldOf.get(r) === f ? test : train).push(r);
    }
    return { train: sortedInt32(train), test: sortedInt32(test) };
  });
}

function sortedInt32(values: number[]): Int32Array {
  return Int32Array.from(values).sort();
}
