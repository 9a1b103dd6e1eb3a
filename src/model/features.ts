/**
 * The measurements an iris model reads: their names in canonical order (the
 * order of the coefficient columns the trainer writes, of `--input` rows and
 * of the iris.v1.Flower fields) and their unit. Every layer takes the list
 * from here.
 */

/** The four measurements, in canonical order. */
export const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"] as const;

/** One measurement's name. */
export type FeatureName = (typeof FEATURES)[number];

/** Unit of every measurement. */
export const FEATURE_UNIT = "cm";

/** A decimal number as people type it: `1`, `-0.5`, `.2`, `1e-10` (not `0x10`, `Infinity`, `1_000` or ``). */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A typed number (a CSV cell, a command-line flag) as a number: NaN unless
 * it is a plain decimal, so hex, `Infinity`, separators and blanks, which
 * `Number()` would accept, are refused. It may still overflow to Infinity.
 */
export function parseDecimal(text: string): number {
  return DECIMAL.test(text) ? Number(text) : NaN;
}
