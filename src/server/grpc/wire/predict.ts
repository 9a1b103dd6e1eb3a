/**
 * iris.v1.Predict on the wire: PredictRequest decoded and PredictResponse
 * encoded by hand, to the same messages and bytes as the generated ts-proto
 * code (test/wire-codec.test.ts holds them to it), without its per-call
 * reader and writer objects: a one-flower call is mostly per-call overhead,
 * and this is the part of it the server controls.
 */
import type { Flower, PredictRequest, PredictResponse } from "../../../gen/iris.js";
import { ALL_PRESENT, CANONICAL_FLOWER_BYTES, isCanonicalFlower, readFlower } from "./flower.js";
import { MalformedMessage, WireReader, WireType } from "./reader.js";
import { Undecodable } from "./undecodable.js";
import { stringSize, varintSize, writeString, writeVarint } from "./writer.js";

const FLOWER_TAG = (1 << 3) | WireType.LEN;

const scratch = new Float64Array(4);

/** The flower in `scratch` with the presence mask `present`, as the generated type has it. */
function flowerOf(present: number): Flower {
  return {
    sepalLength: present & 1 ? scratch[0] : undefined,
    sepalWidth: present & 2 ? scratch[1] : undefined,
    petalLength: present & 4 ? scratch[2] : undefined,
    petalWidth: present & 8 ? scratch[3] : undefined,
  };
}

/**
 * Decodes a PredictRequest as the generated decoder does (a repeated
 * `flower` field: the last one counts). Never throws: bytes that are not a
 * valid encoding give an Undecodable naming the problem.
 */
export function decodePredictRequest(bytes: Uint8Array): PredictRequest | Undecodable {
  const end = bytes.length;
  // The common case: one full flower, as every encoder writes it, in a Buffer (as grpc-js hands it over).
  if (
    end === CANONICAL_FLOWER_BYTES + 2 &&
    bytes[0] === FLOWER_TAG &&
    bytes[1] === CANONICAL_FLOWER_BYTES &&
    isCanonicalFlower(bytes, 2, end) &&
    Buffer.isBuffer(bytes)
  ) {
    return {
      flower: {
        sepalLength: bytes.readDoubleLE(3),
        sepalWidth: bytes.readDoubleLE(12),
        petalLength: bytes.readDoubleLE(21),
        petalWidth: bytes.readDoubleLE(30),
      },
    };
  }
  const r = new WireReader(bytes);
  let flower: Flower | undefined;
  try {
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === FLOWER_TAG) {
        const stop = r.delimited(end);
        const present = readFlower(r, stop, scratch, 0);
        flower = present === ALL_PRESENT ? { sepalLength: scratch[0], sepalWidth: scratch[1], petalLength: scratch[2], petalWidth: scratch[3] } : flowerOf(present);
      } else r.skip(tag, end);
    }
  } catch (err) {
    if (!(err instanceof MalformedMessage)) throw err;
    return new Undecodable(err.message, end);
  }
  return { flower };
}

/**
 * Encodes PredictResponses exactly as the generated encoder does into a
 * buffer of its own, reused from answer to answer: what encode() returns is
 * valid until it is called again (grpc-js copies a serialized message into
 * its frame as soon as the serializer returns).
 */
export class PredictResponseEncoder {
  #out = Buffer.allocUnsafe(256);

  encode(response: PredictResponse): Buffer {
    const { prediction, modelVersion } = response;
    let predictionBytes = 0;
    if (prediction !== undefined) {
      const { species, classIndex, probabilities, outOfRangeFeatures } = prediction;
      if ((classIndex | 0) !== classIndex) throw new RangeError(`prediction.class_index is ${classIndex}, not an int32`);
      predictionBytes =
        (species !== "" ? stringSize(species) : 0) +
        (classIndex !== 0 ? 1 + (classIndex < 0 ? 10 : varintSize(classIndex)) : 0) +
        (probabilities.length > 0 ? 1 + varintSize(probabilities.length * 8) + probabilities.length * 8 : 0);
      for (const name of outOfRangeFeatures) predictionBytes += stringSize(name);
    }
    const size = (prediction !== undefined ? 1 + varintSize(predictionBytes) + predictionBytes : 0) + (modelVersion !== "" ? stringSize(modelVersion) : 0);
    if (this.#out.length < size) this.#out = Buffer.allocUnsafe(Math.max(size, 2 * this.#out.length));
    const out = this.#out;
    let pos = 0;
    if (prediction !== undefined) {
      const { species, classIndex, probabilities, outOfRangeFeatures } = prediction;
      out[pos++] = (1 << 3) | WireType.LEN;
      pos = writeVarint(out, pos, predictionBytes);
      if (species !== "") pos = writeString(out, pos, (1 << 3) | WireType.LEN, species);
      if (classIndex !== 0) {
        out[pos++] = (2 << 3) | WireType.VARINT;
        pos = writeVarint(out, pos, classIndex);
      }
      if (probabilities.length > 0) {
        out[pos++] = (3 << 3) | WireType.LEN;
        pos = writeVarint(out, pos, probabilities.length * 8);
        for (const p of probabilities) pos = out.writeDoubleLE(p, pos);
      }
      for (const name of outOfRangeFeatures) pos = writeString(out, pos, (4 << 3) | WireType.LEN, name);
    }
    if (modelVersion !== "") pos = writeString(out, pos, (2 << 3) | WireType.LEN, modelVersion);
    return out.subarray(0, pos);
  }
}
