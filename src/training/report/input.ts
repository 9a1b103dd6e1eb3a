/** What the report renderers are given: a finished run's artifact and figures. */
import type { CrossValidationMetrics, HeldOutMetrics, ModelArtifact, TrainMetrics } from "../../model/index.js";

export interface ReportInput {
  artifact: ModelArtifact;
  heldOut: HeldOutMetrics | null;
  crossValidation: CrossValidationMetrics;
  train: TrainMetrics;
  datasetPath: string;
  sha256: string;
  iterations: number;
  gradientNorm: number;
  converged: boolean;
  trainRows: number;
  testRows: number;
}
