/**
 * A small, seeded, platform-independent pseudo-random generator for the synthetic eye generator: sfc32
 * (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state, passes PractRand) seeded through
 * splitmix32 from a 32-bit hash of any list of labels. Only integer arithmetic and Math.log/sqrt/cos/sin are
 * used (V8's are deterministic), so a seed gives the same stream on every machine.
 */

/** A seed: a 32-bit unsigned integer or any string. */
export type Seed = number | string;

/**
 * A 32-bit hash (murmur3-style) of a list of labels, e.g. `hashSeed(seed, 'identity', 7)`. Numbers and strings
 * are hashed through their decimal/text form, with a separator between parts, so ('a1', 2) != ('a', 12).
 */
export function hashSeed(...parts: ReadonlyArray<Seed>): number {
  let h = 0x2545f491;
  for (const part of parts) {
    const text = typeof part === 'number' ? `n${part}` : `s${part}`;
    for (let i = 0; i <= text.length; i++) {
      // The separator (code 0x1f) after each part.
      let k = i < text.length ? text.charCodeAt(i) : 0x1f;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function splitmix32(state: number): () => number {
  let s = state | 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
}

const TWO_PI = 2 * Math.PI;
const INV_2_32 = 1 / 4294967296;

/** sfc32 with uniform, normal and a few convenience draws. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = Number.NaN;

  /** @param seed a 32-bit unsigned integer (other numbers and strings are hashed first). */
  constructor(seed: Seed) {
    const s =
      typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32
        ? seed
        : hashSeed(seed);
    const mix = splitmix32(s);
    this.a = mix() | 0;
    this.b = mix() | 0;
    this.c = mix() | 0;
    this.d = 1;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() * INV_2_32;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** A uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** -1 or +1 with equal odds. */
  sign(): number {
    return this.next() < 0.5 ? -1 : 1;
  }

  /** A normal draw (Box-Muller, the second value of each pair kept for the next call). */
  normal(mean = 0, sd = 1): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = Number.NaN;
      return mean + sd * z;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(TWO_PI * v);
    return mean + sd * r * Math.cos(TWO_PI * v);
  }

  /** A normal draw clamped to [lo, hi]. */
  clampedNormal(mean: number, sd: number, lo: number, hi: number): number {
    return Math.min(hi, Math.max(lo, this.normal(mean, sd)));
  }

  /** An element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError('pick from an empty array');
    return item;
  }

  /** Fills `out` with independent normal draws of standard deviation sd (mean 0). */
  fillNormal(out: Float32Array, sd = 1): Float32Array {
    const n = out.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const u = 1 - this.next();
      const v = this.next();
      const r = sd * Math.sqrt(-2 * Math.log(u));
      out[i] = r * Math.cos(TWO_PI * v);
      out[i + 1] = r * Math.sin(TWO_PI * v);
    }
    if (i < n) out[i] = this.normal(0, sd);
    return out;
  }

  /**
   * Fills `out` with fast approximately normal draws (sum of four 16-bit uniforms, scaled to standard
   * deviation sd; tails end at 3.46 sd): for sensor noise, where speed matters more than tails.
   */
  fillApproxNormal(out: Float32Array, sd = 1): Float32Array {
    // Sum of 4 uniforms on [0, 65535]: mean 131070, variance 4 (65536^2 - 1) / 12.
    const scale = sd / Math.sqrt((4 * (65536 * 65536 - 1)) / 12);
    for (let i = 0; i < out.length; i++) {
      const a = this.nextU32();
      const b = this.nextU32();
      out[i] = ((a & 0xffff) + (a >>> 16) + (b & 0xffff) + (b >>> 16) - 131070) * scale;
    }
    return out;
  }

  /** An independent generator for a named sub-task, drawn from (and advancing) this one. */
  fork(label: Seed): Rng {
    return new Rng(hashSeed(this.nextU32(), label));
  }
}

/** A generator for a labelled stream, e.g. `rngFor(seed, 'identity', 7)`: independent of every other label list. */
export function rngFor(...parts: ReadonlyArray<Seed>): Rng {
  return new Rng(hashSeed(...parts));
}
