/**
 * The one place where errors become gRPC statuses. An IrisError keeps its
 * code and message (plus google.rpc.BadRequest details for field
 * violations); anything else becomes INTERNAL with a generic message, and
 * its cause goes to the log only.
 */
import { Metadata, type StatusObject } from "@grpc/grpc-js";
import { Code, IrisError } from "../errors.js";
import type { Logger } from "../logger.js";
import { encodeRpcStatus, STATUS_DETAILS_KEY } from "./status-details.js";

export type ServiceStatus = Pick<StatusObject, "code" | "details" | "metadata">;

/** Maps anything thrown by a handler to the status sent to the caller. */
export function toServiceStatus(reason: unknown, logger: Logger, method: string): ServiceStatus {
  const error = IrisError.from(reason);
  const metadata = new Metadata();
  if (error.code === Code.INTERNAL) {
    logger.error({ err: error.cause ?? error, method }, "internal error");
  } else if (error.violations.length > 0) {
    metadata.set(STATUS_DETAILS_KEY, Buffer.from(encodeRpcStatus(error.code, error.message, error.violations)));
  }
  return { code: error.code, details: error.message, metadata };
}
