/**
 * gRPC's rich error model: a `google.rpc.Status` in the
 * `grpc-status-details-bin` trailer, carrying a `google.rpc.BadRequest` that
 * names each offending field, so that any gRPC client (Go's
 * status.FromError, Python's grpc_status, this project's SDK) can read them
 * without parsing the message. The messages are generated from the vendored
 * googleapis protos (proto/google/rpc/); this module only packs and unpacks
 * the `google.protobuf.Any` around the detail.
 *
 * Shared by the server (encode) and the client SDK (decode); it depends on
 * nothing but the generated code and the error type.
 */
import type { FieldViolation } from "../errors.js";
import { BadRequest } from "../gen/google/rpc/error_details.js";
import { Status } from "../gen/google/rpc/status.js";

/** Trailer key of the serialized google.rpc.Status. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
export const BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest";

/** What this project reads of a google.rpc.Status. */
export interface RpcStatus {
  code: number;
  message: string;
  /** The field violations of a google.rpc.BadRequest detail, if any. */
  violations: FieldViolation[];
}

/** Encodes a google.rpc.Status, with a BadRequest detail when there are violations. */
export function encodeRpcStatus(code: number, message: string, violations: readonly FieldViolation[]): Uint8Array {
  const details =
    violations.length === 0
      ? []
      : [
          {
            typeUrl: BAD_REQUEST_TYPE_URL,
            value: Buffer.from(
              BadRequest.encode({
                fieldViolations: violations.map(({ field, description }) => ({ field, description, reason: "", localizedMessage: undefined })),
              }).finish(),
            ),
          },
        ];
  return Status.encode({ code, message, details }).finish();
}

/**
 * Decodes a google.rpc.Status. Details other than BadRequest are skipped.
 * Throws on malformed bytes.
 */
export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  const status = Status.decode(bytes);
  const violations: FieldViolation[] = [];
  for (const detail of status.details) {
    if (detail.typeUrl !== BAD_REQUEST_TYPE_URL) continue;
    for (const v of BadRequest.decode(detail.value).fieldViolations) violations.push({ field: v.field, description: v.description });
  }
  return { code: status.code, message: status.message, violations };
}
