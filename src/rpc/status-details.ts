/**
 * gRPC's rich error model: a `google.rpc.Status` in the
 * `grpc-status-details-bin` trailer, carrying a `google.rpc.BadRequest` that
 * names each offending field, and a `google.rpc.RetryInfo` when the caller
 * may retry later (the server shed the call), so that any gRPC client (Go's
 * status.FromError, Python's grpc_status, this project's SDK) can read them
 * without parsing the message. The messages are generated from the vendored
 * googleapis protos (proto/google/rpc/); this module only packs and unpacks
 * the `google.protobuf.Any` around the detail.
 *
 * Shared by the server (encode) and the client SDK (decode); it depends on
 * nothing but the generated code and the error type.
 */
import type { FieldViolation } from "../errors.js";
import { BadRequest, RetryInfo } from "../gen/google/rpc/error_details.js";
import { Status } from "../gen/google/rpc/status.js";

/** Trailer key of the serialized google.rpc.Status. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
export const BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest";
export const RETRY_INFO_TYPE_URL = "type.googleapis.com/google.rpc.RetryInfo";

/** What this project reads of a google.rpc.Status. */
export interface RpcStatus {
  code: number;
  message: string;
  /** The field violations of a google.rpc.BadRequest detail, if any. */
  violations: FieldViolation[];
  /** A google.rpc.RetryInfo detail's delay, in milliseconds, if there is one. */
  retryAfterMs?: number;
}

/**
 * Encodes a google.rpc.Status, with a BadRequest detail when there are
 * violations and a RetryInfo detail when `retryAfterMs` is given.
 */
export function encodeRpcStatus(
  code: number,
  message: string,
  violations: readonly FieldViolation[],
  retryAfterMs?: number,
): Uint8Array {
  const details = [];
  if (violations.length > 0) {
    details.push({
      typeUrl: BAD_REQUEST_TYPE_URL,
      value: Buffer.from(
        BadRequest.encode({
          fieldViolations: violations.map(({ field, description }) => ({ field, description, reason: "", localizedMessage: undefined })),
        }).finish(),
      ),
    });
  }
  if (retryAfterMs !== undefined) {
    const ms = Math.max(0, Math.round(retryAfterMs));
    const retryDelay = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
    details.push({ typeUrl: RETRY_INFO_TYPE_URL, value: Buffer.from(RetryInfo.encode({ retryDelay }).finish()) });
  }
  return Status.encode({ code, message, details }).finish();
}

/**
 * Decodes a google.rpc.Status. Details other than BadRequest and RetryInfo
 * are skipped. Throws on malformed bytes.
 */
export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  const status = Status.decode(bytes);
  const violations: FieldViolation[] = [];
  let retryAfterMs: number | undefined;
  for (const detail of status.details) {
    if (detail.typeUrl === BAD_REQUEST_TYPE_URL) {
      for (const v of BadRequest.decode(detail.value).fieldViolations) violations.push({ field: v.field, description: v.description });
    } else if (detail.typeUrl === RETRY_INFO_TYPE_URL) {
      const delay = RetryInfo.decode(detail.value).retryDelay;
      if (delay !== undefined) retryAfterMs = delay.seconds * 1000 + Math.round(delay.nanos / 1_000_000);
    }
  }
  return { code: status.code, message: status.message, violations, retryAfterMs };
}
