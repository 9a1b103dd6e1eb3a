/**
 * The hand-written BatchPredict codec (src/server/grpc/wire/) held to the
 * generated ts-proto one on arbitrary messages, with fast-check:
 *   - any valid encoding of a BatchPredictRequest (fields in any order,
 *     repeated, absent, unknown fields of every wire type and groups,
 *     known field numbers with another wire type, padded varints,
 *     canonical and non-canonical flowers) decodes to the same rows, flag
 *     and INVALID_ARGUMENT as ts-proto's decoder followed by the check the
 *     server applied to the generated types (validate.ts readFlowers);
 *   - arbitrary bytes: what ts-proto refuses, the codec refuses, and what
 *     the codec accepts, it decodes as ts-proto does;
 *   - any BatchPredictResponse, from plain or typed arrays, encodes to the
 *     bytes ts-proto writes, which ts-proto decodes to the same message;
 *   - the same for Predict's PredictRequest and PredictResponse.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { IrisError } from "../src/errors.js";
import { BatchPredictRequest, BatchPredictResponse, Flower, PredictRequest, PredictResponse } from "../src/gen/iris.js";
import {
  BatchBuffers,
  BatchResponseEncoder,
  decodeBatchPredictRequest,
  readBatchRows,
  type BatchRequest,
} from "../src/server/grpc/wire/batch-predict.js";
import { decodePredictRequest, PredictResponseEncoder } from "../src/server/grpc/wire/predict.js";
import { Undecodable } from "../src/server/grpc/wire/undecodable.js";
import { serveModel, type ServedModel } from "../src/server/served-model.js";
import { readFlowers } from "../src/server/validate.js";
import { referenceModel } from "./support/service-fixtures.js";

let served: ServedModel;
beforeAll(async () => {
  served = serveModel(await referenceModel());
  // The reference check writes in model column order; these tests compare FEATURES order.
  expect(served.columns).toEqual([0, 1, 2, 3]);
});

// --- Writing the wire format, in every valid way ----------------------------

/** `value` as a varint, padded with redundant zero groups to `length` bytes (at most 10) when longer than needed. */
function varint(value: bigint, length = 0): number[] {
  const out: number[] = [];
  let v = value;
  do {
    out.push(Number(v & 0x7fn));
    v >>= 7n;
  } while (v > 0n);
  while (out.length < length) out.push(0);
  return out.map((b, i) => (i < out.length - 1 ? b | 0x80 : b));
}

type Field = number[];
const WIRE = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** A tag, its varint padded to at most 5 bytes. */
const tagArb = (field: number, wireType: number): fc.Arbitrary<number[]> =>
  fc.integer({ min: 0, max: 5 }).map((pad) => varint(BigInt(field * 8 + wireType), pad));

const padArb = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 10 }) });

const doubleBytes = (v: number): number[] => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return [...b];
};

const lenField = (field: number, payload: fc.Arbitrary<number[]>): fc.Arbitrary<Field> =>
  fc.tuple(tagArb(field, WIRE.LEN), padArb, payload).map(([t, pad, p]) => [...t, ...varint(BigInt(p.length), pad), ...p]);

/** An unknown field of any wire type (groups nest up to `depth`). */
const unknownFieldArb = (fieldNumbers: fc.Arbitrary<number>, depth = 2): fc.Arbitrary<Field> =>
  fieldNumbers.chain((field): fc.Arbitrary<Field> => {
    const kinds: fc.Arbitrary<Field>[] = [
      fc.tuple(tagArb(field, WIRE.VARINT), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), padArb).map(([t, v, pad]) => [...t, ...varint(v, pad)]),
      fc.tuple(tagArb(field, WIRE.I64), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([t, b]) => [...t, ...b]),
      fc.tuple(tagArb(field, WIRE.I32), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([t, b]) => [...t, ...b]),
      lenField(field, fc.uint8Array({ maxLength: 12 }).map((b) => [...b])),
    ];
    if (depth > 0) {
      kinds.push(
        fc
          .tuple(tagArb(field, WIRE.SGROUP), fc.array(unknownFieldArb(fc.integer({ min: 1, max: 40 }), depth - 1), { maxLength: 3 }), tagArb(field, WIRE.EGROUP))
          .map(([open, inner, close]) => [...open, ...inner.flat(), ...close]),
      );
    }
    return fc.oneof(...kinds);
  });

/** Any double, with the values that matter here (negative, zero, NaN, infinite, typical) drawn often. */
const measurementArb = fc.oneof(
  fc.double(),
  fc.constantFrom(5.1, 3.5, 1.4, 0.2, 0, -0, -1, NaN, Infinity, -Infinity, 1e308, Number.MIN_VALUE),
);

/** A Flower's fields, in any valid encoding. */
const flowerPayloadArb: fc.Arbitrary<number[]> = fc.oneof(
  // Canonical: what every protobuf encoder writes for a full flower.
  fc
    .tuple(measurementArb, measurementArb, measurementArb, measurementArb)
    .map(([a, b, c, d]) => [...Flower.encode({ sepalLength: a, sepalWidth: b, petalLength: c, petalWidth: d }).finish()]),
  // Anything else: measurements in any order, repeated or absent, known
  // numbers with another wire type, unknown fields.
  fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), measurementArb).chain(([f, v]) => tagArb(f, WIRE.I64).map((t) => [...t, ...doubleBytes(v)])) },
        { weight: 1, arbitrary: unknownFieldArb(fc.integer({ min: 1, max: 4 }), 0).filter((f) => (f[0]! & 7) !== WIRE.I64) },
        { weight: 1, arbitrary: unknownFieldArb(fc.oneof(fc.integer({ min: 5, max: 20 }), fc.constant(536_870_911))) },
      ),
      { maxLength: 9 },
    )
    .map((fields) => fields.flat()),
);

/** A BatchPredictRequest in any valid encoding. */
const requestArb: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      { weight: 10, arbitrary: lenField(1, flowerPayloadArb) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(tagArb(2, WIRE.VARINT), fc.oneof(fc.constantFrom(0n, 1n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), padArb)
          .map(([t, v, pad]) => [...t, ...varint(v, pad)]),
      },
      // Field 1 or 2 with a wire type other than its own: an unknown field to every decoder.
      { weight: 1, arbitrary: unknownFieldArb(fc.constantFrom(1, 2)).filter((f) => !isTagOf(f, 1, WIRE.LEN) && !isTagOf(f, 2, WIRE.VARINT)) },
      { weight: 1, arbitrary: unknownFieldArb(fc.oneof(fc.integer({ min: 3, max: 300 }), fc.constant(536_870_911))) },
    ),
    { maxLength: 60 },
  )
  .map((fields) => Uint8Array.from(fields.flat()));

/** Whether `field` starts with a tag, however padded, of `number` and `wireType`. */
function isTagOf(field: number[], number: number, wireType: number): boolean {
  let tag = 0;
  for (let i = 0, shift = 0; i < 5; i++, shift += 7) {
    tag += (field[i]! & 0x7f) * 2 ** shift;
    if (field[i]! < 0x80) break;
  }
  return tag === number * 8 + wireType;
}

// --- The reference: ts-proto, then the check the server applied to its types --

interface Expected {
  rows: number;
  omitProbabilities: boolean;
  x: number[] | undefined;
  /** Each row's out-of-range mask, and how many are not 0, when the rows are valid. */
  masks: number[] | undefined;
  flagged: number | undefined;
  error: { code: number; message: string; violations: unknown } | undefined;
}

function reference(bytes: Uint8Array): Expected | "refused" {
  let request: BatchPredictRequest;
  try {
    request = BatchPredictRequest.decode(bytes);
  } catch {
    return "refused";
  }
  const rows = request.flowers.length;
  const x = new Float64Array(rows * 4);
  try {
    readFlowers(served, request.flowers, x);
  } catch (err) {
    if (!(err instanceof IrisError)) throw err;
    return { rows, omitProbabilities: request.omitProbabilities, x: undefined, masks: undefined, flagged: undefined, error: errorOf(err) };
  }
  const masks = new Uint32Array(rows);
  const flagged = served.model.outOfRangeBatch(x, rows, masks);
  return { rows, omitProbabilities: request.omitProbabilities, x: Array.from(x), masks: Array.from(masks), flagged, error: undefined };
}

function errorOf(err: IrisError): Expected["error"] {
  return { code: err.code, message: err.message, violations: err.violations };
}

/** What the server's two steps make of `bytes`: the deserializer's check and count, then the handler's read. */
function decode(bytes: Uint8Array): Expected | Undecodable {
  const request = decodeBatchPredictRequest(bytes);
  if (request instanceof Undecodable) return request;
  const x = new Float64Array(request.rows * 4);
  const masks = new Uint32Array(request.rows);
  const { invalid, flagged } = readBatchRows(request, served.ranges, x, masks);
  const { rows, omitProbabilities } = request;
  const valid = invalid === undefined;
  return {
    rows,
    omitProbabilities,
    x: valid ? Array.from(x) : undefined,
    masks: valid ? Array.from(masks) : undefined,
    flagged: valid ? flagged : undefined,
    error: valid ? undefined : errorOf(invalid),
  };
}

const RUNS = { numRuns: 400 };

describe("decoding BatchPredictRequest", () => {
  it("decodes any valid encoding to ts-proto's rows, or to the same INVALID_ARGUMENT", () => {
    fc.assert(
      fc.property(requestArb, (bytes) => {
        const expected = reference(bytes);
        expect(expected).not.toBe("refused");
        const decoded = decode(bytes);
        if (decoded instanceof Undecodable) throw new Error(`refused a valid encoding: ${decoded.problem}`);
        expect(decoded).toEqual(expected);
      }),
      RUNS,
    );
  });

  it("refuses whatever ts-proto refuses, and decodes whatever it accepts as ts-proto does", () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // Valid encodings cut short or with a byte changed: mostly malformed, near the valid ones.
      fc.tuple(requestArb, fc.nat(), fc.nat(255)).map(([b, at, v]) => {
        if (b.length === 0) return b;
        const i = at % b.length;
        return at % 2 === 0 ? b.subarray(0, i) : Uint8Array.from(b, (x, j) => (j === i ? v : x));
      }),
    );
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        const expected = reference(bytes);
        const decoded = decode(bytes);
        if (expected === "refused") expect(decoded).toBeInstanceOf(Undecodable);
        else if (!(decoded instanceof Undecodable)) expect(decoded).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ["a flower cut off", [0x0a, 0x24, 0x09, 0x01], "a length-delimited field of 36 bytes with only 2 left at byte 1"],
    ["a double cut off inside a flower", [0x0a, 0x03, 0x09, 0x01, 0x02], "flowers[0]: a 64-bit value cut off by the end of the message at byte 3"],
    ["a varint cut off", [0x10, 0x80], "a varint cut off by the end of the message at byte 1"],
    ["a varint of 11 bytes", [0x10, ...Array(10).fill(0x80), 0x00], "a varint longer than 10 bytes at byte 1"],
    ["wire type 7", [0x0f], "a field of wire type 7, which does not exist at byte 0"],
    ["field number 0", [0x02, 0x00], "a field number 0 at byte 0"],
    ["an unmatched end-group tag", [0x0a, 0x00, 0x1c], "an end-group tag (field 3) without a group to end at byte 2"],
    ["an unclosed group", [0x1b, 0x08, 0x01], "a group (field 3) without its end-group tag at byte 3"],
  ])("names what is wrong: %s", (_label, bytes, problem) => {
    expect(decodeBatchPredictRequest(Uint8Array.from(bytes))).toEqual(new Undecodable(problem, bytes.length));
  });

  it("counts 3 000 000 empty flowers (6 MB) without reading them, so that the row limit applies before any work per row", () => {
    const bytes = Buffer.alloc(6_000_000);
    for (let i = 0; i < bytes.length; i += 2) bytes[i] = 0x0a;
    const request = decodeBatchPredictRequest(bytes) as BatchRequest;
    expect([request.rows, request.omitProbabilities, request.bytes === bytes]).toEqual([3_000_000, false, true]);
  });
});

// --- Encoding BatchPredictResponse ----------------------------------------------

const int32Arb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) });
const uint32Arb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 15 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }) });
const responseArb: fc.Arbitrary<BatchPredictResponse> = fc.record({
  modelVersion: fc.oneof(fc.constant(""), fc.string(), fc.string({ unit: "grapheme" })),
  classes: fc.array(fc.oneof(fc.string(), fc.string({ unit: "binary" })), { maxLength: 5 }),
  classIndices: fc.array(int32Arb, { maxLength: 200 }),
  probabilities: fc.array(fc.double(), { maxLength: 200 }),
  outOfRangeMasks: fc.array(uint32Arb, { maxLength: 200 }),
  outOfRangeFeatureNames: fc.array(fc.string(), { maxLength: 5 }),
});

describe("encoding BatchPredictResponse", () => {
  it("writes ts-proto's bytes for any message, from plain or typed arrays, and ts-proto reads the message back", () => {
    // One encoder for every message, as on the server: its buffer is reused.
    const encoder = new BatchResponseEncoder();
    fc.assert(
      fc.property(responseArb, fc.boolean(), (message, typed) => {
        const answer = typed
          ? {
              ...message,
              classIndices: Int32Array.from(message.classIndices),
              probabilities: Float64Array.from(message.probabilities),
              outOfRangeMasks: Uint32Array.from(message.outOfRangeMasks),
            }
          : message;
        const bytes = Buffer.from(encoder.encode(answer));
        const generated = BatchPredictResponse.encode(message).finish();
        expect(Buffer.compare(bytes, Buffer.from(generated))).toBe(0);
        const decoded = BatchPredictResponse.decode(bytes);
        // Strings with lone surrogates come back with U+FFFD, from either encoder.
        expect(decoded).toEqual(BatchPredictResponse.decode(generated));
        expect({ ...decoded, classes: [], modelVersion: "", outOfRangeFeatureNames: [] }).toEqual({
          ...message,
          classes: [],
          modelVersion: "",
          outOfRangeFeatureNames: [],
        });
      }),
      RUNS,
    );
  });

  it("refuses a class index that is not an int32 and a mask that is not a uint32, as ts-proto does", () => {
    const base = { modelVersion: "v", classes: ["a"], classIndices: [0], probabilities: [], outOfRangeMasks: [], outOfRangeFeatureNames: [] };
    for (const bad of [{ classIndices: [2 ** 31] }, { classIndices: [0.5] }, { outOfRangeMasks: [-1] }, { outOfRangeMasks: [2 ** 32] }]) {
      expect(() => BatchPredictResponse.encode({ ...base, ...bad })).toThrow();
      expect(() => new BatchResponseEncoder().encode({ ...base, ...bad })).toThrow(RangeError);
    }
  });

  it("refuses an answer whose buffers a later call has taken, rather than send that call's numbers", () => {
    const buffers = new BatchBuffers();
    const encoder = new BatchResponseEncoder();
    const answer = (rows: number) => {
      const { classIndices, probabilities, current } = buffers.take(rows, 3);
      classIndices.fill(rows);
      probabilities.fill(1 / rows);
      return { modelVersion: "v", classes: ["a", "b", "c"], classIndices, probabilities, outOfRangeMasks: [], outOfRangeFeatureNames: [], current };
    };
    const first = answer(2);
    expect(BatchPredictResponse.decode(encoder.encode(first)).classIndices).toEqual([2, 2]);
    const stale = answer(3);
    answer(4);
    expect(() => encoder.encode(stale)).toThrow(/taken by a later call/);
  });
});

// --- Predict ------------------------------------------------------------------

/** A PredictRequest in any valid encoding: flower fields (the last one counts) among unknown fields. */
const predictRequestArb: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: lenField(1, flowerPayloadArb) },
      { weight: 1, arbitrary: unknownFieldArb(fc.constant(1)).filter((f) => !isTagOf(f, 1, WIRE.LEN)) },
      { weight: 1, arbitrary: unknownFieldArb(fc.integer({ min: 2, max: 300 })) },
    ),
    { maxLength: 4 },
  )
  .map((fields) => Uint8Array.from(fields.flat()));

const predictResponseArb: fc.Arbitrary<PredictResponse> = fc.record({
  prediction: fc.option(
    fc.record({
      species: fc.oneof(fc.constant(""), fc.string()),
      classIndex: int32Arb,
      probabilities: fc.array(fc.double(), { maxLength: 6 }),
      outOfRangeFeatures: fc.array(fc.string(), { maxLength: 4 }),
    }),
    { nil: undefined },
  ),
  modelVersion: fc.oneof(fc.constant(""), fc.string({ unit: "grapheme" })),
});

describe("Predict", () => {
  it("decodes any valid encoding of a PredictRequest to ts-proto's message", () => {
    fc.assert(
      fc.property(predictRequestArb, (bytes) => {
        const decoded = decodePredictRequest(bytes);
        if (decoded instanceof Undecodable) throw new Error(`refused a valid encoding: ${decoded.problem}`);
        expect(decoded).toEqual(PredictRequest.decode(bytes));
      }),
      RUNS,
    );
  });

  it("refuses whatever ts-proto refuses, and decodes whatever it accepts as ts-proto does", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        let expected: PredictRequest | "refused";
        try {
          expected = PredictRequest.decode(bytes);
        } catch {
          expected = "refused";
        }
        const decoded = decodePredictRequest(bytes);
        if (expected === "refused") expect(decoded).toBeInstanceOf(Undecodable);
        else if (!(decoded instanceof Undecodable)) expect(decoded).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("encodes any PredictResponse to ts-proto's bytes", () => {
    const encoder = new PredictResponseEncoder();
    fc.assert(
      fc.property(predictResponseArb, (message) => {
        const bytes = Buffer.from(encoder.encode(message));
        expect(Buffer.compare(bytes, Buffer.from(PredictResponse.encode(message).finish()))).toBe(0);
      }),
      RUNS,
    );
  });
});
