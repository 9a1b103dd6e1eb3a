/**
 * The binary tensor data extension of the Open Inference Protocol's REST
 * binding (defined by Triton, adopted by KServe): the body is the JSON
 * object followed by the raw bytes of each binary tensor, in tensor order;
 * the `Inference-Header-Content-Length` header gives the JSON part's length.
 * An input with the parameter `binary_data_size` takes its bytes from there;
 * an output is sent as bytes when asked for with `binary_data: true` (or
 * the request's `binary_data_output: true`), and says its size in its own
 * `binary_data_size`.
 */
import { Code, IrisError } from "../../errors.js";
import { invalidField } from "../validate.js";

export const INFERENCE_HEADER = "inference-header-content-length";

/** A request body in two parts: the JSON object's bytes and the binary tensors after it. */
export interface BinaryBody {
  json: Buffer;
  binary: Buffer;
}

/** Splits a body at the JSON length the header gives. */
export function splitBody(body: Buffer, header: string): BinaryBody {
  const length = /^\d+$/.test(header.trim()) ? Number(header.trim()) : NaN;
  if (!Number.isSafeInteger(length) || length > body.length) {
    throw new IrisError(
      Code.INVALID_ARGUMENT,
      `the Inference-Header-Content-Length header must be the JSON part's length in bytes, at most the body's ${body.length}; got ${JSON.stringify(header)}`,
    );
  }
  return { json: body.subarray(0, length), binary: body.subarray(length) };
}

/**
 * Hands out the binary part tensor by tensor, in order; `finish` checks that
 * nothing was left over.
 */
export class BinaryReader {
  readonly #binary: Buffer;
  #offset = 0;

  constructor(binary: Buffer) {
    this.#binary = binary;
  }

  /** The next `size` bytes, for the tensor at `path`. */
  take(size: unknown, path: string): Buffer {
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw invalidField(`${path}.parameters.binary_data_size must be a whole number of bytes, got ${JSON.stringify(size)}`, `${path}.parameters.binary_data_size`);
    }
    if (this.#offset + size > this.#binary.length) {
      throw invalidField(
        `${path}.parameters.binary_data_size is ${size}, but only ${this.#binary.length - this.#offset} bytes of binary data are left in the body`,
        `${path}.parameters.binary_data_size`,
      );
    }
    const bytes = this.#binary.subarray(this.#offset, this.#offset + size);
    this.#offset += size;
    return bytes;
  }

  finish(): void {
    const left = this.#binary.length - this.#offset;
    if (left > 0) {
      throw invalidField(
        `the body has ${left} bytes of binary data that no input claims (binary_data_size of the inputs adds up to ${this.#offset})`,
        "inputs",
      );
    }
  }
}

