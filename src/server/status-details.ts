/**
 * The rich error model of gRPC: a `google.rpc.Status` carrying a
 * `google.rpc.BadRequest`, sent in the `grpc-status-details-bin` trailer so
 * that any gRPC client (e.g. Go's status.FromError, Python's grpc_status) can
 * read the offending fields without parsing the message.
 *
 * These three messages are tiny and frozen, and buf cannot fetch
 * googleapis here, so they are encoded with the same wire primitives the
 * generated code uses:
 *   google.rpc.Status     { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
 *   google.protobuf.Any   { string type_url = 1; bytes value = 2; }
 *   google.rpc.BadRequest { repeated FieldViolation field_violations = 1; }
 *   BadRequest.FieldViolation { string field = 1; string description = 2; }
 * Pure: used by the server (encode) and the client SDK (decode).
 */
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { FieldViolation } from "../errors.js";

/** Trailer key of the serialized google.rpc.Status. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
export const BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest";

export interface RpcStatus {
  code: number;
  message: string;
  /** The field violations of a google.rpc.BadRequest detail, if any. */
  violations: FieldViolation[];
}

function encodeBadRequest(violations: readonly FieldViolation[]): Uint8Array {
  const w = new BinaryWriter();
  for (const v of violations) {
    w.uint32((1 << 3) | WireType.LengthDelimited).fork();
    w.uint32((1 << 3) | WireType.LengthDelimited).string(v.field);
    w.uint32((2 << 3) | WireType.LengthDelimited).string(v.description);
    w.join();
  }
  return w.finish();
}

/** Encodes a google.rpc.Status, with a BadRequest detail when there are violations. */
export function encodeRpcStatus(code: number, message: string, violations: readonly FieldViolation[]): Uint8Array {
  const w = new BinaryWriter();
  if (code !== 0) w.uint32((1 << 3) | WireType.Varint).int32(code);
  if (message !== "") w.uint32((2 << 3) | WireType.LengthDelimited).string(message);
  if (violations.length > 0) {
    w.uint32((3 << 3) | WireType.LengthDelimited).fork();
    w.uint32((1 << 3) | WireType.LengthDelimited).string(BAD_REQUEST_TYPE_URL);
    w.uint32((2 << 3) | WireType.LengthDelimited).bytes(encodeBadRequest(violations));
    w.join();
  }
  return w.finish();
}

/** Reads the length-delimited sub-message at the reader's position. */
function sub(reader: BinaryReader): BinaryReader {
  return new BinaryReader(reader.bytes());
}

function decodeViolation(r: BinaryReader): FieldViolation {
  const v: FieldViolation = { field: "", description: "" };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.LengthDelimited) v.field = r.string();
    else if (field === 2 && wire === WireType.LengthDelimited) v.description = r.string();
    else r.skip(wire);
  }
  return v;
}

/**
 * Decodes a google.rpc.Status. Details other than BadRequest are ignored.
 * Throws on malformed bytes.
 */
export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  const status: RpcStatus = { code: 0, message: "", violations: [] };
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.Varint) status.code = r.int32();
    else if (field === 2 && wire === WireType.LengthDelimited) status.message = r.string();
    else if (field === 3 && wire === WireType.LengthDelimited) {
      const any = sub(r);
      let typeUrl = "";
      let value: Uint8Array | undefined;
      while (any.pos < any.len) {
        const [f, w] = any.tag();
        if (f === 1 && w === WireType.LengthDelimited) typeUrl = any.string();
        else if (f === 2 && w === WireType.LengthDelimited) value = any.bytes();
        else any.skip(w);
      }
      if (typeUrl !== BAD_REQUEST_TYPE_URL || value === undefined) continue;
      const br = new BinaryReader(value);
      while (br.pos < br.len) {
        const [f, w] = br.tag();
        if (f === 1 && w === WireType.LengthDelimited) status.violations.push(decodeViolation(sub(br)));
        else br.skip(w);
      }
    } else r.skip(wire);
  }
  return status;
}
