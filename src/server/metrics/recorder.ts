/**
 * What every prediction handler reports once it has answered (iris.v1,
 * the Open Inference Protocol over REST and gRPC, `POST /predict`): the
 * model that answered, each row's class and which of its measurements lay
 * outside the training range. ServerMetrics counts them; with metrics off,
 * NO_RECORDER does nothing.
 */
import type { IrisModel } from "../../model/index.js";

export interface PredictionRecorder {
  /** One row predicted as `classIndex`; `mask` as IrisModel.outOfRange (0: all within range). */
  predicted(model: IrisModel, classIndex: number, mask: number): void;
  /** `rows` rows predicted; `masks` as IrisModel.outOfRangeBatch, or undefined when no row is out of range. */
  predictedBatch(model: IrisModel, classIndices: ArrayLike<number>, rows: number, masks: Uint32Array | undefined): void;
}

export const NO_RECORDER: PredictionRecorder = {
  predicted() {},
  predictedBatch() {},
};
