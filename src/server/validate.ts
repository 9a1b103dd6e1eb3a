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

/**
 * The field violations of one request, at most MAX_REPORTED_VIOLATIONS of
 * them; `throwIfAny` turns them into the request's INVALID_ARGUMENT.
 */
export class Violations {
  readonly list: FieldViolation[] = [];
  #truncated = false;

  /** Whether the cap is reached (further problems are only counted as "+"). */
  get full(): boolean {
    return this.list.length >= MAX_REPORTED_VIOLATIONS;
  }

  add(field: string, description: string): void {
    if (this.full) this.#truncated = true;
    else this.list.push({ field, description });
  }

  /** Notes that there are more problems than were looked at. */
  more(): void {
    this.#truncated = true;
  }

  /** INVALID_ARGUMENT naming the first violation in its message and all in its details; undefined when there are none. */
  error(): IrisError | undefined {
    return this.list.length > 0 ? invalidArgument(this.list, this.#truncated) : undefined;
  }

  throwIfAny(): void {
    const error = this.error();
    if (error !== undefined) throw error;
  }
}

/** Records the violations of one flower under `path`. */
function collect(flower: Flower | undefined, path: string, violations: Violations): void {
  if (flower === undefined) {
    violations.add(path, "is required");
    return;
  }
  collectMeasurements(
    FLOWER_FIELDS.map(({ key }) => flower[key]),
    path,
    violations,
  );
}

/**
 * Records the violations of one flower given as its four measurements in
 * FLOWER_FIELDS order (undefined: absent), under `path`.
 */
export function collectMeasurements(values: readonly (number | undefined)[], path: string, violations: Violations): void {
  for (let j = 0; j < FLOWER_FIELDS.length; j++) {
    const problem = measurementProblem(values[j]);
    if (problem !== undefined) violations.add(`${path}.${FLOWER_FIELDS[j]!.name}`, problem);
  }
}

/**
 * The INVALID_ARGUMENT for one bad field: `message` is the whole one-line
 * message; the violation names `field`, its description is the message
 * without the field's path in front.
 */
export function invalidField(message: string, field: string): IrisError {
  const description = message.startsWith(`${field} `) ? message.slice(field.length + 1) : message;
  return new IrisError(Code.INVALID_ARGUMENT, message, { violations: [{ field, description }] });
}

/** The INVALID_ARGUMENT for a list of violations: the first in the message, all in the details. */
function invalidArgument(violations: FieldViolation[], truncated: boolean): IrisError {
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
  const violations = new Violations();
  collect(flower, path, violations);
  violations.throwIfAny();
}

/**
 * Writes every flower into the row-major matrix `x` (rows × 4) in model
 * column order, or throws INVALID_ARGUMENT listing the bad fields (up to
 * MAX_REPORTED_VIOLATIONS) with their row index. The server decodes
 * BatchPredict with the wire codec (grpc/wire/batch-predict.ts), which
 * checks as it decodes; this is the same check over the generated types,
 * which the codec's tests hold it to.
 */
export function readFlowers(served: ServedModel, flowers: readonly Flower[], x: Float64Array): void {
  const [c0, c1, c2, c3] = served.columns;
  const rows = flowers.length;
  let violations: Violations | undefined;
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
      violations ??= new Violations();
      if (violations.full) {
        violations.more();
        break;
      }
      collect(f, `flowers[${i}]`, violations);
    }
  }
  violations?.throwIfAny();
}

/**
 * Rows of measurements given in FEATURES order (rows × 4, row-major) in the
 * served model's column order: `x` itself when the orders agree, else a
 * reordered copy.
 */
export function inModelOrder(served: ServedModel, x: Float64Array, rows: number): Float64Array {
  if (served.modelOrder) return x;
  const [c0, c1, c2, c3] = served.columns;
  const out = new Float64Array(rows * 4);
  for (let i = 0; i < rows * 4; i += 4) {
    out[i + c0] = x[i]!;
    out[i + c1] = x[i + 1]!;
    out[i + c2] = x[i + 2]!;
    out[i + c3] = x[i + 3]!;
  }
  return out;
}

/**
 * Writes `rows` rows of measurements, given row-major in FEATURES order
 * (`values[row * 4 + feature]`), into `x` in model column order, or throws
 * INVALID_ARGUMENT naming each bad value by `field(row, feature)`, with the
 * feature's name after the problem.
 */
export function readMatrix(
  served: ServedModel,
  values: ArrayLike<number>,
  rows: number,
  x: Float64Array,
  field: (row: number, feature: number) => string,
): void {
  const [c0, c1, c2, c3] = served.columns;
  let violations: Violations | undefined;
  for (let r = 0, i = 0; r < rows; r++, i += 4) {
    const a = values[i]!;
    const b = values[i + 1]!;
    const c = values[i + 2]!;
    const d = values[i + 3]!;
    if (ok(a) && ok(b) && ok(c) && ok(d)) {
      x[i + c0] = a;
      x[i + c1] = b;
      x[i + c2] = c;
      x[i + c3] = d;
      continue;
    }
    violations ??= new Violations();
    for (let j = 0; j < 4; j++) {
      const problem = measurementProblem(values[i + j]);
      if (problem !== undefined) violations.add(field(r, j), `${problem} (${FLOWER_FIELDS[j]!.name})`);
    }
    if (violations.full && r + 1 < rows) {
      violations.more();
      break;
    }
  }
  violations?.throwIfAny();
}

/**
 * Writes `rows` rows given as one column per feature (in FEATURES order)
 * into `x` in model column order, or throws INVALID_ARGUMENT naming each
 * bad value by `field(row, feature)`.
 */
export function readColumns(
  served: ServedModel,
  columns: readonly ArrayLike<number>[],
  rows: number,
  x: Float64Array,
  field: (row: number, feature: number) => string,
): void {
  let violations: Violations | undefined;
  for (let j = 0; j < 4; j++) {
    const column = columns[j]!;
    const c = served.columns[j]!;
    for (let r = 0; r < rows; r++) {
      const v = column[r]!;
      if (ok(v)) {
        x[r * 4 + c] = v;
        continue;
      }
      violations ??= new Violations();
      // Past the cap, add() only notes that there were more.
      violations.add(field(r, j), measurementProblem(v)!);
    }
  }
  violations?.throwIfAny();
}
