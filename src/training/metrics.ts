/**
 * Classification metrics with scikit-learn's definitions: the confusion
 * matrix (rows = true class, columns = predicted class), per-class
 * precision/recall/F1 (0 when undefined, as `zero_division=0`), macro-F1
 * (unweighted mean over classes), accuracy and log-loss (mean negative
 * log-probability of the true class). Their shapes are the artifact's
 * (src/model/artifact-schema.ts).
 */
import type { ClassScores, HeldOutMetrics } from "../model/index.js";

/** Everything of the held-out figures that the confusion matrix gives (all but the log-loss). */
export type ClassificationMetrics = Omit<HeldOutMetrics, "logLoss">;

/** counts[t][p] = number of rows of true class t predicted as p. */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): number[][] {
  if (yTrue.length !== yPred.length) throw new RangeError(`${yTrue.length} labels but ${yPred.length} predictions`);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]!]![yPred[i]!]!++;
  return m;
}

/** Every score derived from a confusion matrix. */
export function classificationMetrics(matrix: number[][], classes: readonly string[]): ClassificationMetrics {
  const k = classes.length;
  let rows = 0;
  let correct = 0;
  const perClass: ClassScores[] = [];
  for (let c = 0; c < k; c++) {
    let support = 0;
    let predicted = 0;
    for (let o = 0; o < k; o++) {
      support += matrix[c]![o]!;
      predicted += matrix[o]![c]!;
    }
    const tp = matrix[c]![c]!;
    rows += support;
    correct += tp;
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass.push({ class: classes[c]!, precision, recall, f1, support });
  }
  const macroF1 = perClass.reduce((s, p) => s + p.f1, 0) / k;
  return { rows, correct, accuracy: ratio(correct, rows), macroF1, perClass, confusionMatrix: matrix };
}

/** Mean of −log p(true class), given each row's log-probability of its true class. */
export function logLoss(logProbTrue: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < logProbTrue.length; i++) sum -= logProbTrue[i]!;
  return logProbTrue.length === 0 ? 0 : sum / logProbTrue.length;
}

/** Mean and population standard deviation (ddof = 0, as numpy's `std`). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  if (values.length === 0) return { mean: NaN, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance) };
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}
