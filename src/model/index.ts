/**
 * The model layer: the feature list, the artifact schema and its validation,
 * loading, and prediction. Pure apart from ./load.ts (reads a file).
 */
export { FEATURES, FEATURE_UNIT, parseDecimal, type FeatureName } from "./features.js";
export {
  ALGORITHM,
  ARTIFACT_FORMAT,
  MAX_INT32,
  MAX_SEED,
  MODEL_SCHEMA_ID,
  ArtifactMetricsSchema,
  FeatureSpecSchema,
  HyperparametersSchema,
  ModelArtifactSchema,
  TrainingProvenanceSchema,
  type ArtifactMetrics,
  type ClassScores,
  type CrossValidationMetrics,
  type FeatureSpec,
  type HeldOutMetrics,
  type Hyperparameters,
  type ModelArtifact,
  type TrainMetrics,
  type TrainingProvenance,
} from "./artifact-schema.js";
export { modelVersion, validateArtifact, type ModelParameters } from "./artifact.js";
export { linearScores, logSoftmaxAt, logSumExp } from "./scoring.js";
export { IrisModel, measurementProblem, type Prediction } from "./model.js";
export { loadModelFile, MODEL_FILE, parseModel, resolveModelPath } from "./load.js";
