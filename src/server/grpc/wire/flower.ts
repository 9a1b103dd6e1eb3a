/**
 * iris.v1.Flower on the wire: the one message both Predict and BatchPredict
 * carry. Its four measurements are doubles (wire type I64) with explicit
 * presence, in fields 1 to 4, in FEATURES order.
 */
import { WireType, type WireReader } from "./reader.js";

export const SEPAL_LENGTH_TAG = (1 << 3) | WireType.I64;
export const SEPAL_WIDTH_TAG = (2 << 3) | WireType.I64;
export const PETAL_LENGTH_TAG = (3 << 3) | WireType.I64;
export const PETAL_WIDTH_TAG = (4 << 3) | WireType.I64;
/** A Flower with all four measurements, each once, in field order: 4 × (1-byte tag + 8 bytes). */
export const CANONICAL_FLOWER_BYTES = 36;
/** The presence mask of a flower with all four measurements. */
export const ALL_PRESENT = 15;

/**
 * Whether the flower at buf[p, stop) is encoded as every protobuf encoder
 * writes a full one: then its measurements are the doubles at p + 1, p + 10,
 * p + 19 and p + 28.
 */
export function isCanonicalFlower(buf: Uint8Array, p: number, stop: number): boolean {
  return (
    stop - p === CANONICAL_FLOWER_BYTES &&
    buf[p] === SEPAL_LENGTH_TAG &&
    buf[p + 9] === SEPAL_WIDTH_TAG &&
    buf[p + 18] === PETAL_LENGTH_TAG &&
    buf[p + 27] === PETAL_WIDTH_TAG
  );
}

/**
 * Reads a flower in any valid encoding (fields in any order, repeated: the
 * last one counts; absent; among unknown fields) from r.pos up to `stop`
 * into out[o .. o + 4) (0 for an absent measurement). Returns the presence
 * mask: bit j set when measurement j was there. Throws a MalformedMessage
 * for an invalid encoding.
 */
export function readFlower(r: WireReader, stop: number, out: Float64Array, o: number): number {
  let present = 0;
  out[o] = out[o + 1] = out[o + 2] = out[o + 3] = 0;
  while (r.pos < stop) {
    const t = r.tag(stop);
    if (t === SEPAL_LENGTH_TAG) {
      out[o] = r.double(stop);
      present |= 1;
    } else if (t === SEPAL_WIDTH_TAG) {
      out[o + 1] = r.double(stop);
      present |= 2;
    } else if (t === PETAL_LENGTH_TAG) {
      out[o + 2] = r.double(stop);
      present |= 4;
    } else if (t === PETAL_WIDTH_TAG) {
      out[o + 3] = r.double(stop);
      present |= 8;
    } else r.skip(t, stop);
  }
  return present;
}
