/**
 * iris.v1.BatchPredict on the wire, without an object per flower: the
 * request's bytes are decoded straight into one Float64Array of
 * measurements, checked in the same pass (the same INVALID_ARGUMENT, naming
 * `flowers[3].petal_width`, as the generated types get from validate.ts),
 * and the columnar answer is encoded straight into one buffer from typed
 * arrays. Everything else (the other methods, the SDK) keeps the generated
 * ts-proto types; test/wire-codec.test.ts holds this codec to them.
 *
 * The rows are counted before anything is built for them: a batch over the
 * row limit costs one scan of its top-level fields, whatever it holds.
 */
import { endianness } from "node:os";
import type { IrisError } from "../../../errors.js";
import { collectMeasurements, Violations } from "../../validate.js";
import { MalformedMessage, WireReader, WireType } from "./reader.js";
import { Undecodable } from "./undecodable.js";

/** A decoded BatchPredictRequest. */
export interface BatchRows {
  /** How many flowers the request holds. */
  readonly rows: number;
  readonly omitProbabilities: boolean;
  /**
   * The measurements, row-major (rows × 4) in FEATURES order
   * (sepal_length, sepal_width, petal_length, petal_width). Empty when
   * `rows` is over the limit the decoder was given: then nothing is decoded.
   */
  readonly x: Float64Array;
  /** INVALID_ARGUMENT listing the measurements that are missing, NaN, infinite or negative; undefined when all are fine. */
  readonly invalid: IrisError | undefined;
}

/** The tags of BatchPredictRequest and Flower fields, as the generated encoder writes them. */
const FLOWERS_TAG = (1 << 3) | WireType.LEN;
const OMIT_PROBABILITIES_TAG = (2 << 3) | WireType.VARINT;
const SEPAL_LENGTH_TAG = (1 << 3) | WireType.I64;
const SEPAL_WIDTH_TAG = (2 << 3) | WireType.I64;
const PETAL_LENGTH_TAG = (3 << 3) | WireType.I64;
const PETAL_WIDTH_TAG = (4 << 3) | WireType.I64;
/** A Flower with all four measurements, each once, in field order: 4 × (1-byte tag + 8 bytes). */
const CANONICAL_FLOWER_BYTES = 36;

/** True for a present, finite, non-negative number (NaN fails `>=`). */
function ok(v: number): boolean {
  return v >= 0 && v < Infinity;
}

/**
 * Decodes a BatchPredictRequest. A request of more than `maxRows` flowers
 * is counted, not decoded (`x` is empty). Never throws: bytes that are not
 * a valid encoding give an Undecodable.
 */
export function decodeBatchPredictRequest(bytes: Uint8Array, maxRows: number): BatchRows | Undecodable {
  const r = new WireReader(bytes);
  const end = bytes.length;
  // First pass: the top-level fields only, counting the flowers.
  let rows = 0;
  let omitProbabilities = false;
  try {
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === FLOWERS_TAG) {
        r.pos = r.delimited(end);
        rows++;
      } else if (tag === OMIT_PROBABILITIES_TAG) omitProbabilities = r.bool(end);
      else r.skip(tag, end);
    }
  } catch (err) {
    return undecodable(err, bytes.length, "");
  }
  if (rows > maxRows) return { rows, omitProbabilities, x: new Float64Array(0), invalid: undefined };

  // Second pass: every flower into x, checked as it is read.
  const x = new Float64Array(rows * 4);
  const buf = bytes;
  const view = r.view;
  let violations: Violations | undefined;
  let row = 0;
  r.pos = 0;
  try {
    for (let o = 0; r.pos < end; ) {
      const tag = r.tag(end);
      if (tag !== FLOWERS_TAG) {
        r.skip(tag, end);
        continue;
      }
      const stop = r.delimited(end);
      const p = r.pos;
      let a: number;
      let b: number;
      let c: number;
      let d: number;
      let present: number;
      if (
        stop - p === CANONICAL_FLOWER_BYTES &&
        buf[p] === SEPAL_LENGTH_TAG &&
        buf[p + 9] === SEPAL_WIDTH_TAG &&
        buf[p + 18] === PETAL_LENGTH_TAG &&
        buf[p + 27] === PETAL_WIDTH_TAG
      ) {
        a = view.getFloat64(p + 1, true);
        b = view.getFloat64(p + 10, true);
        c = view.getFloat64(p + 19, true);
        d = view.getFloat64(p + 28, true);
        present = 15;
        r.pos = stop;
      } else {
        // Any other valid encoding: fields in any order, repeated (the last
        // one counts), absent, or among unknown fields.
        a = b = c = d = 0;
        present = 0;
        while (r.pos < stop) {
          const t = r.tag(stop);
          if (t === SEPAL_LENGTH_TAG) {
            a = r.double(stop);
            present |= 1;
          } else if (t === SEPAL_WIDTH_TAG) {
            b = r.double(stop);
            present |= 2;
          } else if (t === PETAL_LENGTH_TAG) {
            c = r.double(stop);
            present |= 4;
          } else if (t === PETAL_WIDTH_TAG) {
            d = r.double(stop);
            present |= 8;
          } else r.skip(t, stop);
        }
      }
      if (present === 15 && ok(a) && ok(b) && ok(c) && ok(d)) {
        x[o] = a;
        x[o + 1] = b;
        x[o + 2] = c;
        x[o + 3] = d;
      } else {
        violations ??= new Violations();
        if (violations.full) violations.more();
        else {
          const values = [a, b, c, d].map((v, j) => (present & (1 << j) ? v : undefined));
          collectMeasurements(values, `flowers[${row}]`, violations);
        }
      }
      row++;
      o += 4;
    }
  } catch (err) {
    return undecodable(err, bytes.length, `flowers[${row}]: `);
  }
  return { rows, omitProbabilities, x, invalid: violations?.error() };
}

function undecodable(err: unknown, size: number, where: string): Undecodable {
  if (!(err instanceof MalformedMessage)) throw err;
  return new Undecodable(`${where}${err.message}`, size);
}

/**
 * A BatchPredictResponse with its arrays as plain or typed arrays: the
 * generated BatchPredictResponse is one.
 */
export interface BatchAnswer {
  modelVersion: string;
  classes: readonly string[];
  classIndices: ArrayLike<number>;
  probabilities: ArrayLike<number>;
  outOfRangeMasks: ArrayLike<number>;
  outOfRangeFeatureNames: readonly string[];
}

const LITTLE_ENDIAN = endianness() === "LE";

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** An int32's varint size: negative values take 10 bytes (sign-extended to 64 bits). */
function int32Size(v: number, field: string, i: number): number {
  if ((v | 0) !== v) throw new RangeError(`${field}[${i}] is ${v}, not an int32`);
  return v < 0 ? 10 : varintSize(v);
}

function uint32Size(v: number, field: string, i: number): number {
  if (v >>> 0 !== v) throw new RangeError(`${field}[${i}] is ${v}, not a uint32`);
  return varintSize(v);
}

function stringsSize(values: readonly string[]): number {
  let size = 0;
  for (const v of values) {
    const n = Buffer.byteLength(v, "utf8");
    size += 1 + varintSize(n) + n;
  }
  return size;
}

/** Writes `v` (a uint32, or an int32 as 64-bit two's complement) as a varint at `pos`; returns the position after it. */
function writeVarint(out: Buffer, pos: number, v: number): number {
  if (v < 0) {
    // 64-bit two's complement of an int32: the low 32 bits, then all ones.
    let lo = v >>> 0;
    for (let i = 0; i < 4; i++) {
      out[pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    out[pos++] = (lo & 0x0f) | 0xf0;
    for (let i = 0; i < 4; i++) out[pos++] = 0xff;
    out[pos++] = 0x01;
    return pos;
  }
  while (v > 0x7f) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  return pos;
}

function writeString(out: Buffer, pos: number, tag: number, v: string): number {
  out[pos++] = tag;
  const n = Buffer.byteLength(v, "utf8");
  pos = writeVarint(out, pos, n);
  return pos + out.write(v, pos, n, "utf8");
}

/**
 * Encodes a BatchPredictResponse exactly as the generated encoder does
 * (same fields, order and packing). Throws a RangeError for a class index
 * that is not an int32 or a mask that is not a uint32, as that encoder does.
 */
export function encodeBatchPredictResponse(answer: BatchAnswer): Buffer {
  const { modelVersion, classes, classIndices, probabilities, outOfRangeMasks: masks, outOfRangeFeatureNames: names } = answer;
  let indexBytes = 0;
  for (let i = 0; i < classIndices.length; i++) indexBytes += int32Size(classIndices[i]!, "class_indices", i);
  let maskBytes = 0;
  for (let i = 0; i < masks.length; i++) maskBytes += uint32Size(masks[i]!, "out_of_range_masks", i);
  const probabilityBytes = probabilities.length * 8;
  const versionBytes = Buffer.byteLength(modelVersion, "utf8");
  const size =
    (versionBytes > 0 ? 1 + varintSize(versionBytes) + versionBytes : 0) +
    stringsSize(classes) +
    (classIndices.length > 0 ? 1 + varintSize(indexBytes) + indexBytes : 0) +
    (probabilities.length > 0 ? 1 + varintSize(probabilityBytes) + probabilityBytes : 0) +
    (masks.length > 0 ? 1 + varintSize(maskBytes) + maskBytes : 0) +
    stringsSize(names);

  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  if (versionBytes > 0) pos = writeString(out, pos, (1 << 3) | WireType.LEN, modelVersion);
  for (const v of classes) pos = writeString(out, pos, (2 << 3) | WireType.LEN, v);
  if (classIndices.length > 0) {
    out[pos++] = (3 << 3) | WireType.LEN;
    pos = writeVarint(out, pos, indexBytes);
    for (let i = 0; i < classIndices.length; i++) {
      const v = classIndices[i]!;
      if (v >= 0 && v < 0x80) out[pos++] = v;
      else pos = writeVarint(out, pos, v);
    }
  }
  if (probabilities.length > 0) {
    out[pos++] = (4 << 3) | WireType.LEN;
    pos = writeVarint(out, pos, probabilityBytes);
    if (LITTLE_ENDIAN && probabilities instanceof Float64Array) {
      out.set(new Uint8Array(probabilities.buffer, probabilities.byteOffset, probabilityBytes), pos);
      pos += probabilityBytes;
    } else {
      for (let i = 0; i < probabilities.length; i++, pos += 8) out.writeDoubleLE(probabilities[i]!, pos);
    }
  }
  if (masks.length > 0) {
    out[pos++] = (5 << 3) | WireType.LEN;
    pos = writeVarint(out, pos, maskBytes);
    for (let i = 0; i < masks.length; i++) pos = writeVarint(out, pos, masks[i]!);
  }
  for (const v of names) pos = writeString(out, pos, (6 << 3) | WireType.LEN, v);
  return out;
}
