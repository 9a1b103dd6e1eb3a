/**
 * Reading the protobuf wire format (varints, tags, fixed-width values,
 * length-delimited fields, skipping unknown fields and groups) for the
 * hand-written decoders beside this file. It accepts every valid encoding,
 * as the generated decoders do: fields in any order, unknown fields of
 * every wire type (groups too), non-canonical (padded) varints. Anything
 * else throws a MalformedMessage whose message says what is wrong and
 * where, for the caller's INVALID_ARGUMENT.
 */

/** Wire types of the protobuf encoding. */
export const WireType = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  SGROUP: 3,
  EGROUP: 4,
  I32: 5,
} as const;

/** Unknown groups nest at most this deep (the generated code's limit too). */
const MAX_GROUP_DEPTH = 100;

/** The bytes are not a valid protobuf encoding; the message says why, in words. */
export class MalformedMessage extends Error {
  override readonly name = "MalformedMessage";
}

export class WireReader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos = 0;
  /** Where the last tag read started. */
  tagStart = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get length(): number {
    return this.buf.length;
  }

  /** Throws a MalformedMessage for the value starting at `at`. */
  fail(what: string, at = this.pos): never {
    throw new MalformedMessage(`${what} at byte ${at}`);
  }

  /**
   * A varint's low 32 bits, as an unsigned number. Up to 10 bytes, as
   * varints may be padded; longer ones, and ones cut off by `end`, are
   * malformed.
   */
  uint32(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    const start = pos;
    if (pos < end) {
      const b = buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    let result = 0;
    for (let shift = 0; pos < end; shift += 7) {
      const b = buf[pos++]!;
      if (shift < 32) result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return result >>> 0;
      }
      if (pos - start === 10) this.fail("a varint longer than 10 bytes", start);
    }
    return this.fail("a varint cut off by the end of the message", start);
  }

  /** A varint as a boolean: true unless all of its (up to 64) bits are 0. */
  bool(end: number): boolean {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    let any = 0;
    while (pos < end) {
      const b = buf[pos++]!;
      any |= b & 0x7f;
      if (b < 0x80) {
        this.pos = pos;
        return any !== 0;
      }
      if (pos - start === 10) this.fail("a varint longer than 10 bytes", start);
    }
    return this.fail("a varint cut off by the end of the message", start);
  }

  /**
   * A field's tag (field number << 3 | wire type): a field number of 0, a
   * wire type that does not exist, or a tag past 32 bits is malformed.
   */
  tag(end: number): number {
    const start = this.pos;
    this.tagStart = start;
    const b = this.buf[start];
    // The common case: a one-byte tag of a valid wire type and field number.
    if (start < end && b! < 0x80 && b! >= 8 && (b! & 7) < 6) {
      this.pos = start + 1;
      return b!;
    }
    const tag = this.uint32(end);
    if (this.pos - start > 5 || (this.pos - start === 5 && this.buf[this.pos - 1]! > 0x0f)) {
      this.fail("a field tag larger than 32 bits", start);
    }
    if (tag >>> 3 === 0) this.fail("a field number 0", start);
    if ((tag & 7) > 5) this.fail(`a field of wire type ${tag & 7}, which does not exist`, start);
    return tag;
  }

  /** A little-endian double (wire type I64). */
  double(end: number): number {
    const pos = this.pos;
    if (pos + 8 > end) this.fail("a 64-bit value cut off by the end of the message");
    this.pos = pos + 8;
    return this.view.getFloat64(pos, true);
  }

  /** The end of a length-delimited field's value, whose length is read here; it must fit before `end`. */
  delimited(end: number): number {
    const start = this.pos;
    const length = this.uint32(end);
    const stop = this.pos + length;
    if (stop > end) this.fail(`a length-delimited field of ${length} bytes with only ${end - this.pos} left`, start);
    return stop;
  }

  /** Skips the value of a field with tag `tag` (an unknown field). */
  skip(tag: number, end: number, depth = 0): void {
    switch (tag & 7) {
      case WireType.VARINT:
        this.bool(end);
        return;
      case WireType.I64:
        if (this.pos + 8 > end) this.fail("a 64-bit value cut off by the end of the message");
        this.pos += 8;
        return;
      case WireType.LEN:
        this.pos = this.delimited(end);
        return;
      case WireType.I32:
        if (this.pos + 4 > end) this.fail("a 32-bit value cut off by the end of the message");
        this.pos += 4;
        return;
      case WireType.SGROUP: {
        if (depth >= MAX_GROUP_DEPTH) this.fail(`groups nested more than ${MAX_GROUP_DEPTH} deep`);
        for (;;) {
          if (this.pos >= end) this.fail(`a group (field ${tag >>> 3}) without its end-group tag`);
          const inner = this.tag(end);
          if ((inner & 7) === WireType.EGROUP) {
            if (inner >>> 3 !== tag >>> 3) {
              this.fail(`an end-group tag of field ${inner >>> 3} closing a group of field ${tag >>> 3}`, this.tagStart);
            }
            return;
          }
          this.skip(inner, end, depth + 1);
        }
      }
      default:
        // EGROUP outside a group.
        return this.fail(`an end-group tag (field ${tag >>> 3}) without a group to end`, this.tagStart);
    }
  }
}
