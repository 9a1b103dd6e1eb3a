/**
 * The model artifact's schema (`artifacts/model.json`), written once in
 * TypeBox: it is plain JSON Schema (draft 2020-12) at run time, the source
 * of the TypeScript types below (Static), and the file published as
 * `schema/model.schema.json` (`npm run generate:schema`).
 *
 * Every number is bounded by ±Number.MAX_VALUE (or tighter), so any JSON
 * Schema validator refuses the Infinity that JSON.parse makes of `1e999`.
 * Objects with fixed keys refuse unknown ones, so a misspelt key is an
 * error rather than a silently missing value; only maps (class counts,
 * library versions) take keys of their own.
 *
 * What JSON Schema cannot say (coefficients shaped classes × features,
 * unique names, min <= max, the version hash) is checked in ./artifact.ts.
 */
import Type from "typebox";

/** Schema id written into every artifact; bump the suffix on breaking changes. */
export const ARTIFACT_FORMAT = "iris-serve.model.v1";
/** The only algorithm this format describes. */
export const ALGORITHM = "multinomial-logistic-regression";
/** Largest training seed (seeds are unsigned 32-bit integers, as the client SDK's numbers hold them exactly). */
export const MAX_SEED = 0xffff_ffff;
/** Largest value of the int32 fields of iris.v1.Hyperparameters (max_iter, folds). */
export const MAX_INT32 = 0x7fff_ffff;
/** The `$id` of the published schema. */
export const MODEL_SCHEMA_ID = "urn:iris-serve:schema:iris-serve.model.v1";

/**
 * What each string pattern means, in words: validation messages say
 * "expected a non-empty string", not "expected a string matching /\S/".
 */
export const PATTERN_PHRASES: ReadonlyMap<string, string> = new Map([
  ["\\S", "a non-empty string"],
  ["^[0-9a-f]{16}$", "16 lowercase hex digits"],
  ["^[0-9a-f]{64}$", "64 lowercase hex digits (a SHA-256)"],
  [
    "^(?:[0-9]{4}|[+-][0-9]{6})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
    "an ISO 8601 UTC time such as 2024-05-01T12:00:00.000Z",
  ],
]);
const [TEXT, HEX16, SHA256, ISO_TIME] = [...PATTERN_PHRASES.keys()] as [string, string, string, string];

const closed = { additionalProperties: false } as const;

/** A string with at least one non-blank character. */
const text = (description: string) => Type.String({ pattern: TEXT, description });
/** Any finite number. */
const finite = (description: string) =>
  Type.Number({ minimum: -Number.MAX_VALUE, maximum: Number.MAX_VALUE, description });
/** A finite number >= 0. */
const nonNegative = (description: string) => Type.Number({ minimum: 0, maximum: Number.MAX_VALUE, description });
/** A finite number > 0. */
const positive = (description: string) => Type.Number({ exclusiveMinimum: 0, maximum: Number.MAX_VALUE, description });
/** A number in [0, 1]. */
const fraction = (description: string) => Type.Number({ minimum: 0, maximum: 1, description });
/** A whole number >= min that a double holds exactly. */
const count = (description: string, min = 0) =>
  Type.Integer({ minimum: min, maximum: Number.MAX_SAFE_INTEGER, description });
/** A map from class label to a number of rows. */
const classCounts = (description: string) => Type.Record(Type.String(), count("Rows of this class."), { description });

export const FeatureSpecSchema = Type.Object(
  {
    name: text("Feature name, e.g. `petal_width`; the model reads the row's value of this name."),
    unit: text("Unit of measurement, e.g. `cm`."),
    min: finite("Smallest value in the training rows (<= max)."),
    max: finite("Largest value in the training rows."),
    mean: finite("Mean over the training rows."),
    std: nonNegative("Population standard deviation (ddof = 0) over the training rows."),
  },
  { ...closed, description: "One input feature, in model order, with statistics of the training rows." },
);

export const HyperparametersSchema = Type.Object(
  {
    C: positive("Inverse L2 regularisation strength, as scikit-learn's `C`."),
    penalty: Type.Literal("l2", { description: "Regularisation penalty: L2 on the weights, intercepts unpenalised." }),
    maxIter: Type.Integer({ minimum: 1, maximum: MAX_INT32, description: "Newton iteration limit per fit." }),
    tol: positive("Convergence tolerance on the scaled gradient norm."),
    testFraction: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      description: "Share of the rows held out for testing; 0 trains on every row.",
    }),
    seed: Type.Integer({ minimum: 0, maximum: MAX_SEED, description: "Seed of the split and of the folds." }),
    folds: Type.Integer({
      minimum: 2,
      maximum: MAX_INT32,
      description: "Cross-validation folds (stratified k-fold over the training rows).",
    }),
  },
  { ...closed, description: "What the optimizer was asked to do and how the data was split." },
);

export const TrainingProvenanceSchema = Type.Object(
  {
    dataset: Type.Object(
      {
        path: text("The data file as given to the trainer, `/`-separated."),
        sha256: Type.String({ pattern: SHA256, description: "SHA-256 of the data file's bytes, lowercase hex." }),
        rows: count("Rows in the data file.", 1),
        classCounts: classCounts("Rows of each class in the whole file."),
      },
      { ...closed, description: "The data the model was trained on." },
    ),
    trainRows: count("Rows the model was fitted on.", 1),
    testRows: count("Rows held out for testing."),
    seed: Type.Integer({ minimum: 0, maximum: MAX_SEED, description: "Seed of the split and of the folds." }),
    split: Type.Object(
      {
        method: Type.Enum(["stratified-shuffle", "none (all rows train)"], {
          description: "How the test rows were chosen.",
        }),
        testFraction: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: "Share of the rows held out." }),
        prng: Type.Literal("mulberry32", { description: "The seeded pseudo-random generator of the shuffle." }),
        trainClassCounts: classCounts("Training rows of each class."),
        testClassCounts: classCounts("Test rows of each class."),
      },
      { ...closed, description: "The train/test split." },
    ),
    optimizer: Type.Object(
      {
        method: Type.Literal("newton", { description: "Newton's method." }),
        linearSolver: text("How each Newton system was solved."),
        lineSearch: text("The step-length rule."),
        objective: text("The function minimised, in words."),
        iterations: count("Newton iterations of the final fit."),
        gradientNorm: nonNegative("Scaled gradient norm at the end (see gradientNormDefinition)."),
        gradientNormDefinition: text("How gradientNorm is scaled."),
        converged: Type.Boolean({ description: "Whether gradientNorm fell below `tol`." }),
        objectiveValue: finite("The objective at the end."),
      },
      { ...closed, description: "The final fit's optimizer report." },
    ),
    libraries: Type.Record(Type.String(), text("Version."), {
      description: "The code that trained the model: package name → version.",
    }),
  },
  { ...closed, description: "Provenance: data set, split, optimizer report, library versions." },
);

const ClassScoresSchema = Type.Object(
  {
    class: text("Class label."),
    precision: fraction("Precision (0 when nothing was predicted as this class)."),
    recall: fraction("Recall (0 when the class has no rows)."),
    f1: fraction("F1, the harmonic mean of precision and recall (0 when both are 0)."),
    support: count("Rows of this class."),
  },
  { ...closed, description: "Per-class scores, with scikit-learn's definitions (zero_division = 0)." },
);

const HeldOutMetricsSchema = Type.Object(
  {
    rows: count("Test rows."),
    correct: count("Test rows predicted correctly."),
    accuracy: fraction("correct / rows."),
    macroF1: fraction("Unweighted mean of the per-class F1."),
    perClass: Type.Array(ClassScoresSchema, { description: "Scores of each class, in class order." }),
    confusionMatrix: Type.Array(Type.Array(count("Rows.")), {
      description: "confusionMatrix[true][predicted]: rows of each true class given each predicted class, in class order.",
    }),
    logLoss: nonNegative("Mean −log p(true class) over the test rows."),
  },
  { ...closed, description: "The model on the held-out test rows." },
);

const CrossValidationMetricsSchema = Type.Object(
  {
    method: Type.Literal("stratified-k-fold", { description: "How the folds were made." }),
    folds: Type.Integer({ minimum: 2, maximum: MAX_INT32, description: "Number of folds." }),
    rows: count("Rows cross-validated (the training part)."),
    accuracyMean: fraction("Mean accuracy over the folds."),
    accuracyStd: nonNegative("Population standard deviation (ddof = 0) of the fold accuracies."),
    std: Type.Literal("population (ddof=0)", { description: "Which standard deviation accuracyStd is." }),
    foldAccuracies: Type.Array(fraction("Accuracy of one fold."), { description: "Accuracy of each fold, in fold order." }),
    maxIterations: count("Largest Newton iteration count among the fold fits."),
    allConverged: Type.Boolean({ description: "Whether every fold's fit converged." }),
  },
  { ...closed, description: "Cross-validation on the training rows (each fold fitted afresh)." },
);

const TrainMetricsSchema = Type.Object(
  {
    rows: count("Training rows."),
    accuracy: fraction("Accuracy on them."),
    logLoss: nonNegative("Mean −log p(true class) on them."),
  },
  { ...closed, description: "The saved model on its own training rows." },
);

export const ArtifactMetricsSchema = Type.Object(
  {
    heldOut: Type.Union([HeldOutMetricsSchema, Type.Null()], {
      description: "The held-out test rows; null when trained with testFraction 0.",
    }),
    crossValidation: CrossValidationMetricsSchema,
    train: TrainMetricsSchema,
  },
  { ...closed, description: "Evaluation figures." },
);

export const ModelArtifactSchema = Type.Object(
  {
    // What kind of file this is comes first: a file of another kind is told so before anything else.
    format: Type.Literal(ARTIFACT_FORMAT, { description: "Artifact format; a new suffix means a breaking change." }),
    algorithm: Type.Literal(ALGORITHM, { description: "The learning algorithm (the only one this format describes)." }),
    name: text("Short model name, e.g. `iris-logreg`."),
    version: Type.String({
      pattern: HEX16,
      description: "Content hash of features, classes, coefficients and intercepts: the first 16 hex digits of the SHA-256 of their canonical JSON.",
    }),
    createdAt: Type.Optional(
      Type.String({
        pattern: ISO_TIME,
        description: "When the model was trained (from SOURCE_DATE_EPOCH); absent otherwise, so training is reproducible.",
      }),
    ),
    features: Type.Array(FeatureSpecSchema, {
      minItems: 1,
      // Out-of-range flags are 32-bit masks, one bit per feature.
      maxItems: 32,
      description: "Input features in model order (index = coefficient column); names unique; at most 32.",
    }),
    classes: Type.Array(text("Class label."), {
      minItems: 2,
      description: "Class labels in model order (index = class index); unique.",
    }),
    coefficients: Type.Array(Type.Array(finite("Weight of one feature for one class.")), {
      description: "Weights, classes × features (one row per class, one column per feature).",
    }),
    intercepts: Type.Array(finite("Intercept of one class."), {
      description: "One intercept per class, centred (they sum to 0).",
    }),
    hyperparameters: HyperparametersSchema,
    training: TrainingProvenanceSchema,
    metrics: ArtifactMetricsSchema,
  },
  {
    ...closed,
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: MODEL_SCHEMA_ID,
    title: "iris-serve model artifact",
    description:
      "A trained multinomial logistic regression as iris-serve writes it (artifacts/model.json) and loads it. Besides this schema, a loader checks that coefficients are classes × features, that feature and class names are unique, that every feature's min <= max, and that `version` is the hash of the parameters.",
  },
);

export type ModelArtifact = Type.Static<typeof ModelArtifactSchema>;
export type FeatureSpec = Type.Static<typeof FeatureSpecSchema>;
export type Hyperparameters = Type.Static<typeof HyperparametersSchema>;
export type TrainingProvenance = Type.Static<typeof TrainingProvenanceSchema>;
export type ArtifactMetrics = Type.Static<typeof ArtifactMetricsSchema>;
export type HeldOutMetrics = Type.Static<typeof HeldOutMetricsSchema>;
export type CrossValidationMetrics = Type.Static<typeof CrossValidationMetricsSchema>;
export type TrainMetrics = Type.Static<typeof TrainMetricsSchema>;
export type ClassScores = Type.Static<typeof ClassScoresSchema>;
