/**
 * The WebAssembly batch kernel (src/model/softmax-kernel.ts) gives the
 * JavaScript kernel's answers bit for bit: IrisModel.predictBatch (which
 * runs it for probabilities) against predictInto (JavaScript, Math.exp), on
 * arbitrary models and rows, and on exp arguments at every boundary of
 * fdlibm's exp; and it leaves exactly the rows it says it leaves.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALGORITHM, ARTIFACT_FORMAT, FEATURES, IrisModel, modelVersion, type ModelArtifact } from "../src/model/index.js";
import { SoftmaxKernel } from "../src/model/softmax-kernel.js";

const committed = JSON.parse(readFileSync(new URL("../artifacts/model.json", import.meta.url), "utf8")) as ModelArtifact;

function modelWith(coefficients: number[][], intercepts: number[]): IrisModel {
  const classes = ["a", "b", "c"];
  return new IrisModel({
    ...committed,
    version: modelVersion({ features: FEATURES, classes, coefficients, intercepts }),
    format: ARTIFACT_FORMAT,
    algorithm: ALGORITHM,
    classes,
    coefficients,
    intercepts,
  });
}

/** predictBatch's classes and probabilities against predictInto's, row by row, compared with Object.is. */
function expectBatchEqualsRows(model: IrisModel, x: Float64Array): void {
  const rows = x.length / 4;
  const classes = new Int32Array(rows).fill(-1);
  const probabilities = new Float64Array(rows * 3).fill(Number.NaN);
  model.predictBatch(x, rows, classes, probabilities);
  const one = new Float64Array(3);
  for (let r = 0; r < rows; r++) {
    const expected = model.predictInto(x.subarray(r * 4, r * 4 + 4), one);
    const got = [classes[r], ...probabilities.subarray(r * 3, r * 3 + 3)];
    const want = [expected, ...one];
    if (!got.every((v, i) => Object.is(v, want[i]))) {
      expect({ row: r, x: Array.from(x.subarray(r * 4, r * 4 + 4)), got }).toEqual({ row: r, x: Array.from(x.subarray(r * 4, r * 4 + 4)), got: want });
    }
  }
}

/**
 * A model whose exp arguments are the rows' first two measurements: class
 * 0 scores 0, class 1 scores x0, class 2 scores x1 (so with x0, x1 <= 0,
 * class 0 is the best and exp is taken of x0 and x1 exactly).
 */
const direct = modelWith(
  [
    [0, 0, 0, 0],
    [1, 0, 0, 0],
    [0, 1, 0, 0],
  ],
  [0, 0, 0],
);

/** The double whose high word is `hi` and low word `lo`. */
function fromWords(hi: number, lo = 0): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, hi);
  v.setUint32(4, lo);
  return v.getFloat64(0);
}

/** Next double towards -Infinity / +Infinity. */
function step(x: number, down: boolean): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  const bits = v.getBigUint64(0);
  if (x === 0) return down ? -Number.MIN_VALUE : Number.MIN_VALUE;
  v.setBigUint64(0, (x > 0) === down ? bits - 1n : bits + 1n);
  return v.getFloat64(0);
}

/** Exp arguments at fdlibm's boundaries (as negative numbers), and one double either side of each. */
const BOUNDARIES = [
  0,
  -0,
  -(2 ** -28),
  -fromWords(0x3e300000),
  -fromWords(0x3fd62e42, 0xffffffff),
  -fromWords(0x3fd62e43),
  -0.5 * Math.LN2,
  -fromWords(0x3ff0a2b2),
  -1.5 * Math.LN2,
  -Math.LN2,
  -1,
  -707,
  -708,
  -fromWords(0x40862e42),
  -709.782712893384,
  -745.1332191019411,
  -746,
  -Number.MIN_VALUE,
].flatMap((x) => [x, step(x, true), step(x, false)].filter((v) => v <= 0));

describe("the WebAssembly batch kernel", () => {
  it("is what predictBatch runs here (Node.js has WebAssembly SIMD)", () => {
    expect(SoftmaxKernel.shared()).not.toBeNull();
  });

  it("equals the JavaScript kernel at every boundary of exp's argument", () => {
    const pairs = BOUNDARIES.flatMap((a) => BOUNDARIES.map((b) => [a, b, 0, 0]));
    expectBatchEqualsRows(direct, Float64Array.from(pairs.flat()));
  });

  it("equals the JavaScript kernel on arbitrary exp arguments", () => {
    const argument = fc.oneof(
      fc.double({ min: -800, max: 0, noNaN: true }),
      fc.double({ min: -2, max: 0, noNaN: true }),
      fc.double({ min: -1e-6, max: 0, noNaN: true }),
      fc.constantFrom(...BOUNDARIES),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(argument, argument), { minLength: 1, maxLength: 300 }), (rows) => {
        expectBatchEqualsRows(direct, Float64Array.from(rows.flatMap(([a, b]) => [a, b, 0, 0])));
      }),
      { numRuns: 300 },
    );
  });

  it("equals the JavaScript kernel on arbitrary models and rows, ties and overflows included", () => {
    const coefficient = fc.oneof(fc.double({ min: -50, max: 50, noNaN: true }), fc.constantFrom(0, 1, -1, 1e300, -1e300));
    const measurement = fc.oneof(
      fc.double({ min: 0, max: 10, noNaN: true }),
      fc.double({ min: 0, max: 1e6, noNaN: true }),
      fc.constantFrom(0, 1, 2.5, Number.MAX_VALUE, Number.MIN_VALUE),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(coefficient, { minLength: 4, maxLength: 4 }), { minLength: 3, maxLength: 3 }),
        fc.array(coefficient, { minLength: 3, maxLength: 3 }),
        fc.array(measurement, { minLength: 4, maxLength: 4 * 200 }),
        (coefficients, intercepts, values) => {
          const x = Float64Array.from(values.slice(0, values.length - (values.length % 4)));
          if (x.length > 0) expectBatchEqualsRows(modelWith(coefficients, intercepts), x);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("equals the JavaScript kernel across its chunks of rows (odd counts, more rows than one chunk)", () => {
    const model = new IrisModel(committed);
    for (const rows of [1, 2, 3, 4095, 4096, 4097, 10_001]) {
      const x = new Float64Array(rows * 4);
      for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) % 1000) / 125;
      // Rows the kernel leaves, here and there: scores that overflow.
      for (const r of [0, Math.floor(rows / 2), rows - 1]) x[r * 4] = Number.MAX_VALUE;
      expectBatchEqualsRows(model, x);
    }
  });

  it("answers in its own memory, lent, what predictBatch answers, as its memory grows, and ends a loan at its next use", () => {
    const model = new IrisModel(committed);
    for (const rows of [1, 3, 4096, 10_001, 25_000]) {
      const x = new Float64Array(rows * 4);
      for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) % 1000) / 125;
      // Rows the kernel leaves, handed to the JavaScript kernel in the loan's arrays.
      for (const r of [0, Math.floor(rows / 2), rows - 1]) x[r * 4] = Number.MAX_VALUE;
      const classes = new Int32Array(rows);
      const probabilities = new Float64Array(rows * 3);
      model.predictBatch(x, rows, classes, probabilities);
      const loan = model.lendBatch(rows)!;
      loan.x.set(x);
      model.predictLent(loan);
      expect(loan.current()).toBe(true);
      expect([Array.from(loan.classes), Array.from(loan.probabilities)]).toEqual([Array.from(classes), Array.from(probabilities)]);
      // Any later use of the kernel, by any model, ends the loan.
      model.predictBatch(x, 1, new Int32Array(1), new Float64Array(3));
      expect(loan.current()).toBe(false);
      expect(() => model.predictLent(loan)).toThrow("the kernel's memory was used again before the loan's rows were run");
      const next = model.lendBatch(1)!;
      expect(model.lendBatch(1)!.current() && !next.current()).toBe(true);
    }
  });

  it("lends nothing for a model it does not run", () => {
    const fourClasses = new IrisModel({
      ...committed,
      classes: ["a", "b", "c", "d"],
      coefficients: [...committed.coefficients, [0, 0, 0, 0]],
      intercepts: [...committed.intercepts, 0],
    });
    expect(fourClasses.lendBatch(10)).toBeUndefined();
    expect(new IrisModel(committed).lendBatch(10)).toBeDefined();
  });

  it("leaves to the fallback exactly the pairs of rows with an argument it does not take", () => {
    const kernel = SoftmaxKernel.shared()!;
    // Exp arguments per row; the rows go in pairs (0, 1), (2, 3), (4).
    const args = [
      [-1, -2], // pair 1: taken
      [-0.5, -700],
      [-3, -(2 ** -30)], // pair 2: 2^-30 is below 2^-28 in magnitude
      [-1, -1],
      [-707, -1], // the last row, alone: -707 is not taken
    ];
    const x = Float64Array.from(args.flatMap(([a, b]) => [a!, b!, 0, 0]));
    const left: number[] = [];
    const w = Float64Array.from([0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    kernel.run(w, new Float64Array(3), x, args.length, new Int32Array(args.length), new Float64Array(args.length * 3), (r) => left.push(r));
    expect(left).toEqual([2, 3, 4]);
  });
});
