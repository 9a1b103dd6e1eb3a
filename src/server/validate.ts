/**
 * Request validation: measurements into the model's row layout, or an
 * INVALID_ARGUMENT naming every bad field (`flower.petal_width`,
 * `flowers[3].sepal_length`). The rule itself is the model module's
 * measurementProblem; the fast path below only decides whether to ask it.
 */
import { Code, IrisError, type FieldViolation } from "../errors.js";
import type { Flower } from "../gen/iris.js";
import { measurementProblem } from "../model/index.js";
import { FLOWER_FIELDS, type ServedModel } from "./served-model.js";

/** At most this many field violations are listed in one error. */
export const MAX_REPORTED_VIOLATIONS = 20;

/** True for a present, finite, non-negative number (NaN fails `>=`). */
function ok(v: number | undefined): v is number {
  return v !== undefined && v >= 0 && v < Infinity;
}

/** Appends the violations of one flower; false when some did not fit under the cap. */
function collect(flower: Flower | undefined, path: string, violations: FieldViolation[]): boolean {
  if (flower === undefined) {
    violations.push({ field: path, description: "is required" });
    return true;
  }
  let complete = true;
  for (const { key, name } of FLOWER_FIELDS) {
    const problem = measurementProblem(flower[key]);
    if (problem === undefined) continue;
    if (violations.length < MAX_REPORTED_VIOLATIONS) violations.push({ field: `${path}.${name}`, description: problem });
    else complete = false;
  }
  return complete;
}

/** The INVALID_ARGUMENT for a list of violations: the first in the message, all in the details. */
function invalidArgument(violations: FieldViolation[], truncated = false): IrisError {
  const [first] = violations;
  let message = first === undefined ? "invalid request" : `${first.field} ${first.description}`;
  if (violations.length > 1) {
    message += ` (and ${violations.length - 1}${truncated ? "+" : ""} more invalid field${violations.length > 2 ? "s" : ""})`;
  }
  return new IrisError(Code.INVALID_ARGUMENT, message, { violations });
}

/**
 * Writes one flower's measurements into `x` at `offset` in model column
 * order, or throws INVALID_ARGUMENT naming the bad fields under `path`.
 */
export function readFlower(served: ServedModel, flower: Flower | undefined, path: string, x: Float64Array, offset = 0): void {
  if (flower !== undefined) {
    const a = flower.sepalLength;
    const b = flower.sepalWidth;
    const c = flower.petalLength;
    const d = flower.petalWidth;
    if (ok(a) && ok(b) && ok(c) && ok(d)) {
      const col = served.columns;
      x[offset + col[0]] = a;
      x[offset + col[1]] = b;
      x[offset + col[2]] = c;
      x[offset + col[3]] = d;
      return;
    }
  }
  const violations: FieldViolation[] = [];
  collect(flower, path, violations);
  throw invalidArgument(violations);
}

/**
 * Writes every flower into the row-major matrix `x` (rows × 4) in model
 * column order, or throws INVALID_ARGUMENT listing the bad fields (up to
 * MAX_REPORTED_VIOLATIONS) with their row index.
 */
export function readFlowers(served: ServedModel, flowers: readonly Flower[], x: Float64Array): void {
  const [c0, c1, c2, c3] = served.columns;
  const rows = flowers.length;
  let violations: FieldViolation[] | undefined;
  let truncated = false;
  for (let i = 0, o = 0; i < rows; i++, o += 4) {
    const f = flowers[i]!;
    const a = f.sepalLength;
    const b = f.sepalWidth;
    const c = f.petalLength;
    const d = f.petalWidth;
    if (ok(a) && ok(b) && ok(c) && ok(d)) {
      x[o + c0] = a;
      x[o + c1] = b;
      x[o + c2] = c;
      x[o + c3] = d;
    } else {
      violations ??= [];
      if (violations.length >= MAX_REPORTED_VIOLATIONS) {
        truncated = true;
        break;
      }
      if (!collect(f, `flowers[${i}]`, violations)) truncated = true;
    }
  }
  if (violations !== undefined) throw invalidArgument(violations, truncated);
}
