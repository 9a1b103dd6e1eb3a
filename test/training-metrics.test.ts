import { describe, expect, it } from "vitest";
import { classificationMetrics, confusionMatrix, logLoss, meanStd } from "../src/training/index.js";

const classes = ["a", "b", "c"];

describe("classification metrics against hand-computed values", () => {
  // true:      a a b b c c
  // predicted: a b b b c a
  const matrix = confusionMatrix([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], 3);
  const m = classificationMetrics(matrix, classes);

  it("counts the confusion matrix with rows = true, columns = predicted", () => {
    expect(matrix).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
  });

  it("computes accuracy, precision, recall, F1 and macro-F1", () => {
    expect(m.rows).toBe(6);
    expect(m.correct).toBe(4);
    expect(m.accuracy).toBeCloseTo(4 / 6, 15);
    // a: tp 1, predicted 2, true 2 → P 1/2, R 1/2, F1 1/2
    // b: tp 2, predicted 3, true 2 → P 2/3, R 1,   F1 0.8
    // c: tp 1, predicted 1, true 2 → P 1,   R 1/2, F1 2/3
    const expected = [
      { class: "a", precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
      { class: "b", precision: 2 / 3, recall: 1, f1: 0.8, support: 2 },
      { class: "c", precision: 1, recall: 0.5, f1: 2 / 3, support: 2 },
    ];
    m.perClass.forEach((s, i) => {
      const e = expected[i]!;
      expect(s.class).toBe(e.class);
      expect(s.support).toBe(e.support);
      expect(s.precision).toBeCloseTo(e.precision, 14);
      expect(s.recall).toBeCloseTo(e.recall, 14);
      expect(s.f1).toBeCloseTo(e.f1, 14);
    });
    expect(m.macroF1).toBeCloseTo((0.5 + 0.8 + 2 / 3) / 3, 14);
  });

  it("scores a class that is never predicted as 0 (scikit-learn's zero_division=0)", () => {
    const never = classificationMetrics(confusionMatrix([0, 1, 2], [0, 1, 1], 3), classes);
    expect(never.perClass[2]).toEqual({ class: "c", precision: 0, recall: 0, f1: 0, support: 1 });
    expect(never.perClass[1]!.precision).toBe(0.5);
    expect(never.macroF1).toBeCloseTo((1 + 2 / 3 + 0) / 3, 14);
  });

  it("is perfect on a perfect prediction", () => {
    const perfect = classificationMetrics(confusionMatrix([0, 1, 2, 2], [0, 1, 2, 2], 3), classes);
    expect(perfect.accuracy).toBe(1);
    expect(perfect.macroF1).toBe(1);
  });

  it("rejects mismatched lengths", () => {
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow(RangeError);
  });
});

describe("logLoss and meanStd", () => {
  it("log-loss is the mean negative log-probability of the true class", () => {
    expect(logLoss([Math.log(0.5), Math.log(0.25)])).toBeCloseTo(1.5 * Math.LN2, 15);
    expect(logLoss([0, 0])).toBe(0);
  });

  it("std is the population standard deviation (ddof = 0)", () => {
    const { mean, std } = meanStd([1, 2, 3, 4]);
    expect(mean).toBe(2.5);
    expect(std).toBeCloseTo(Math.sqrt(1.25), 15);
    expect(meanStd([0.9, 0.9, 0.9]).std).toBe(0);
  });
});
