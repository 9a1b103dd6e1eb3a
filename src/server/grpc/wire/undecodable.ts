/**
 * What a method's deserializer returns for bytes that are not a valid
 * encoding of its request message. grpc-js answers INTERNAL "Error
 * deserializing request" whenever a deserializer throws, so the
 * deserializers never throw: they return an Undecodable, and the call path
 * (the per-call interceptor, ../calls.ts) answers it with INVALID_ARGUMENT
 * naming the problem, before any handler runs.
 */
export class Undecodable {
  /** What is wrong with the bytes, e.g. `a varint cut off by the end of the message at byte 12`. */
  readonly problem: string;
  /** The size of the message, in bytes. */
  readonly bytes: number;

  constructor(problem: string, bytes: number) {
    this.problem = problem;
    this.bytes = bytes;
  }
}
