/**
 * What the Open Inference Protocol suites share: the model's expected
 * answers computed with the model module itself, and tensor bytes written
 * and read here, independently of the server's own encoders (little-endian,
 * row-major; BYTES elements behind a 4-byte little-endian length).
 */
import { FEATURES, type IrisModel } from "../../src/model/index.js";

/**
 * Whether each measurement of `rows` (FEATURES order) lies outside its
 * feature's training [min, max] as the artifact records it: [N][4].
 */
export function outOfRangeFlags(model: IrisModel, rows: readonly (readonly number[])[]): boolean[][] {
  const ranges = FEATURES.map((name) => model.artifact.features.find((f) => f.name === name)!);
  return rows.map((row) => row.map((v, j) => v < ranges[j]!.min || v > ranges[j]!.max));
}

/** The response parameter an answer for `rows` carries: `out_of_range_rows` when some row is out of range. */
export function outOfRangeParameters(model: IrisModel, rows: readonly (readonly number[])[]): { out_of_range_rows?: number } {
  const n = outOfRangeFlags(model, rows).filter((flags) => flags.includes(true)).length;
  return n > 0 ? { out_of_range_rows: n } : {};
}

/** The outputs the model answers for `rows`, in JSON form (flat data): the three answered by default, and out_of_range. */
export function expectedOutputs(model: IrisModel, rows: readonly (readonly number[])[]) {
  const predictions = rows.map((row) => model.predict(row));
  return {
    out_of_range: { name: "out_of_range", datatype: "BOOL", shape: [rows.length, 4], data: outOfRangeFlags(model, rows).flat() },
    predict: { name: "predict", datatype: "INT64", shape: [rows.length], data: predictions.map((p) => p.classIndex) },
    predict_proba: {
      name: "predict_proba",
      datatype: "FP64",
      shape: [rows.length, model.numClasses],
      data: predictions.flatMap((p) => p.probabilities),
    },
    species: { name: "species", datatype: "BYTES", shape: [rows.length], data: predictions.map((p) => p.label) },
  };
}

type Writer = (buffer: Buffer, value: number, offset: number) => void;
const WRITERS: Record<string, [size: number, write: Writer]> = {
  FP64: [8, (b, v, o) => b.writeDoubleLE(v, o)],
  FP32: [4, (b, v, o) => b.writeFloatLE(v, o)],
  FP16: [2, (b, v, o) => b.writeUInt16LE(toHalf(v), o)],
  INT64: [8, (b, v, o) => b.writeBigInt64LE(BigInt(v), o)],
  UINT64: [8, (b, v, o) => b.writeBigUInt64LE(BigInt(v), o)],
  INT32: [4, (b, v, o) => b.writeInt32LE(v, o)],
  UINT32: [4, (b, v, o) => b.writeUInt32LE(v, o)],
  INT16: [2, (b, v, o) => b.writeInt16LE(v, o)],
  UINT16: [2, (b, v, o) => b.writeUInt16LE(v, o)],
  INT8: [1, (b, v, o) => b.writeInt8(v, o)],
  UINT8: [1, (b, v, o) => b.writeUInt8(v, o)],
};

/** `values` as little-endian elements of `datatype`. */
export function tensorBytes(datatype: string, values: readonly number[]): Buffer {
  const [size, write] = WRITERS[datatype]!;
  const out = Buffer.alloc(values.length * size);
  values.forEach((v, i) => write(out, v, i * size));
  return out;
}

/** IEEE 754 binary16 bits of a value that binary16 holds exactly (a normal number or 0). */
function toHalf(value: number): number {
  if (value === 0) return Object.is(value, -0) ? 0x8000 : 0;
  const sign = value < 0 ? 0x8000 : 0;
  const a = Math.abs(value);
  const exponent = Math.floor(Math.log2(a));
  const fraction = (a / 2 ** exponent - 1) * 1024;
  if (!Number.isInteger(fraction) || exponent < -14 || exponent > 15) throw new Error(`${value} is not exactly a binary16 normal number`);
  return sign | ((exponent + 15) << 10) | fraction;
}

export function readInt64s(bytes: Buffer): number[] {
  return Array.from({ length: bytes.length / 8 }, (_, i) => Number(bytes.readBigInt64LE(i * 8)));
}

export function readFloat64s(bytes: Buffer): number[] {
  return Array.from({ length: bytes.length / 8 }, (_, i) => bytes.readDoubleLE(i * 8));
}

/** BYTES elements: each a 4-byte little-endian length and that many bytes (read as UTF-8). */
export function readBytesElements(bytes: Buffer): string[] {
  const out: string[] = [];
  let o = 0;
  while (o < bytes.length) {
    const n = bytes.readUInt32LE(o);
    out.push(bytes.subarray(o + 4, o + 4 + n).toString("utf8"));
    o += 4 + n;
  }
  if (o !== bytes.length) throw new Error(`BYTES elements overrun the ${bytes.length} bytes`);
  return out;
}
