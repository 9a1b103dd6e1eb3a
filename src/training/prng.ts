/**
 * A small seeded pseudo-random generator that gives the same sequence on
 * every platform and Node version: mulberry32 (Tommy Ettinger), pure 32-bit
 * integer arithmetic (`Math.imul`, shifts), no floating point and no
 * `Math.random`. Good enough for shuffling rows; not for cryptography.
 */
import { MAX_SEED } from "../model/index.js";

export class Prng {
  private state: number;

  /** `seed` is an integer in [0, 2^32); the same seed gives the same sequence. */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new RangeError(`seed must be an integer in [0, ${MAX_SEED}], got ${seed}`);
    }
    this.state = seed | 0;
  }

  /** The next value, an unsigned 32-bit integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n), without modulo bias (rejection sampling). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x1_0000_0000) throw new RangeError(`n must be an integer in [1, 2^32], got ${n}`);
    // Largest multiple of n that fits in 2^32: values at or above it are redrawn.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const u = this.nextUint32();
      if (u < limit) return u % n;
    }
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle(items: Int32Array): Int32Array {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }
}

/**
 * An independent seed for a named use of the generator (the split, the
 * cross-validation folds), so that changing one does not shift the other.
 */
export function deriveSeed(seed: number, stream: number): number {
  let t = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) | 0;
  t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
  t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
  return (t ^ (t >>> 16)) >>> 0;
}
