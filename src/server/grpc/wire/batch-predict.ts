/**
 * iris.v1.BatchPredict on the wire, without an object per flower: the
 * request's bytes are read straight into one Float64Array of measurements,
 * checked in the same pass (the same INVALID_ARGUMENT, naming
 * `flowers[3].petal_width`, as validate.ts gives for the generated types),
 * and the columnar answer is encoded straight into one buffer from typed
 * arrays. Everything else (the other methods, the SDK) keeps the generated
 * ts-proto types; test/wire-codec.test.ts holds this codec to them.
 *
 * Decoding is in two steps. The deserializer (decodeBatchPredictRequest)
 * checks the whole encoding and counts the flowers, building nothing per
 * row, so a batch over the row limit costs one scan whatever it holds; the
 * handler then reads the measurements (readBatchRows) into a buffer it
 * reuses from call to call (BatchBuffers, or the batch kernel's own memory,
 * lent), and tells which lie outside the served model's training range in
 * the same pass. On this kind of machine a fresh 300 KB typed array costs
 * more (page faults) than decoding 10 000 flowers into one that is already
 * there.
 */
import { endianness } from "node:os";
import type { IrisError } from "../../../errors.js";
import type { MeasurementRanges } from "../../served-model.js";
import { collectMeasurements, Violations } from "../../validate.js";
import {
  ALL_PRESENT,
  CANONICAL_FLOWER_BYTES,
  isCanonicalFlower,
  PETAL_LENGTH_TAG,
  PETAL_WIDTH_TAG,
  readFlower,
  SEPAL_LENGTH_TAG,
  SEPAL_WIDTH_TAG,
} from "./flower.js";
import { MalformedMessage, WireReader, WireType } from "./reader.js";
import { stringSize, varintSize, writeString, writeVarint } from "./writer.js";
import { Undecodable } from "./undecodable.js";

/** A BatchPredictRequest whose encoding has been checked and whose flowers have been counted, not read. */
export interface BatchRequest {
  /** The encoded message (a view of what was received). */
  readonly bytes: Uint8Array;
  /** How many flowers it holds. */
  readonly rows: number;
  /**
   * How many of them, from the first byte on, are canonical `flowers`
   * entries (CANONICAL_ENTRY_BYTES each, one after the other): what every
   * encoder writes for full flowers, read with no further check.
   */
  readonly leadingRows: number;
  readonly omitProbabilities: boolean;
}

/** The tags of BatchPredictRequest's fields, as the generated encoder writes them. */
const FLOWERS_TAG = (1 << 3) | WireType.LEN;
const OMIT_PROBABILITIES_TAG = (2 << 3) | WireType.VARINT;

/** A `flowers` entry as every encoder writes a full flower: its tag, its length (36), then the canonical flower. */
const CANONICAL_ENTRY_BYTES = 2 + CANONICAL_FLOWER_BYTES;
/** A canonical entry's first three bytes (its tag, its length, the first measurement's tag), read as one little-endian number. */
const CANONICAL_ENTRY_HEAD = FLOWERS_TAG | (CANONICAL_FLOWER_BYTES << 8) | (SEPAL_LENGTH_TAG << 16);

/**
 * Whether a canonical `flowers` entry (see CANONICAL_ENTRY_BYTES) starts at
 * buf[p] and ends by `end` (`view` is over `buf`): its first three bytes
 * are read at once.
 */
function isCanonicalEntry(buf: Uint8Array, view: DataView, p: number, end: number): boolean {
  return (
    p + CANONICAL_ENTRY_BYTES <= end &&
    (view.getUint32(p, true) & 0xffffff) === CANONICAL_ENTRY_HEAD &&
    buf[p + 11] === SEPAL_WIDTH_TAG &&
    buf[p + 20] === PETAL_LENGTH_TAG &&
    buf[p + 29] === PETAL_WIDTH_TAG
  );
}

/** Where the run of canonical entries starting at buf[p] ends (p itself when none starts there). */
function canonicalRunEnd(buf: Uint8Array, view: DataView, p: number, end: number): number {
  while (isCanonicalEntry(buf, view, p, end)) p += CANONICAL_ENTRY_BYTES;
  return p;
}

/** True for a finite, non-negative number (NaN fails `>=`). */
function ok(v: number): boolean {
  return v >= 0 && v < Infinity;
}

/**
 * Checks the encoding of a BatchPredictRequest and counts its flowers,
 * without reading a measurement. Never throws: bytes that are not a valid
 * encoding give an Undecodable naming the problem.
 */
export function decodeBatchPredictRequest(bytes: Uint8Array): BatchRequest | Undecodable {
  const r = new WireReader(bytes);
  const buf = bytes;
  const end = bytes.length;
  // Canonical entries, the usual case, are counted a run at a time.
  const leading = canonicalRunEnd(buf, r.view, 0, end);
  const leadingRows = leading / CANONICAL_ENTRY_BYTES;
  let rows = leadingRows;
  r.pos = leading;
  let omitProbabilities = false;
  try {
    while (r.pos < end) {
      const p = r.pos;
      const run = canonicalRunEnd(buf, r.view, p, end);
      if (run !== p) {
        rows += (run - p) / CANONICAL_ENTRY_BYTES;
        r.pos = run;
        continue;
      }
      const tag = r.tag(end);
      if (tag === FLOWERS_TAG) {
        const stop = r.delimited(end);
        if (!isCanonicalFlower(buf, r.pos, stop)) {
          try {
            while (r.pos < stop) r.skip(r.tag(stop), stop);
          } catch (err) {
            if (err instanceof MalformedMessage) err.message = `flowers[${rows}]: ${err.message}`;
            throw err;
          }
        }
        r.pos = stop;
        rows++;
      } else if (tag === OMIT_PROBABILITIES_TAG) omitProbabilities = r.bool(end);
      else r.skip(tag, end);
    }
  } catch (err) {
    if (!(err instanceof MalformedMessage)) throw err;
    return new Undecodable(err.message, bytes.length);
  }
  return { bytes, rows, leadingRows, omitProbabilities };
}

/** What readBatchRows found in a request's measurements. */
export interface BatchRows {
  /** The INVALID_ARGUMENT listing the measurements that cannot be fed to a model, or undefined when all can. */
  readonly invalid: IrisError | undefined;
  /** How many rows have a measurement outside the model's training range (a bit set in their mask). */
  readonly flagged: number;
}

/**
 * Reads the measurements of a request that decodeBatchPredictRequest
 * accepted into `x` (at least rows × 4 long), row-major in FEATURES order
 * (sepal_length, sepal_width, petal_length, petal_width), and each row's
 * out-of-range mask against `ranges` (IrisModel.outOfRange's) into `masks`.
 * Lists the measurements that are missing, NaN, infinite or negative (at
 * most MAX_REPORTED_VIOLATIONS, as validate.ts does) in one
 * INVALID_ARGUMENT; `x` and `masks` are not to be used then.
 */
export function readBatchRows({ bytes, rows, leadingRows }: BatchRequest, ranges: MeasurementRanges, x: Float64Array, masks: Uint32Array): BatchRows {
  if (x.length < rows * 4) throw new RangeError(`x holds ${x.length} values, expected ${rows * 4}`);
  if (masks.length < rows) throw new RangeError(`masks holds ${masks.length}, expected ${rows}`);
  const r = new WireReader(bytes);
  const buf = bytes;
  const view = r.view;
  const end = bytes.length;
  const { low, high, bits } = ranges;
  const l0 = low[0]!;
  const l1 = low[1]!;
  const l2 = low[2]!;
  const l3 = low[3]!;
  const h0 = high[0]!;
  const h1 = high[1]!;
  const h2 = high[2]!;
  const h3 = high[3]!;
  const m0 = bits[0]!;
  const m1 = bits[1]!;
  const m2 = bits[2]!;
  const m3 = bits[3]!;
  let violations: Violations | undefined;
  let flagged = 0;
  let row = 0;
  let q = 0;
  // The leading canonical entries, checked by the decoder: four little-endian reads each (the doubles follow 1-byte tags).
  for (let o = 0; row < leadingRows; row++, q += CANONICAL_ENTRY_BYTES, o += 4) {
    const a = view.getFloat64(q + 3, true);
    const b = view.getFloat64(q + 12, true);
    const c = view.getFloat64(q + 21, true);
    const d = view.getFloat64(q + 30, true);
    x[o] = a;
    x[o + 1] = b;
    x[o + 2] = c;
    x[o + 3] = d;
    const mask = (a < l0 || a > h0 ? m0 : 0) | (b < l1 || b > h1 ? m1 : 0) | (c < l2 || c > h2 ? m2 : 0) | (d < l3 || d > h3 ? m3 : 0);
    masks[row] = mask;
    if (mask !== 0) flagged++;
    if (!(ok(a) && ok(b) && ok(c) && ok(d))) violations = badRow(violations, row, ALL_PRESENT, a, b, c, d);
  }
  r.pos = q;
  // Whatever follows: canonical entries, flowers in other encodings, other fields.
  const values = new Float64Array(4);
  while (r.pos < end) {
    let present = ALL_PRESENT;
    if (isCanonicalEntry(buf, view, r.pos, end)) {
      const p = r.pos;
      values[0] = view.getFloat64(p + 3, true);
      values[1] = view.getFloat64(p + 12, true);
      values[2] = view.getFloat64(p + 21, true);
      values[3] = view.getFloat64(p + 30, true);
      r.pos = p + CANONICAL_ENTRY_BYTES;
    } else {
      const tag = r.tag(end);
      if (tag !== FLOWERS_TAG) {
        if (tag === OMIT_PROBABILITIES_TAG) r.bool(end);
        else r.skip(tag, end);
        continue;
      }
      const stop = r.delimited(end);
      present = readFlower(r, stop, values, 0);
    }
    const a = values[0]!;
    const b = values[1]!;
    const c = values[2]!;
    const d = values[3]!;
    const o = row * 4;
    x[o] = a;
    x[o + 1] = b;
    x[o + 2] = c;
    x[o + 3] = d;
    const mask = maskAt(ranges, x, o);
    masks[row] = mask;
    if (mask !== 0) flagged++;
    if (!(present === ALL_PRESENT && ok(a) && ok(b) && ok(c) && ok(d))) violations = badRow(violations, row, present, a, b, c, d);
    row++;
  }
  return { invalid: violations?.error(), flagged };
}

/** The out-of-range mask of the row at x[o, o + 4), as the leading rows' loop computes it unrolled. */
function maskAt({ low, high, bits }: MeasurementRanges, x: Float64Array, o: number): number {
  let mask = 0;
  for (let j = 0; j < 4; j++) {
    const v = x[o + j]!;
    if (v < low[j]! || v > high[j]!) mask |= bits[j]!;
  }
  return mask;
}

/** Notes what is wrong with row `row`'s measurements (`present`: readFlower's mask), up to the reporting limit. */
function badRow(violations: Violations | undefined, row: number, present: number, a: number, b: number, c: number, d: number): Violations {
  violations ??= new Violations();
  if (violations.full) violations.more();
  else {
    const measured = [a, b, c, d].map((v, j) => (present & (1 << j) ? v : undefined));
    collectMeasurements(measured, `flowers[${row}]`, violations);
  }
  return violations;
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
  /**
   * For an answer whose arrays are on loan from BatchBuffers: whether they
   * still hold this answer (no later call has taken them).
   */
  current?: () => boolean;
}

/**
 * The buffers of BatchPredict calls, reused from call to call. A call takes
 * them for its rows, which ends the loan of the call before; its answer,
 * which refers to them, must be encoded before the next call takes them.
 * grpc-js does that (a handler's answer is serialized as the handler hands
 * it over, and handlers run one at a time); the encoder checks it, and
 * refuses (INTERNAL, logged) rather than send another call's numbers.
 */
export class BatchBuffers {
  #x = new Float64Array(0);
  #classIndices = new Int32Array(0);
  #probabilities = new Float64Array(0);
  #masks = new Uint32Array(0);
  #loan = 0;

  /**
   * Buffers for `rows` rows of 4 measurements, `classes` probabilities and
   * an out-of-range mask each; `current` tells whether they are still this
   * loan's.
   */
  take(
    rows: number,
    classes: number,
  ): { x: Float64Array; classIndices: Int32Array; probabilities: Float64Array; masks: Uint32Array; current: () => boolean } {
    if (this.#x.length < rows * 4) this.#x = new Float64Array(rows * 4);
    if (this.#classIndices.length < rows) this.#classIndices = new Int32Array(rows);
    if (this.#probabilities.length < rows * classes) this.#probabilities = new Float64Array(rows * classes);
    if (this.#masks.length < rows) this.#masks = new Uint32Array(rows);
    const current = this.#lend();
    return {
      x: this.#x.subarray(0, rows * 4),
      classIndices: this.#classIndices.subarray(0, rows),
      probabilities: this.#probabilities.subarray(0, rows * classes),
      masks: this.#masks.subarray(0, rows),
      current,
    };
  }

  /** take() for a call whose other arrays are lent by the batch kernel: only the masks. */
  takeMasks(rows: number): { masks: Uint32Array; current: () => boolean } {
    if (this.#masks.length < rows) this.#masks = new Uint32Array(rows);
    return { masks: this.#masks.subarray(0, rows), current: this.#lend() };
  }

  /** Ends the loan before, and tells whether the one it starts is current. */
  #lend(): () => boolean {
    const loan = ++this.#loan;
    return () => loan === this.#loan;
  }
}

const LITTLE_ENDIAN = endianness() === "LE";

/** An int32's varint size: negative values take 10 bytes (sign-extended to 64 bits). */
function int32Size(v: number, field: string, i: number): number {
  if ((v | 0) !== v) throw new RangeError(`${field}[${i}] is ${v}, not an int32`);
  return v < 0 ? 10 : varintSize(v);
}

function uint32Size(v: number, field: string, i: number): number {
  if (v >>> 0 !== v) throw new RangeError(`${field}[${i}] is ${v}, not a uint32`);
  return varintSize(v);
}

/**
 * Whether every value is a one-byte varint (0 to 127), checked without a
 * branch per value; typed arrays of integers only (a plain array may hold
 * fractions, which `|` would truncate).
 */
function allOneByte(values: ArrayLike<number>): values is Int32Array | Uint32Array {
  if (!(values instanceof Int32Array || values instanceof Uint32Array)) return false;
  let bits = 0;
  for (let i = 0; i < values.length; i++) bits |= values[i]!;
  return bits >= 0 && bits < 0x80;
}

/** The bytes of a packed int32 (`signed`) or uint32 field's values; throws a RangeError for a value of neither. */
function packedSize(values: ArrayLike<number>, signed: boolean): number {
  if (allOneByte(values)) return values.length;
  let size = 0;
  if (signed) for (let i = 0; i < values.length; i++) size += int32Size(values[i]!, "class_indices", i);
  else for (let i = 0; i < values.length; i++) size += uint32Size(values[i]!, "out_of_range_masks", i);
  return size;
}

function stringsSize(values: readonly string[]): number {
  let size = 0;
  for (const v of values) size += stringSize(v);
  return size;
}

/**
 * Encodes BatchPredictResponses exactly as the generated encoder does (same
 * fields, order and packing) into a buffer of its own, reused from answer
 * to answer: what encode() returns is valid until it is called again.
 * grpc-js copies a serialized message into its frame as soon as the
 * serializer returns.
 */
export class BatchResponseEncoder {
  #out = Buffer.allocUnsafe(0);

  /**
   * The answer's encoding. Throws a RangeError for a class index that is
   * not an int32 or a mask that is not a uint32, as the generated encoder
   * does, and an Error for an answer whose buffers another call has taken.
   */
  encode(answer: BatchAnswer): Buffer {
    if (answer.current !== undefined && !answer.current()) {
      throw new Error("the BatchPredict answer's buffers were taken by a later call before it was encoded");
    }
    const indexBytes = packedSize(answer.classIndices, true);
    const maskBytes = packedSize(answer.outOfRangeMasks, false);
    const size = encodedSize(answer, indexBytes, maskBytes);
    if (this.#out.length < size) this.#out = Buffer.allocUnsafe(Math.max(size, 2 * this.#out.length));
    const out = this.#out.subarray(0, size);
    write(answer, out, indexBytes, maskBytes);
    return out;
  }
}

/** The size of an answer's encoding, given the bytes of its packed class indices and masks. */
function encodedSize(answer: BatchAnswer, indexBytes: number, maskBytes: number): number {
  const { modelVersion, classes, classIndices, probabilities, outOfRangeMasks: masks, outOfRangeFeatureNames: names } = answer;
  const probabilityBytes = probabilities.length * 8;
  const versionBytes = Buffer.byteLength(modelVersion, "utf8");
  return (
    (versionBytes > 0 ? 1 + varintSize(versionBytes) + versionBytes : 0) +
    stringsSize(classes) +
    (classIndices.length > 0 ? 1 + varintSize(indexBytes) + indexBytes : 0) +
    (probabilities.length > 0 ? 1 + varintSize(probabilityBytes) + probabilityBytes : 0) +
    (masks.length > 0 ? 1 + varintSize(maskBytes) + maskBytes : 0) +
    stringsSize(names)
  );
}

function write(answer: BatchAnswer, out: Buffer, indexBytes: number, maskBytes: number): void {
  const { modelVersion, classes, classIndices, probabilities, outOfRangeMasks: masks, outOfRangeFeatureNames: names } = answer;
  const versionBytes = Buffer.byteLength(modelVersion, "utf8");
  let pos = 0;
  if (versionBytes > 0) pos = writeString(out, pos, (1 << 3) | WireType.LEN, modelVersion);
  for (const v of classes) pos = writeString(out, pos, (2 << 3) | WireType.LEN, v);
  if (classIndices.length > 0) {
    out[pos++] = (3 << 3) | WireType.LEN;
    pos = writeVarint(out, pos, indexBytes);
    if (indexBytes === classIndices.length) {
      // Every value a one-byte varint (packedSize counted at least one byte each): the values themselves.
      out.set(classIndices, pos);
      pos += indexBytes;
    } else {
      for (let i = 0; i < classIndices.length; i++) {
        const v = classIndices[i]!;
        if (v >= 0 && v < 0x80) out[pos++] = v;
        else pos = writeVarint(out, pos, v);
      }
    }
  }
  if (probabilities.length > 0) {
    const probabilityBytes = probabilities.length * 8;
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
    if (maskBytes === masks.length) {
      out.set(masks, pos);
      pos += maskBytes;
    } else {
      for (let i = 0; i < masks.length; i++) pos = writeVarint(out, pos, masks[i]!);
    }
  }
  for (const v of names) pos = writeString(out, pos, (6 << 3) | WireType.LEN, v);
  if (pos !== out.length) throw new Error(`encoded ${pos} bytes of the ${out.length} computed`);
}
