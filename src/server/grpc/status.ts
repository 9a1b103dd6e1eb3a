/**
 * The one place where errors become gRPC statuses. An IrisError keeps its
 * code and message (plus google.rpc.BadRequest details for field
 * violations, google.rpc.RetryInfo for a retry hint), unless its code says
 * something broke inside; that, and anything else, becomes INTERNAL with a
 * generic message, and the error goes to the log only.
 */
import { Metadata, type StatusObject } from "@grpc/grpc-js";
import { Code, IrisError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { encodeRpcStatus, STATUS_DETAILS_KEY } from "../../rpc/status-details.js";

export type ServiceStatus = Pick<StatusObject, "code" | "details" | "metadata">;

/** Codes whose message is never sent: what went wrong inside is for the log only. */
const OPAQUE: ReadonlySet<number> = new Set([Code.OK, Code.UNKNOWN, Code.INTERNAL, Code.DATA_LOSS]);

const INTERNAL_MESSAGE = "internal error";

/**
 * Maps anything thrown by a handler to the status sent to the caller.
 * Anything but an IrisError, and an IrisError with an opaque code
 * (INTERNAL, UNKNOWN, DATA_LOSS, or OK, with which grpc-js would send a
 * success without a response), goes out as INTERNAL "internal error", and
 * is logged with its cause.
 */
export function toServiceStatus(reason: unknown, logger: Logger, method: string): ServiceStatus {
  const metadata = new Metadata();
  if (!(reason instanceof IrisError) || OPAQUE.has(reason.code)) {
    logger.error({ err: reason, method }, "internal error");
    return { code: Code.INTERNAL, details: INTERNAL_MESSAGE, metadata };
  }
  const error = reason;
  if (error.violations.length > 0 || error.retryAfterMs !== undefined) {
    metadata.set(STATUS_DETAILS_KEY, Buffer.from(encodeRpcStatus(error.code, error.message, error.violations, error.retryAfterMs)));
  }
  return { code: error.code, details: error.message, metadata };
}
