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
