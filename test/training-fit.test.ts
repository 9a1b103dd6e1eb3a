/**
 * The fit reaches scikit-learn's optimum. References (test/fixtures, made by
 * scripts/sklearn-reference.py with scikit-learn 1.2.1):
 *
 * - sklearn-iris-logreg-C<C>-converged.json: scikit-learn's own objective
 *   minimised to rounding level. We must match these to 1e-6.
 * - sklearn-iris-logreg-C<C>.json: what LogisticRegression(C, tol=1e-12)
 *   returns. Its lbfgs stops early (scipy's default relative-decrease test),
 *   so its answer is up to ~3e-2 from the optimum; we must reach an objective
 *   at least as low, and the same predictions.
 *
 * The objective used to judge is written out naively here, independent of
 * src/training/objective.ts.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FEATURES } from "../src/model/index.js";
import { fitSoftmax, loadDataset, type Dataset, type FitResult } from "../src/training/index.js";

const CS = ["0.01", "0.1", "1", "10", "100"] as const;

interface Reference {
  C: number;
  feature_order: string[];
  class_order: string[];
  coefficients: number[][];
  intercepts: number[];
  train_accuracy: number;
  probes: { inputs: number[][]; predict_proba: number[][]; predicted_class: number[] };
}

function fixture(name: string): Reference {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as Reference;
}

const dataset: Dataset = await loadDataset("data/iris.csv");
const allRows = Int32Array.from({ length: dataset.rows }, (_, i) => i);

function fit(C: number, rows = allRows, extra: { maxIter?: number; tol?: number } = {}): FitResult {
  return fitSoftmax(
    { x: dataset.x, y: dataset.y, rows, numFeatures: 4, numClasses: 3 },
    { C, maxIter: extra.maxIter ?? 100, tol: extra.tol ?? 1e-10 },
  );
}

const W = (f: FitResult) => [0, 1, 2].map((k) => Array.from(f.coefficients.subarray(k * 4, k * 4 + 4)));

/** 0.5·‖W‖² + C·Σ −log softmax(W x + b)[y], plainly. */
function objective(w: number[][], b: number[], C: number, rows: Int32Array = allRows): number {
  let loss = 0;
  for (const r of rows) {
    const x = FEATURES.map((_, j) => dataset.x[r * 4 + j]!);
    const z = w.map((row, k) => b[k]! + row.reduce((s, v, j) => s + v * x[j]!, 0));
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    loss += lse - z[dataset.y[r]!]!;
  }
  return 0.5 * w.flat().reduce((s, v) => s + v * v, 0) + C * loss;
}

function maxDifference(f: FitResult, ref: Reference): { coefficient: number; intercept: number } {
  let coefficient = 0;
  let intercept = 0;
  ref.coefficients.forEach((row, k) =>
    row.forEach((v, j) => (coefficient = Math.max(coefficient, Math.abs(v - f.coefficients[k * 4 + j]!)))),
  );
  ref.intercepts.forEach((v, k) => (intercept = Math.max(intercept, Math.abs(v - f.intercepts[k]!))));
  return { coefficient, intercept };
}

describe("agreement with scikit-learn", () => {
  it("uses the fixtures' feature and class order", () => {
    for (const c of CS) {
      const ref = fixture(`sklearn-iris-logreg-C${c}.json`);
      expect(ref.feature_order).toEqual(FEATURES);
      expect(ref.class_order).toEqual(dataset.classes);
      expect(ref.C).toBe(Number(c));
    }
  });

  it.each(CS)("C = %s: every coefficient and centred intercept within 1e-6 of scikit-learn's optimum", (c) => {
    const ref = fixture(`sklearn-iris-logreg-C${c}-converged.json`);
    const result = fit(Number(c));
    expect(result.converged).toBe(true);
    const diff = maxDifference(result, ref);
    expect(diff.coefficient).toBeLessThan(1e-6);
    expect(diff.intercept).toBeLessThan(1e-6);
    // Intercepts are centred.
    expect(Math.abs(result.intercepts.reduce((s, v) => s + v, 0))).toBeLessThan(1e-12);
    // The probe probabilities agree too.
    ref.probes.inputs.forEach((x, i) => {
      const z = W(result).map((row, k) => result.intercepts[k]! + row.reduce((s, v, j) => s + v * x[j]!, 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e.reduce((s, v) => s + v, 0);
      e.forEach((v, k) => expect(Math.abs(v / sum - ref.probes.predict_proba[i]![k]!)).toBeLessThan(1e-9));
    });
  });

  it.each(CS)("C = %s: at least as optimal as LogisticRegression's own (early-stopped) answer, same predictions", (c) => {
    const ref = fixture(`sklearn-iris-logreg-C${c}.json`);
    const C = Number(c);
    const result = fit(C);
    const ours = objective(W(result), Array.from(result.intercepts), C);
    const theirs = objective(ref.coefficients, ref.intercepts, C);
    expect(ours).toBeLessThanOrEqual(theirs + 1e-12 * theirs);
    // Same training accuracy and the same probe classes.
    let correct = 0;
    for (const r of allRows) {
      const z = W(result).map((row, k) => result.intercepts[k]! + row.reduce((s, v, j) => s + v * dataset.x[r * 4 + j]!, 0));
      if (z.indexOf(Math.max(...z)) === dataset.y[r]) correct++;
    }
    expect(correct / dataset.rows).toBe(ref.train_accuracy);
    ref.probes.inputs.forEach((x, i) => {
      const z = W(result).map((row, k) => result.intercepts[k]! + row.reduce((s, v, j) => s + v * x[j]!, 0));
      expect(z.indexOf(Math.max(...z))).toBe(ref.probes.predicted_class[i]);
    });
  });

  it("C = 1: within sklearn's own stopping error of the committed reference (worst 8.9e-4 on an intercept)", () => {
    // LogisticRegression(C=1, tol=1e-12) stops with gradient ~1e-3; its
    // answer sits this far from the optimum both we and the converged
    // reference reach (and its objective is 2.3e-7 higher).
    const diff = maxDifference(fit(1), fixture("sklearn-iris-logreg-C1.json"));
    expect(diff.coefficient).toBeLessThan(5e-4);
    expect(diff.intercept).toBeLessThan(1e-3);
  });
});

describe("optimality (KKT) checked by finite differences", () => {
  // Two thirds of the rows, and C values across the range.
  const subset = allRows.filter((r) => r % 3 !== 1);
  it.each([
    [1, allRows],
    [100, allRows],
    [0.05, subset],
  ] as const)("C = %s: the objective's gradient vanishes at the fit", (C, rows) => {
    const result = fit(C, rows);
    const w = W(result);
    const b = Array.from(result.intercepts);
    const h = 1e-5;
    let worst = 0;
    const params = [...w.flatMap((row, k) => row.map((_, j) => ["w", k, j] as const)), ...b.map((_, k) => ["b", k, 0] as const)];
    for (const [kind, k, j] of params) {
      const shifted = (delta: number) => {
        const w2 = w.map((row) => [...row]);
        const b2 = [...b];
        if (kind === "w") w2[k]![j]! += delta;
        else b2[k]! += delta;
        return objective(w2, b2, C, rows);
      };
      worst = Math.max(worst, Math.abs(shifted(h) - shifted(-h)) / (2 * h));
    }
    // Scaled like the optimizer's criterion: gradient of f / (C·n).
    expect(worst / (C * rows.length)).toBeLessThan(1e-7);
    // And moving away (every weight +1e-3) does not lower the objective.
    const at = objective(w, b, C, rows);
    expect(at).toBeLessThanOrEqual(objective(w.map((row) => row.map((v) => v + 1e-3)), b, C, rows));
  });
});

describe("optimizer report", () => {
  it("reports iterations, gradient norm and convergence", () => {
    const result = fit(1);
    expect(result.iterations).toBeGreaterThan(2);
    expect(result.iterations).toBeLessThan(30);
    expect(result.gradientNorm).toBeLessThanOrEqual(1e-10);
    expect(result.stopReason).toBe("gradient");
  });

  it("says so when it runs out of iterations", () => {
    const result = fit(1, allRows, { maxIter: 2 });
    expect(result.iterations).toBe(2);
    expect(result.converged).toBe(false);
    expect(result.stopReason).toBe("max-iter");
    expect(result.gradientNorm).toBeGreaterThan(1e-10);
  });

  it("stops, instead of looping forever, when C is so large that the Hessian overflows float64", () => {
    const result = fit(1e306);
    expect(result.stopReason).toBe("non-finite");
    expect(result.converged).toBe(false);
    // Large but representable: converges as usual.
    expect(fit(1e300).converged).toBe(true);
  });

  it("is deterministic: the same rows give bit-identical parameters", () => {
    const a = fit(3);
    const b = fit(3);
    expect(Array.from(a.coefficients)).toEqual(Array.from(b.coefficients));
    expect(Array.from(a.intercepts)).toEqual(Array.from(b.intercepts));
  });
});
