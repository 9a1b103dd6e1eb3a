/**
 * Writing the protobuf wire format into a buffer whose size was computed
 * first: varints and length-delimited strings (with one-byte tags, which is
 * all the hand-written encoders beside this file need).
 */

/** The size of a uint32's varint. */
export function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** The size of a string field with a one-byte tag: tag, length, UTF-8 bytes. */
export function stringSize(v: string): number {
  const n = Buffer.byteLength(v, "utf8");
  return 1 + varintSize(n) + n;
}

/**
 * Writes `v` (a uint32, or a negative int32 as 64-bit two's complement, ten
 * bytes, as protobuf encodes int32) as a varint at `pos`; returns the
 * position after it.
 */
export function writeVarint(out: Buffer, pos: number, v: number): number {
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

/** Writes a string field (one-byte `tag`, length, UTF-8 bytes) at `pos`; returns the position after it. */
export function writeString(out: Buffer, pos: number, tag: number, v: string): number {
  out[pos++] = tag;
  const n = Buffer.byteLength(v, "utf8");
  pos = writeVarint(out, pos, n);
  return pos + out.write(v, pos, n, "utf8");
}
