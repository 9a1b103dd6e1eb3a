/**
 * The model module's prediction paths agree with each other bit for bit,
 * with scikit-learn, and stay finite on any finite input.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ALGORITHM,
  ARTIFACT_FORMAT,
  FEATURES,
  IrisModel,
  linearScores,
  logSoftmaxAt,
  logSumExp,
  modelVersion,
  type ModelArtifact,
} from "../src/model/index.js";

interface Reference {
  class_order: string[];
  coefficients: number[][];
  intercepts: number[];
  probes: { inputs: number[][]; predict_proba: number[][]; predicted_class: number[] };
}

const ref = JSON.parse(
  readFileSync(new URL("./fixtures/sklearn-iris-logreg-C1-converged.json", import.meta.url), "utf8"),
) as Reference;
/** Provenance and metrics of a real trained artifact (prediction does not read them). */
const committed = JSON.parse(readFileSync(new URL("../artifacts/model.json", import.meta.url), "utf8")) as ModelArtifact;

function artifact(features: readonly string[], coefficients: number[][], intercepts: number[], classes = ref.class_order): ModelArtifact {
  return {
    format: ARTIFACT_FORMAT,
    name: "test",
    version: modelVersion({ features, classes, coefficients, intercepts }),
    algorithm: ALGORITHM,
    features: features.map((name) => ({ name, unit: "cm", min: 0, max: 8, mean: 3, std: 1 })),
    classes,
    coefficients,
    intercepts,
    hyperparameters: { C: 1, penalty: "l2", maxIter: 100, tol: 1e-10, testFraction: 0, seed: 42, folds: 5 },
    training: committed.training,
    metrics: committed.metrics,
  };
}

const model = new IrisModel(artifact(FEATURES, ref.coefficients, ref.intercepts));

/** Deterministic rows over and beyond the iris range. */
function rows(n: number, d = 4, scale = 8): Float64Array {
  const x = new Float64Array(n * d);
  let s = 987654321;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * scale;
  }
  return x;
}

describe("IrisModel prediction", () => {
  it("matches scikit-learn's predict_proba on the probe rows", () => {
    ref.probes.inputs.forEach((x, i) => {
      const p = model.predict(x);
      expect(p.classIndex).toBe(ref.probes.predicted_class[i]);
      expect(p.label).toBe(ref.class_order[p.classIndex]);
      p.probabilities.forEach((v, k) => expect(Math.abs(v - ref.probes.predict_proba[i]![k]!)).toBeLessThan(1e-12));
    });
  });

  it("batch and single-row paths give bit-identical results", () => {
    const n = 2000;
    const x = rows(n);
    const classes = new Int32Array(n);
    const probs = new Float64Array(n * 3);
    model.predictBatch(x, n, classes, probs);
    const classesOnly = new Int32Array(n);
    model.predictBatch(x, n, classesOnly);
    const out = new Float64Array(3);
    for (let r = 0; r < n; r++) {
      const row = Array.from(x.subarray(r * 4, r * 4 + 4));
      const single = model.predict(row);
      expect(single.classIndex).toBe(classes[r]);
      expect(classesOnly[r]).toBe(classes[r]);
      expect(single.probabilities).toEqual(Array.from(probs.subarray(r * 3, r * 3 + 3)));
      expect(model.predictInto(row, out)).toBe(classes[r]);
      expect(Array.from(out)).toEqual(single.probabilities);
    }
  });

  it("the unrolled 3×4 kernels equal the general loops bit for bit", () => {
    // The same model with a fifth, zero-weight feature takes the general path.
    const general = new IrisModel(
      artifact(
        [...FEATURES, "extra"],
        ref.coefficients.map((r) => [...r, 0]),
        ref.intercepts,
      ),
    );
    const n = 500;
    const x4 = rows(n);
    const x5 = new Float64Array(n * 5);
    for (let r = 0; r < n; r++) x5.set(x4.subarray(r * 4, r * 4 + 4), r * 5);
    const [c4, c5] = [new Int32Array(n), new Int32Array(n)];
    const [p4, p5] = [new Float64Array(n * 3), new Float64Array(n * 3)];
    model.predictBatch(x4, n, c4, p4);
    general.predictBatch(x5, n, c5, p5);
    expect(Array.from(c5)).toEqual(Array.from(c4));
    expect(Array.from(p5)).toEqual(Array.from(p4));
    const a4 = new Int32Array(n);
    const a5 = new Int32Array(n);
    model.predictBatch(x4, n, a4);
    general.predictBatch(x5, n, a5);
    expect(Array.from(a5)).toEqual(Array.from(c4));
  });

  it("probabilities are a distribution with the argmax as the class", () => {
    const n = 300;
    const x = rows(n);
    const classes = new Int32Array(n);
    const probs = new Float64Array(n * 3);
    model.predictBatch(x, n, classes, probs);
    for (let r = 0; r < n; r++) {
      const p = Array.from(probs.subarray(r * 3, r * 3 + 3));
      expect(Math.abs(p.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-15);
      expect(p[classes[r]!]).toBe(Math.max(...p));
    }
  });

  it.each([
    ["large", [1e6, 1e6, 1e6, 1e6]],
    ["huge", [1e300, 2e300, 3e300, 4e300]],
    ["overflowing (scores would be ±Infinity)", [Number.MAX_VALUE, 1, Number.MAX_VALUE, Number.MAX_VALUE]],
    ["all at the largest float", [Number.MAX_VALUE, Number.MAX_VALUE, Number.MAX_VALUE, Number.MAX_VALUE]],
    ["tiny", [Number.MIN_VALUE, 0, 0, Number.MIN_VALUE]],
  ])("softmax stays finite on %s inputs", (_name, row) => {
    const p = model.predict(row);
    expect(p.probabilities.every(Number.isFinite)).toBe(true);
    expect(Math.abs(p.probabilities.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-15);
    expect(p.probabilities[p.classIndex]).toBe(Math.max(...p.probabilities));
    // The classes-only batch path picks the same class.
    const c = new Int32Array(1);
    model.predictBatch(Float64Array.from(row), 1, c);
    expect(c[0]).toBe(p.classIndex);
    // Far out along a direction, the class is the one whose weights grow fastest there.
    if (row[0]! >= 1e6) {
      const growth = ref.coefficients.map((w) => w.reduce((s, v, j) => s + v * (row[j]! / row[0]!), 0));
      expect(p.classIndex).toBe(growth.indexOf(Math.max(...growth)));
    }
  });

  it("checks batch buffer sizes", () => {
    expect(() => model.predictBatch(new Float64Array(7), 2, new Int32Array(2))).toThrow(RangeError);
    expect(() => model.predictBatch(new Float64Array(8), 2, new Int32Array(1))).toThrow(RangeError);
    expect(() => model.predictBatch(new Float64Array(8), 2, new Int32Array(2), new Float64Array(5))).toThrow(RangeError);
  });
});

describe("the shared scoring functions (what the trainer evaluates with)", () => {
  const w = Float64Array.from(ref.coefficients.flat());
  const b = Float64Array.from(ref.intercepts);

  it("give IrisModel's class, and log-probabilities whose exp is its probabilities", () => {
    const n = 500;
    const x = rows(n);
    const z = new Float64Array(3);
    for (let r = 0; r < n; r++) {
      const p = model.predict(x.subarray(r * 4, r * 4 + 4));
      expect(linearScores(w, b, 4, x, r * 4, z, 0)).toBe(p.classIndex);
      for (let c = 0; c < 3; c++) {
        expect(Math.abs(Math.exp(logSoftmaxAt(z, 0, 3, c)) - p.probabilities[c]!)).toBeLessThan(1e-14);
      }
    }
  });

  it("keep a log-probability exact where the probability underflows to 0", () => {
    // A flower far into virginica's side: setosa's probability is below the smallest double.
    const row = [5, 3, 150, 60];
    expect(model.predict(row).probabilities[0]).toBe(0);
    const z = new Float64Array(3);
    linearScores(w, b, 4, row, 0, z, 0);
    const logP = logSoftmaxAt(z, 0, 3, 0);
    // By hand: z_setosa − log Σ exp(z), with the largest score factored out.
    const max = Math.max(...z);
    const byHand = z[0]! - max - Math.log(Array.from(z).reduce((s, v) => s + Math.exp(v - max), 0));
    expect(logP).toBeLessThan(-745); // exp of it is 0 in float64
    expect(Math.abs(logP - byHand)).toBeLessThan(1e-9 * Math.abs(byHand));
  });

  it("logSumExp does not overflow", () => {
    expect(logSumExp(Float64Array.from([1000, 1000]), 0, 2)).toBeCloseTo(1000 + Math.LN2, 12);
    expect(logSumExp(Float64Array.from([7, -1e308, 0, 0]), 1, 3)).toBeCloseTo(Math.LN2, 12);
  });
});

describe("out-of-training-range flags", () => {
  const trained = new IrisModel(committed);
  const ranges = committed.features.map((f) => [f.min, f.max] as const);

  it("flag exactly the measurements outside each feature's [min, max], bounds included as within", () => {
    const inside = ranges.map(([lo, hi]) => (lo + hi) / 2);
    expect(trained.outOfRange(inside)).toBe(0);
    expect(trained.outOfRange(ranges.map(([lo]) => lo))).toBe(0);
    expect(trained.outOfRange(ranges.map(([, hi]) => hi))).toBe(0);
    for (let j = 0; j < 4; j++) {
      const below = [...inside];
      below[j] = ranges[j]![0] - 1e-9;
      expect(trained.outOfRange(below)).toBe(1 << j);
      const above = [...inside];
      above[j] = ranges[j]![1] * 2;
      expect(trained.outOfRange(above)).toBe(1 << j);
      expect(trained.featuresOf(1 << j)).toEqual([committed.features[j]!.name]);
    }
    const all = ranges.map(([, hi]) => hi + 1);
    expect(trained.outOfRange(all)).toBe(0b1111);
    expect(trained.featuresOf(0b1010)).toEqual([committed.features[1]!.name, committed.features[3]!.name]);
  });

  it("in a batch: one mask per row and the count of flagged rows, equal to the row-by-row answer", () => {
    const x = rows(500, 4, 9);
    const masks = new Uint32Array(500);
    const flagged = trained.outOfRangeBatch(x, 500, masks);
    let expected = 0;
    for (let r = 0; r < 500; r++) {
      const mask = trained.outOfRange(x.subarray(r * 4, r * 4 + 4));
      expect(masks[r]).toBe(mask);
      if (mask !== 0) expected++;
    }
    expect(flagged).toBe(expected);
    expect(flagged).toBeGreaterThan(0);
    expect(flagged).toBeLessThan(500);
  });
});
