/**
 * Tensors of the Open Inference Protocol, independent of the transport:
 * datatypes, shapes, and reading a tensor's numbers from each of the forms
 * they travel in (REST JSON `data`, flat or nested; the binary tensor
 * extension's bytes; gRPC `InferTensorContents`; gRPC `raw_input_contents`),
 * and writing output tensors as bytes. Every problem is an INVALID_ARGUMENT
 * naming the tensor by its path in the request (`inputs[0]`).
 */
import { endianness } from "node:os";
import { invalidField } from "../validate.js";
import type { InferTensorContents } from "../../gen/inference/open_inference_grpc.js";

/** Bytes per element of each datatype; BYTES elements vary. */
export const DATATYPE_SIZES = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
  BYTES: 0,
} as const;

type Datatype = keyof typeof DATATYPE_SIZES;
/** The datatypes a measurement may be sent in. */
export type NumericDatatype = Exclude<Datatype, "BOOL" | "BYTES">;

const INTEGER_RANGES: Partial<Record<NumericDatatype, [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65_535],
  UINT32: [0, 4_294_967_295],
  UINT64: [0, Number.MAX_VALUE],
  INT8: [-128, 127],
  INT16: [-32_768, 32_767],
  INT32: [-2_147_483_648, 2_147_483_647],
  INT64: [-Number.MAX_VALUE, Number.MAX_VALUE],
};


/** `datatype` as a numeric datatype, or INVALID_ARGUMENT. */
export function numericDatatype(datatype: string, path: string): NumericDatatype {
  const known = Object.hasOwn(DATATYPE_SIZES, datatype);
  if (known && datatype !== "BOOL" && datatype !== "BYTES") return datatype as NumericDatatype;
  throw invalidField(
    known
      ? `${path}.datatype ${datatype} cannot carry measurements; send a numeric datatype (FP64, FP32, INT64, ...)`
      : `${path}.datatype ${JSON.stringify(datatype)} is not a datatype of the protocol (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES)`,
    `${path}.datatype`,
  );
}

/**
 * Checks a shape (non-negative integers, at most `maxRank` dimensions) and
 * returns its element count.
 */
export function elementCount(shape: readonly unknown[], path: string): number {
  let count = 1;
  for (const [i, d] of shape.entries()) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw invalidField(`${path}.shape[${i}] must be a whole number >= 0, got ${JSON.stringify(d)}`, `${path}.shape[${i}]`);
    }
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw invalidField(`${path}.shape ${JSON.stringify(shape)} has too many elements`, `${path}.shape`);
  return count;
}

function checkInteger(value: number, datatype: NumericDatatype, where: () => string): void {
  const range = INTEGER_RANGES[datatype];
  if (range === undefined) return;
  if (!Number.isInteger(value) || value < range[0] || value > range[1]) {
    throw invalidField(`${where()} is ${value}, not a value of datatype ${datatype}`, where());
  }
}

/**
 * The numbers of a REST tensor's `data`: a flat array of `count` numbers,
 * or arrays nested exactly as `shape` says (the spec's flat form and the
 * nested form KServe's and MLServer's clients send).
 */
export function numbersFromJson(data: unknown, datatype: NumericDatatype, shape: readonly number[], path: string): Float64Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Array.isArray(data)) throw invalidField(`${path}.data must be an array of numbers, got ${describe(data)}`, `${path}.data`);
  const out = new Float64Array(count);
  const nested = data.length > 0 && Array.isArray(data[0]);
  if (!nested) {
    if (data.length !== count) {
      throw invalidField(`${path}.data has ${data.length} values, but shape ${JSON.stringify(shape)} needs ${count}`, `${path}.data`);
    }
    for (let i = 0; i < count; i++) out[i] = jsonNumber(data[i], datatype, () => `${path}.data[${i}]`);
    return out;
  }
  let n = 0;
  const walk = (value: unknown, depth: number, where: string): void => {
    if (depth === shape.length) {
      out[n++] = jsonNumber(value, datatype, () => where);
      return;
    }
    if (!Array.isArray(value) || value.length !== shape[depth]) {
      const got = Array.isArray(value) ? `${value.length} entries` : describe(value);
      throw invalidField(`${where} must be an array of ${shape[depth]} entries (shape ${JSON.stringify(shape)}), got ${got}`, where);
    }
    for (let i = 0; i < value.length; i++) walk(value[i], depth + 1, `${where}[${i}]`);
  };
  walk(data, 0, `${path}.data`);
  return out;
}

/**
 * Where the element at row-major `index` is in a REST tensor's `data`:
 * `inputs[0].data[6]` when the data is flat, `inputs[0].data[1][2]` when it
 * is nested as the shape.
 */
export function jsonElementPath(data: unknown, shape: readonly number[], path: string): (index: number) => string {
  const nested = Array.isArray(data) && data.length > 0 && Array.isArray(data[0]);
  return nested ? (index) => `${path}.data${tensorIndex(index, shape)}` : (index) => `${path}.data[${index}]`;
}

/** A row-major element index as the tensor's indices: 6 in [2, 4] is `[1][2]`. */
export function tensorIndex(index: number, shape: readonly number[]): string {
  let text = "";
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d]!;
    text = `[${index % size}]${text}`;
    index = Math.floor(index / size);
  }
  return text;
}

function jsonNumber(value: unknown, datatype: NumericDatatype, where: () => string): number {
  if (typeof value !== "number") throw invalidField(`${where()} must be a number, got ${describe(value)}`, where());
  checkInteger(value, datatype, where);
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `a string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`;
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

/** The InferTensorContents field that carries each numeric datatype. */
const CONTENTS_FIELD = {
  UINT8: "uintContents",
  UINT16: "uintContents",
  UINT32: "uintContents",
  UINT64: "uint64Contents",
  INT8: "intContents",
  INT16: "intContents",
  INT32: "intContents",
  INT64: "int64Contents",
  FP32: "fp32Contents",
  FP64: "fp64Contents",
} as const satisfies Partial<Record<NumericDatatype, keyof InferTensorContents>>;

const SNAKE: Record<keyof InferTensorContents, string> = {
  boolContents: "bool_contents",
  intContents: "int_contents",
  int64Contents: "int64_contents",
  uintContents: "uint_contents",
  uint64Contents: "uint64_contents",
  fp32Contents: "fp32_contents",
  fp64Contents: "fp64_contents",
  bytesContents: "bytes_contents",
};

/** The path of the `contents` field that carries `datatype` under `path`: `inputs[0].contents.fp64_contents`. */
export function contentsPath(datatype: string, path: string): string {
  const field = CONTENTS_FIELD[datatype as keyof typeof CONTENTS_FIELD];
  return `${path}.contents${field === undefined ? "" : `.${SNAKE[field]}`}`;
}

/** The numbers of a gRPC input's `contents`, from the field its datatype uses. */
export function numbersFromContents(
  contents: InferTensorContents | undefined,
  datatype: NumericDatatype,
  count: number,
  path: string,
): ArrayLike<number> {
  if (datatype === "FP16") {
    throw invalidField(`${path}: FP16 values travel only in raw_input_contents (contents has no 16-bit float field)`, `${path}.contents`);
  }
  const field = CONTENTS_FIELD[datatype];
  for (const [key, values] of Object.entries(contents ?? {}) as [keyof InferTensorContents, unknown[]][]) {
    if (key !== field && values.length > 0) {
      throw invalidField(
        `${path}.contents has ${SNAKE[key]}, but datatype ${datatype} travels in ${SNAKE[field]}`,
        `${path}.contents.${SNAKE[key]}`,
      );
    }
  }
  const values: number[] = contents?.[field] ?? [];
  if (values.length !== count) {
    throw invalidField(
      `${path}.contents.${SNAKE[field]} has ${values.length} values, but the shape needs ${count}`,
      `${path}.contents.${SNAKE[field]}`,
    );
  }
  if (datatype !== "FP32" && datatype !== "FP64" && datatype !== "INT32" && datatype !== "UINT32") {
    for (let i = 0; i < count; i++) checkInteger(values[i]!, datatype, () => `${path}.contents.${SNAKE[field]}[${i}]`);
  }
  return values;
}

/**
 * The numbers in `bytes`: `count` little-endian elements of `datatype`
 * (the layout of gRPC raw contents and of the REST binary extension), or
 * INVALID_ARGUMENT naming `field`, the field that gave the bytes or their
 * size, when there are not exactly that many. FP64 bytes at an
 * 8-byte-aligned offset are read in place, without a copy.
 */
export function numbersFromBytes(bytes: Uint8Array, datatype: NumericDatatype, count: number, field: string): ArrayLike<number> {
  const size = DATATYPE_SIZES[datatype];
  if (bytes.byteLength !== count * size) {
    throw invalidField(`${field} is ${bytes.byteLength} bytes, but ${count} ${datatype} values take ${count * size}`, field);
  }
  const { buffer, byteOffset } = bytes;
  if (LITTLE_ENDIAN && datatype === "FP64" && byteOffset % 8 === 0) return new Float64Array(buffer, byteOffset, count);
  if (LITTLE_ENDIAN && datatype === "FP32" && byteOffset % 4 === 0) return new Float32Array(buffer, byteOffset, count);
  const view = new DataView(buffer, byteOffset, bytes.byteLength);
  const out = new Float64Array(count);
  const read = READERS[datatype];
  for (let i = 0; i < count; i++) out[i] = read(view, i * size);
  return out;
}

/** Typed arrays use the platform's byte order; the protocol's is little-endian. */
const LITTLE_ENDIAN = endianness() === "LE";

const READERS: Record<NumericDatatype, (view: DataView, offset: number) => number> = {
  UINT8: (v, o) => v.getUint8(o),
  UINT16: (v, o) => v.getUint16(o, true),
  UINT32: (v, o) => v.getUint32(o, true),
  UINT64: (v, o) => Number(v.getBigUint64(o, true)),
  INT8: (v, o) => v.getInt8(o),
  INT16: (v, o) => v.getInt16(o, true),
  INT32: (v, o) => v.getInt32(o, true),
  INT64: (v, o) => Number(v.getBigInt64(o, true)),
  FP16: (v, o) => halfToNumber(v.getUint16(o, true)),
  FP32: (v, o) => v.getFloat32(o, true),
  FP64: (v, o) => v.getFloat64(o, true),
};

/** An IEEE 754 binary16 value. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Class indices as INT64 little-endian bytes. */
export function int64Bytes(values: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafe(values.length * 8);
  for (let i = 0; i < values.length; i++) out.writeBigInt64LE(BigInt(values[i]!), i * 8);
  return out;
}

/** Doubles as FP64 little-endian bytes (a view of them, without a copy, on little-endian platforms). */
export function fp64Bytes(values: Float64Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.allocUnsafe(values.length * 8);
  for (let i = 0; i < values.length; i++) out.writeDoubleLE(values[i]!, i * 8);
  return out;
}

/** Strings as BYTES: each element's UTF-8 bytes behind a 4-byte little-endian length. */
export function bytesElements(values: readonly string[]): Buffer {
  const encoded = values.map((v) => Buffer.from(v, "utf8"));
  const out = Buffer.allocUnsafe(encoded.reduce((n, b) => n + 4 + b.length, 0));
  let o = 0;
  for (const b of encoded) {
    out.writeUInt32LE(b.length, o);
    b.copy(out, o + 4);
    o += 4 + b.length;
  }
  return out;
}
