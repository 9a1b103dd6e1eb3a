import { describe, expect, it } from "vitest";
import { RetryInfo } from "../src/gen/google/rpc/error_details.js";
import { Status } from "../src/gen/google/rpc/status.js";
import { BAD_REQUEST_TYPE_URL, decodeRpcStatus, encodeRpcStatus, RETRY_INFO_TYPE_URL } from "../src/rpc/status-details.js";

describe("google.rpc.Status with BadRequest details", () => {
  it("encodes the exact protobuf wire format", () => {
    const typeUrl = Buffer.from(BAD_REQUEST_TYPE_URL);
    const violation = [0x0a, 0x01, 0x66, 0x12, 0x01, 0x64]; // { field: "f", description: "d" }
    const badRequest = [0x0a, violation.length, ...violation];
    const any = [0x0a, typeUrl.length, ...typeUrl, 0x12, badRequest.length, ...badRequest];
    const status = [0x08, 0x03, 0x12, 0x01, 0x6d, 0x1a, any.length, ...any];
    expect(Buffer.from(encodeRpcStatus(3, "m", [{ field: "f", description: "d" }]))).toEqual(Buffer.from(status));
  });

  it("round-trips code, message and violations", () => {
    const violations = [
      { field: "flowers[3].petal_width", description: "must be >= 0 cm, got -1" },
      { field: "flowers[7].sepal_length", description: "is required" },
    ];
    expect(decodeRpcStatus(encodeRpcStatus(3, "flowers[3].petal_width must be >= 0 cm", violations))).toEqual({
      code: 3,
      message: "flowers[3].petal_width must be >= 0 cm",
      violations,
    });
    expect(decodeRpcStatus(encodeRpcStatus(8, "too big", []))).toEqual({ code: 8, message: "too big", violations: [] });
  });

  it("skips details of other types and unknown fields", () => {
    const other = Buffer.from("type.googleapis.com/google.rpc.DebugInfo");
    const any = [0x0a, other.length, ...other, 0x12, 0x02, 0x08, 0x01];
    const unknownField = [0x20, 0x05]; // field 4, varint 5
    const bytes = Uint8Array.from([0x08, 0x0e, ...unknownField, 0x1a, any.length, ...any]);
    expect(decodeRpcStatus(bytes)).toEqual({ code: 14, message: "", violations: [] });
  });

  it("carries a retry delay as google.rpc.RetryInfo, beside the violations", () => {
    const bytes = encodeRpcStatus(8, "busy", [{ field: "f", description: "d" }], 1_250);
    const details = Status.decode(bytes).details;
    expect(details.map((d) => d.typeUrl)).toEqual([BAD_REQUEST_TYPE_URL, RETRY_INFO_TYPE_URL]);
    expect(RetryInfo.decode(details[1]!.value).retryDelay).toEqual({ seconds: 1, nanos: 250_000_000 });
    expect(decodeRpcStatus(bytes)).toEqual({ code: 8, message: "busy", violations: [{ field: "f", description: "d" }], retryAfterMs: 1_250 });
    expect(decodeRpcStatus(encodeRpcStatus(8, "busy", [], 0)).retryAfterMs).toBe(0);
    expect(decodeRpcStatus(encodeRpcStatus(8, "busy", [])).retryAfterMs).toBeUndefined();
  });

  it("throws on truncated bytes", () => {
    const bytes = encodeRpcStatus(3, "message", [{ field: "f", description: "d" }]);
    expect(() => decodeRpcStatus(bytes.subarray(0, bytes.length - 3))).toThrow();
  });
});
