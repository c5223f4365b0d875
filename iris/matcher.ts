/**
 * Matching two iris codes the way open-iris does (src/iris/nodes/matcher/utils.py, `hamming_distance`,
 * with HammingDistanceMatcher's defaults), and a fast 1:N search.
 *
 * Counts. For a rotation `shift` the probe's columns are rolled as numpy's `np.roll(probe, shift, axis=1)`
 * does: the rolled probe's column c is the probe's column (c - shift) mod 256, for every row, filter and
 * part. The gallery template is never moved. Over the 16,384 bit positions of the gallery frame:
 *   N = popcount(rolledProbeMask & galleryMask)                       (common bits)
 *   D = popcount((rolledProbeCode ^ galleryCode) & rolledProbeMask & galleryMask)
 * So `rotation: +3` means: the probe's column c lines up with the gallery's column c + 3 (a gallery code
 * that is the probe rolled by +3 columns matches at rotation +3 with HD 0).
 *
 * Shifts are tried in open-iris's order 0, -1, +1, -2, +2, ..., -15, +15, starting from a best distance
 * of 1 and taking a shift only if it is strictly better, so ties go to the smaller |shift|, then to the
 * negative one; a shift with no common bits is skipped (it can never win), and a pair whose every shift
 * is skipped (or has HD 1) scores 1 at rotation 0.
 *
 * Scores.
 *   raw:        hdRaw = D / N, minimised over the shifts (what iris-mpc thresholds at 0.345).
 *   normalised: nhd(D, N) = max(0, 0.45 - (0.45 - D / N) * (0.00005 * N + 0.5)), open-iris `normalized_HD`.
 *   halves (`separateHalfMatching`, open-iris's default): the counts are split by gallery-frame column into
 *     lo = columns 0-127 and hi = columns 128-255 and every count is doubled (open-iris sums each half
 *     and multiplies by 2), then
 *       whole = nhd(2Dlo + 2Dhi, 2N)
 *       hiScore = nhd(2Dhi, 2Nhi) if Nhi > 0, else 0.45
 *       loScore = nhd(2Dlo, 2Nlo) if Nhi > 0, else 0.45   <- open-iris tests the *hi* half's count here
 *                                                           (sic); a lo half with no bits weighs nothing
 *       hd = mean(whole, (hiScore * 2Nhi + loScore * 2Nlo) / 2N)
 *     Without halves, hd = nhd(D, N) with the plain counts.
 *   `hd` is minimised over the shifts on its own, as open-iris does (open-iris returns only this minimum
 *   and its shift, here `hdRotation`); `hdRaw`, `rotation` and `commonBits` belong to the raw minimum,
 *   which can sit at another shift.
 *
 * Three implementations share these definitions:
 *   - matchIrisCodesNaive: loops over the unpacked 0/1 arrays; the reference and test oracle.
 *   - matchPacked / matchIrisCodes: packed 32-bit words, probe rotated by word shifts, SWAR popcount.
 *   - IrisGallery.search: 1:N raw-HD search over templates packed in one buffer, by a WebAssembly SIMD
 *     kernel (i8x16.popcnt, built below from a few dozen instructions) or, where WebAssembly SIMD is
 *     missing or `engine: 'js'` is asked for, by the same SWAR loop in TypeScript (about 8x slower).
 *
 * Packed layout (PackedIrisCode, 1,024 Uint32 words = 4,096 bytes): words 0-511 hold the code, 512-1023
 * the mask; bit i of the layout of protocol/iris-code-layout.ts is bit (i % 32) of word i / 32 (LSB
 * first). One row's 256 columns x 4 bits are then the 32 words row*32 .. row*32+31, column c at bits
 * 4(c % 8) .. 4(c % 8)+3 of word row*32 + c/8, so rolling by `shift` columns is rotating each row's
 * 1,024-bit little-endian integer left by 4*shift bits, and columns 0-127 are the first 16 words of a row.
 */

import { IrisgateError } from '../protocol/errors.ts';
import { CODE_BITS, CODE_COLUMNS, CODE_ROWS, type IrisCode } from '../protocol/iris-code-layout.ts';

export const MAX_ROTATION = 15;
export const ROTATIONS = 2 * MAX_ROTATION + 1;
/** open-iris's `norm_mean` and `norm_gradient` defaults. */
export const NORM_MEAN = 0.45;
export const NORM_GRADIENT = 0.00005;

/** Shifts in the order open-iris tries them: 0, -1, +1, -2, +2, ... */
export const SHIFT_ORDER: readonly number[] = [0];
for (let s = 1; s <= MAX_ROTATION; s++) (SHIFT_ORDER as number[]).push(-s, s);

/** A packed iris code: 1,024 words, code then mask (see the layout above). */
export type PackedIrisCode = Uint32Array;
export const PACKED_WORDS = (2 * CODE_BITS) / 32;
const HALF_WORDS = CODE_BITS / 32; // 512: where the mask starts
const ROW_WORDS = (CODE_COLUMNS * 4) / 32; // 32 words per row
const ROW_HALF_WORDS = ROW_WORDS / 2; // 16: columns 0-127
const PACKED_ROWS = PACKED_WORDS / ROW_WORDS; // 32: 16 code rows then 16 mask rows

export interface MatchOptions {
  /** Score the column halves too (open-iris HammingDistanceMatcher's default: true). */
  separateHalfMatching?: boolean;
}

export interface MatchResult {
  /** open-iris's normalised score (its default matcher's output), minimised over the shifts on its own. */
  hd: number;
  /** The shift at which `hd` is minimal (open-iris's returned shift). */
  hdRotation: number;
  /** The minimal raw fractional Hamming distance D / N. */
  hdRaw: number;
  /** The shift at which `hdRaw` is minimal (sign: see the module comment). */
  rotation: number;
  /** N, the common mask bits at `rotation`. */
  commonBits: number;
}

// ---------------------------------------------------------------------------------------------------------
// Scoring, shared by every implementation.

/** open-iris `normalized_HD`: max(0, mean - (mean - D/N) * (gradient * N + 0.5)). */
export function normalizedHd(nonMatching: number, common: number): number {
  return Math.max(0, NORM_MEAN - (NORM_MEAN - nonMatching / common) * (NORM_GRADIENT * common + 0.5));
}

/**
 * open-iris's per-shift distance from the half counts (lo = columns 0-127, hi = 128-255), or undefined
 * for a shift with no common bits.
 */
export function shiftScore(
  dLo: number,
  nLo: number,
  dHi: number,
  nHi: number,
  separateHalfMatching = true,
): number | undefined {
  const common = nLo + nHi;
  if (common === 0) return undefined;
  if (!separateHalfMatching) return normalizedHd(dLo + dHi, common);
  // open-iris's arrays: index 0 is columns 128-255 (hi), index 1 is columns 0-127 (lo), counts doubled.
  const i0 = 2 * dHi;
  const m0 = 2 * nHi;
  const i1 = 2 * dLo;
  const m1 = 2 * nLo;
  const total = m0 + m1;
  const whole = normalizedHd(i0 + i1, total);
  const score0 = m0 > 0 ? normalizedHd(i0, m0) : NORM_MEAN;
  // open-iris guards this one with m0 too. When m1 is 0 it divides 0 by 0 (numpy: nan, then max(0, nan)
  // is 0) and the term weighs nothing either way.
  const score1 = m0 > 0 ? (m1 > 0 ? normalizedHd(i1, m1) : 0) : NORM_MEAN;
  return (whole + (score0 * m0 + score1 * m1) / total) / 2;
}

/**
 * Turns the per-shift counts (ROTATIONS x [dLo, nLo, dHi, nHi], in SHIFT_ORDER) into a MatchResult,
 * following open-iris: start at 1, take strictly better shifts in SHIFT_ORDER.
 */
export function scoreCounts(counts: Int32Array, options: MatchOptions = {}): MatchResult {
  const halves = options.separateHalfMatching ?? true;
  let bestD = 1;
  let bestN = 1;
  let bestK = 0;
  let hd = 1;
  let hdK = 0;
  for (let k = 0; k < ROTATIONS; k++) {
    const dLo = counts[4 * k] as number;
    const nLo = counts[4 * k + 1] as number;
    const dHi = counts[4 * k + 2] as number;
    const nHi = counts[4 * k + 3] as number;
    const d = dLo + dHi;
    const n = nLo + nHi;
    // d / n < bestD / bestN, exactly (both denominators <= 16,384, so the products stay below 2^31).
    if (d * bestN < bestD * n) {
      bestD = d;
      bestN = n;
      bestK = k;
    }
    const score = shiftScore(dLo, nLo, dHi, nHi, halves);
    if (score !== undefined && score < hd) {
      hd = score;
      hdK = k;
    }
  }
  return {
    hd,
    hdRotation: SHIFT_ORDER[hdK] as number,
    hdRaw: bestD / bestN,
    rotation: SHIFT_ORDER[bestK] as number,
    commonBits: (counts[4 * bestK + 1] as number) + (counts[4 * bestK + 3] as number),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The naive reference: straight loops over the 0/1 arrays, np.roll semantics written out.

export function matchIrisCodesNaive(
  probe: IrisCode,
  gallery: IrisCode,
  options: MatchOptions = {},
): MatchResult {
  checkIrisCode(probe, 'probe');
  checkIrisCode(gallery, 'gallery');
  const halves = options.separateHalfMatching ?? true;
  let hdRaw = 1;
  let rotation = 0;
  let commonBitsAtBest = -1;
  let commonBitsAtZero = 0;
  let hd = 1;
  let hdRotation = 0;
  for (const shift of SHIFT_ORDER) {
    // [lo, hi] halves of the gallery frame's columns.
    const nonMatching = [0, 0];
    const common = [0, 0];
    for (let row = 0; row < CODE_ROWS; row++) {
      for (let column = 0; column < CODE_COLUMNS; column++) {
        const probeColumn = (((column - shift) % CODE_COLUMNS) + CODE_COLUMNS) % CODE_COLUMNS;
        const half = column < CODE_COLUMNS / 2 ? 0 : 1;
        for (let bit = 0; bit < 4; bit++) {
          const p = (row * CODE_COLUMNS + probeColumn) * 4 + bit;
          const g = (row * CODE_COLUMNS + column) * 4 + bit;
          if (probe.mask[p] === 1 && gallery.mask[g] === 1) {
            common[half] = (common[half] as number) + 1;
            if (probe.code[p] !== gallery.code[g]) nonMatching[half] = (nonMatching[half] as number) + 1;
          }
        }
      }
    }
    const [dLo = 0, dHi = 0] = nonMatching;
    const [nLo = 0, nHi = 0] = common;
    const d = dLo + dHi;
    const n = nLo + nHi;
    if (shift === 0) commonBitsAtZero = n;
    if (n === 0) continue;
    if (d / n < hdRaw) {
      hdRaw = d / n;
      rotation = shift;
      commonBitsAtBest = n;
    }
    let score: number;
    if (halves) {
      const m0 = 2 * nHi;
      const m1 = 2 * nLo;
      const whole = normalizedHd(2 * d, 2 * n);
      const score0 = m0 > 0 ? normalizedHd(2 * dHi, m0) : NORM_MEAN;
      const score1 = m0 > 0 ? (m1 > 0 ? normalizedHd(2 * dLo, m1) : 0) : NORM_MEAN;
      score = (whole + (score0 * m0 + score1 * m1) / (2 * n)) / 2;
    } else {
      score = normalizedHd(d, n);
    }
    if (score < hd) {
      hd = score;
      hdRotation = shift;
    }
  }
  return {
    hd,
    hdRotation,
    hdRaw,
    rotation,
    commonBits: commonBitsAtBest >= 0 ? commonBitsAtBest : commonBitsAtZero,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Packed codes and the SWAR path.

export function packIrisCode(code: IrisCode): PackedIrisCode {
  checkIrisCode(code, 'iris code');
  const packed = new Uint32Array(PACKED_WORDS);
  for (let i = 0; i < CODE_BITS; i++) {
    packed[i >>> 5] = (packed[i >>> 5] as number) | ((code.code[i] as number) << (i & 31));
    packed[HALF_WORDS + (i >>> 5)] =
      (packed[HALF_WORDS + (i >>> 5)] as number) | ((code.mask[i] as number) << (i & 31));
  }
  return packed;
}

export function unpackIrisCode(packed: PackedIrisCode): IrisCode {
  checkPacked(packed);
  const code = new Uint8Array(CODE_BITS);
  const mask = new Uint8Array(CODE_BITS);
  for (let i = 0; i < CODE_BITS; i++) {
    code[i] = ((packed[i >>> 5] as number) >>> (i & 31)) & 1;
    mask[i] = ((packed[HALF_WORDS + (i >>> 5)] as number) >>> (i & 31)) & 1;
  }
  return { code, mask };
}

/**
 * Writes `source` (code and mask) rolled by `shift` columns, np.roll style, to `target` at `targetOffset`:
 * every row's 1,024 bits rotate left by 4 * shift.
 */
export function rotatePacked(
  source: PackedIrisCode,
  shift: number,
  target: Uint32Array = new Uint32Array(PACKED_WORDS),
  targetOffset = 0,
): Uint32Array {
  const bits = (((4 * shift) % (ROW_WORDS * 32)) + ROW_WORDS * 32) % (ROW_WORDS * 32);
  const wordShift = bits >>> 5;
  const bitShift = bits & 31;
  for (let row = 0; row < PACKED_ROWS; row++) {
    const base = row * ROW_WORDS;
    for (let j = 0; j < ROW_WORDS; j++) {
      const from = (j - wordShift + ROW_WORDS) % ROW_WORDS;
      const high = source[base + from] as number;
      target[targetOffset + base + j] =
        bitShift === 0
          ? high
          : (high << bitShift) |
            ((source[base + ((from + ROW_WORDS - 1) % ROW_WORDS)] as number) >>> (32 - bitShift));
    }
  }
  return target;
}

/** The probe rolled by every shift, in SHIFT_ORDER: ROTATIONS x PACKED_WORDS words. */
export function rotateProbe(
  probe: PackedIrisCode,
  target: Uint32Array = new Uint32Array(ROTATIONS * PACKED_WORDS),
  targetOffset = 0,
): Uint32Array {
  checkPacked(probe);
  for (let k = 0; k < ROTATIONS; k++) {
    rotatePacked(probe, SHIFT_ORDER[k] as number, target, targetOffset + k * PACKED_WORDS);
  }
  return target;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Per-shift counts ROTATIONS x [dLo, nLo, dHi, nHi], in SHIFT_ORDER. */
export function rotationCounts(probe: PackedIrisCode, gallery: PackedIrisCode): Int32Array {
  checkPacked(gallery);
  const rotated = new Uint32Array(PACKED_WORDS);
  const counts = new Int32Array(4 * ROTATIONS);
  checkPacked(probe);
  for (let k = 0; k < ROTATIONS; k++) {
    rotatePacked(probe, SHIFT_ORDER[k] as number, rotated);
    for (let w = 0; w < HALF_WORDS; w++) {
      const m = (rotated[HALF_WORDS + w] as number) & (gallery[HALF_WORDS + w] as number);
      const x = ((rotated[w] as number) ^ (gallery[w] as number)) & m;
      const at = 4 * k + ((w & (ROW_WORDS - 1)) < ROW_HALF_WORDS ? 0 : 2);
      counts[at] = (counts[at] as number) + popcount(x);
      counts[at + 1] = (counts[at + 1] as number) + popcount(m);
    }
  }
  return counts;
}

/** One probe against one gallery template, packed; same result as matchIrisCodesNaive. */
export function matchPacked(
  probe: PackedIrisCode,
  gallery: PackedIrisCode,
  options: MatchOptions = {},
): MatchResult {
  return scoreCounts(rotationCounts(probe, gallery), options);
}

/** One probe against one gallery template; packs both, then as matchPacked. */
export function matchIrisCodes(probe: IrisCode, gallery: IrisCode, options: MatchOptions = {}): MatchResult {
  return matchPacked(packIrisCode(probe), packIrisCode(gallery), options);
}

// ---------------------------------------------------------------------------------------------------------
// 1:N search.

export interface SearchOptions {
  /**
   * Keep templates with hdRaw strictly below this (default 1). A template no shift scores below 1 for
   * (no common bits, or every common bit disagrees) is never a hit.
   */
  threshold?: number;
  /** Return at most this many hits, the best first (default: all). */
  limit?: number;
  /** Search only the templates from this position on (default 0: all). */
  from?: number;
  /**
   * Occlusion-tolerant search: also search each part of the probe (PROBE_PARTS) on its own, and report a
   * template that some part matches below `threshold` over at least `minCommonBits` common bits.
   */
  parts?: { threshold: number; minCommonBits: number };
}

/** The raw FHD below which two whole templates are the same eye (iris-mpc's threshold). */
export const DEFAULT_MATCH_THRESHOLD = 0.345;
/**
 * Part matching's defaults: on the synthetic sets, impostor part distances start at about 0.37 (7,080
 * pairs) while a person's own parts stay below 0.17; a part needs 1,500 common bits to count.
 */
export const DEFAULT_PART_MATCH = { threshold: 0.3, minCommonBits: 1500 } as const;

/**
 * Recognising a probe as one enrolled person (the strict direction, unlike the duplicate search, which
 * takes any evidence): the whole template below DEFAULT_MATCH_THRESHOLD and every part with enough bits
 * below it too (worstPartHd). A person's own parts stay below about 0.26 on the synthetic sets; a patch
 * showing someone's iris over 40% of an eye pulls the whole distance under 0.345 while the part clear of
 * it stays near 0.47.
 */
export function recognises(probe: PackedIrisCode, template: PackedIrisCode): boolean {
  if (!(matchPacked(probe, template).hdRaw < DEFAULT_MATCH_THRESHOLD)) return false;
  const worst = worstPartHd(probe, template, DEFAULT_PART_MATCH.minCommonBits);
  return worst !== undefined && worst < DEFAULT_MATCH_THRESHOLD;
}

/**
 * The parts of an iris a probe is also searched by: the eight half rings starting every 45 degrees and the
 * inner and outer half of the ring. Whatever covers part of the iris (a lid, a lash, a patch that the
 * patch detector missed) and whatever it shows there, some part of the probe lies clear of it as long as
 * it spans less than 135 degrees of the ring or stays in one radial half, and that part still matches the
 * person's enrolment: covering an iris cannot buy a second identity. A part holds about half of the bits,
 * so an impostor's part distance spreads about 1.4 times as wide as a whole probe's: the part threshold
 * sits below the whole one.
 */
export const PROBE_PARTS: ReadonlyArray<{ name: string; keeps(row: number, column: number): boolean }> = [
  ...Array.from({ length: 8 }, (_, k) => ({
    name: `half-ring-${k * 45}deg`,
    keeps: (_row: number, column: number) =>
      (column - k * 32 + CODE_COLUMNS) % CODE_COLUMNS < CODE_COLUMNS / 2,
  })),
  { name: 'inner-ring', keeps: (row: number) => row < CODE_ROWS / 2 },
  { name: 'outer-ring', keeps: (row: number) => row >= CODE_ROWS / 2 },
];

/** The probe with its mask cleared outside one part (PROBE_PARTS[part]). */
export function probePart(probe: PackedIrisCode, part: number): PackedIrisCode {
  checkPacked(probe);
  const spec = PROBE_PARTS[part];
  if (!spec) throw new RangeError(`no probe part ${part}`);
  const out = probe.slice();
  for (let w = 0; w < HALF_WORDS; w++) {
    // Word w holds row w / 32, columns 8 (w % 32) .. 8 (w % 32) + 7: a part keeps or drops whole words.
    if (!spec.keeps(Math.floor(w / ROW_WORDS), 8 * (w % ROW_WORDS))) out[HALF_WORDS + w] = 0;
  }
  return out;
}

export interface SearchHit {
  /** Position of the template in the gallery (the order of `add`). */
  index: number;
  hdRaw: number;
  rotation: number;
  commonBits: number;
  /** For a hit found by a part of the probe only (SearchOptions.parts): the part's name. */
  part?: string;
}

export type SearchEngine = 'wasm' | 'js';

/**
 * Working memory, shared by both engines (byte offsets): the rotated probe, then one chunk's results
 * (4 x i32 per template: D, N, shift index, unused), then the gallery templates, 4,096 bytes each.
 */
const PAGE_BYTES = 65_536;
const PROBE_BYTES = ROTATIONS * PACKED_WORDS * 4; // 126,976
const RESULTS_OFFSET = Math.ceil(PROBE_BYTES / PAGE_BYTES) * PAGE_BYTES; // 131,072
const CHUNK_TEMPLATES = 4096;
const RESULT_BYTES = 16;
const GALLERY_OFFSET = RESULTS_OFFSET + CHUNK_TEMPLATES * RESULT_BYTES; // 196,608
const TEMPLATE_BYTES = PACKED_WORDS * 4;
/** wasm32 addresses 4 GiB; V8 caps a memory at 65,536 pages. */
const MAX_TEMPLATES = Math.floor((65_536 * PAGE_BYTES - GALLERY_OFFSET) / TEMPLATE_BYTES);

/**
 * A gallery of packed templates held in one buffer, searched 1:N by raw fractional Hamming distance over
 * the 31 shifts (the ranking iris-mpc uses). Call matchPacked(probe, gallery.get(hit.index)) for
 * open-iris's normalised score of a hit.
 */
export class IrisGallery {
  readonly engine: SearchEngine;
  #size = 0;
  #capacity = 0;
  #memory: WasmMemory | undefined;
  #buffer: ArrayBuffer;
  #words: Uint32Array;
  #ints: Int32Array;
  #searchChunk: (galleryOffset: number, count: number) => void;

  constructor(options: { engine?: SearchEngine; capacity?: number } = {}) {
    this.engine = options.engine ?? (wasmSimdSupported() ? 'wasm' : 'js');
    const bytes = memoryBytesFor(options.capacity ?? 1024);
    if (this.engine === 'wasm') {
      const api = wasmApi();
      const memory = new api.Memory({ initial: bytes / PAGE_BYTES, maximum: 65_536 });
      const instance = new api.Instance(searchModule(), { env: { memory } });
      const search = instance.exports.search as (gallery: number, count: number, results: number) => void;
      this.#memory = memory;
      this.#buffer = memory.buffer;
      this.#searchChunk = (offset, count) => search(offset, count, RESULTS_OFFSET);
    } else {
      this.#buffer = new ArrayBuffer(bytes);
      this.#searchChunk = (offset, count) =>
        searchChunkJs(this.#words, offset / 4, count, RESULTS_OFFSET / 4);
    }
    this.#words = new Uint32Array(this.#buffer);
    this.#ints = new Int32Array(this.#buffer);
    this.#capacity = (bytes - GALLERY_OFFSET) / TEMPLATE_BYTES;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds a template (packed or not); returns its index. */
  add(template: IrisCode | PackedIrisCode): number {
    const packed = template instanceof Uint32Array ? template : packIrisCode(template);
    checkPacked(packed);
    if (this.#size === this.#capacity) this.#grow();
    this.#words.set(packed, (GALLERY_OFFSET + this.#size * TEMPLATE_BYTES) / 4);
    return this.#size++;
  }

  /** A copy of the packed template at `index`. */
  get(index: number): PackedIrisCode {
    if (!Number.isInteger(index) || index < 0 || index >= this.#size) {
      throw new RangeError(`no template ${index} in a gallery of ${this.#size}`);
    }
    const start = (GALLERY_OFFSET + index * TEMPLATE_BYTES) / 4;
    return this.#words.slice(start, start + PACKED_WORDS);
  }

  /**
   * The templates whose best raw HD over the 31 shifts is below `threshold`, best first (ties: lower
   * index first), at most `limit` of them.
   */
  search(probe: IrisCode | PackedIrisCode, options: SearchOptions = {}): SearchHit[] {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const packed = probe instanceof Uint32Array ? probe : packIrisCode(probe);
    const from = Math.max(0, options.from ?? 0);
    const byIndex = new Map<number, SearchHit>();
    this.#scan(packed, from, Math.min(options.threshold ?? 1, 1), 1, (hit) => byIndex.set(hit.index, hit));
    if (options.parts) {
      const { threshold, minCommonBits } = options.parts;
      for (let part = 0; part < PROBE_PARTS.length; part++) {
        const name = (PROBE_PARTS[part] as { name: string }).name;
        this.#scan(probePart(packed, part), from, threshold, minCommonBits, (hit) => {
          const known = byIndex.get(hit.index);
          if (!known || (known.part !== undefined && hit.hdRaw < known.hdRaw)) {
            byIndex.set(hit.index, { ...hit, part: name });
          }
        });
      }
    }
    const hits = [...byIndex.values()].sort((a, b) => a.hdRaw - b.hdRaw || a.index - b.index);
    return hits.length > limit ? hits.slice(0, limit) : hits;
  }

  /** Reports every template from `from` on whose best raw HD is below threshold with n >= minCommon. */
  #scan(
    packed: PackedIrisCode,
    from: number,
    threshold: number,
    minCommon: number,
    report: (hit: SearchHit) => void,
  ): void {
    rotateProbe(packed, this.#words, 0);
    for (let first = from; first < this.#size; first += CHUNK_TEMPLATES) {
      const count = Math.min(CHUNK_TEMPLATES, this.#size - first);
      this.#searchChunk(GALLERY_OFFSET + first * TEMPLATE_BYTES, count);
      const ints = this.#ints;
      for (let t = 0; t < count; t++) {
        const at = RESULTS_OFFSET / 4 + 4 * t;
        const d = ints[at] as number;
        const n = ints[at + 1] as number;
        const hdRaw = d / n;
        if (hdRaw < threshold && n >= minCommon) {
          const k = ints[at + 2] as number;
          report({ index: first + t, hdRaw, rotation: SHIFT_ORDER[k] as number, commonBits: n });
        }
      }
    }
  }

  #grow(): void {
    const wanted = memoryBytesFor(Math.min(MAX_TEMPLATES, Math.max(1024, 2 * this.#capacity)));
    if (this.#capacity >= MAX_TEMPLATES) {
      throw new RangeError(`a gallery holds at most ${MAX_TEMPLATES} templates`);
    }
    if (this.#memory !== undefined) {
      this.#memory.grow((wanted - this.#buffer.byteLength) / PAGE_BYTES);
      this.#buffer = this.#memory.buffer;
    } else {
      const buffer = new ArrayBuffer(wanted);
      new Uint8Array(buffer).set(new Uint8Array(this.#buffer));
      this.#buffer = buffer;
    }
    this.#words = new Uint32Array(this.#buffer);
    this.#ints = new Int32Array(this.#buffer);
    this.#capacity = (wanted - GALLERY_OFFSET) / TEMPLATE_BYTES;
  }
}

function memoryBytesFor(templates: number): number {
  const bytes = GALLERY_OFFSET + Math.max(1, templates) * TEMPLATE_BYTES;
  return Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES;
}

/**
 * The TypeScript engine: for `count` templates from word `gallery`, against the rotated probe at word 0,
 * writes [D, N, shift index] of the best raw shift to `results` (4 words per template).
 */
function searchChunkJs(memory: Uint32Array, gallery: number, count: number, results: number): void {
  for (let t = 0; t < count; t++) {
    const g = gallery + t * PACKED_WORDS;
    let bestD = 1;
    let bestN = 1;
    let bestK = 0;
    for (let k = 0; k < ROTATIONS; k++) {
      const p = k * PACKED_WORDS;
      let d = 0;
      let n = 0;
      for (let w = 0; w < HALF_WORDS; w++) {
        const m = (memory[p + HALF_WORDS + w] as number) & (memory[g + HALF_WORDS + w] as number);
        d += popcount(((memory[p + w] as number) ^ (memory[g + w] as number)) & m);
        n += popcount(m);
      }
      if (d * bestN < bestD * n) {
        bestD = d;
        bestN = n;
        bestK = k;
      }
    }
    memory[results + 4 * t] = bestD;
    memory[results + 4 * t + 1] = bestN;
    memory[results + 4 * t + 2] = bestK;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The WebAssembly SIMD kernel, assembled here from its instructions (no toolchain needed).
//
//   search(gallery, count, results): for each of `count` templates at `gallery` (4,096 bytes apart), for
//   each of the 31 rotated probes at address 0 (4,096 bytes apart, SHIFT_ORDER), sums
//   popcnt((p ^ g) & pm & gm) and popcnt(pm & gm) over 128 x 16-byte lanes (i8x16.popcnt; byte counters
//   widened to i16x8 after every row of 8 vectors, so no lane can overflow), keeps the strictly better
//   shift by d * bestN < bestD * n, and stores [d, n, k] at `results` + 16 t.

/** The part of the WebAssembly API used here (this project's TypeScript lib has no DOM typings). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiledModule: object | undefined;
let simdSupport: boolean | undefined;

/** Whether this runtime runs the SIMD kernel (Node 16.4 and later do). */
export function wasmSimdSupported(): boolean {
  if (simdSupport === undefined) {
    try {
      simdSupport = wasm?.validate(searchModuleBytes()) ?? false;
    } catch {
      simdSupport = false;
    }
  }
  return simdSupport;
}

function wasmApi(): WasmApi {
  if (wasm === undefined || !wasmSimdSupported()) {
    throw new IrisgateError('internal_error', 'this runtime has no WebAssembly SIMD: use engine "js"');
  }
  return wasm;
}

function searchModule(): object {
  compiledModule ??= new (wasmApi().Module)(searchModuleBytes());
  return compiledModule;
}

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    const byte = rest & 0x7f;
    rest >>>= 7;
    out.push(rest === 0 ? byte : byte | 0x80);
  } while (rest !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let rest = value | 0;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    if ((rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A wasm vector: the item count, then the items. */
function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

// Instructions.
const get = (local: number) => [0x20, ...uleb(local)];
const set = (local: number) => [0x21, ...uleb(local)];
const tee = (local: number) => [0x22, ...uleb(local)];
const i32Const = (value: number) => [0x41, ...sleb(value)];
const i32Add = [0x6a];
const i32Sub = [0x6b];
const i32Mul = [0x6c];
const i32LtU = [0x49];
const i32LtS = [0x48];
const i32LeS = [0x4c];
const i32Store = (offset: number) => [0x36, 2, ...uleb(offset)];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const loop = (...body: number[][]) => [0x03, 0x40, ...body.flat(), 0x0b];
const block = (...body: number[][]) => [0x02, 0x40, ...body.flat(), 0x0b];
const when = (...body: number[][]) => [0x04, 0x40, ...body.flat(), 0x0b];
const simd = (opcode: number, ...immediates: number[]) => [0xfd, ...uleb(opcode), ...immediates];
const v128Load = (offset: number) => simd(0x00, 4, ...uleb(offset));
const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));
const v128And = simd(0x4e);
const v128Xor = simd(0x51);
const i8x16Popcnt = simd(0x62);
const i8x16Add = simd(0x6e);
const i16x8ExtaddPairwiseU = simd(0x7d);
const i32x4ExtaddPairwiseU = simd(0x7f);
const i16x8Add = simd(0x8e);
const i32x4ExtractLane = (lane: number) => simd(0x1b, lane);

/** Bytes of the module: imports env.memory, exports search. */
function searchModuleBytes(): Uint8Array {
  // Locals: parameters 0-2, then i32 3-10, then v128 11-15.
  const [gallery, count, results] = [0, 1, 2];
  const [probe, template, rotation, rows, d, n, bestD, bestN, bestK] = [3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [d8, n8, d16, n16, tmp] = [12, 13, 14, 15, 16];

  const rowBody: number[][] = [v128Zero, set(d8), v128Zero, set(n8)];
  for (let lane = 0; lane < ROW_WORDS / 4; lane++) {
    const at = 16 * lane;
    rowBody.push(
      // m = pm & gm
      get(probe),
      v128Load(TEMPLATE_BYTES / 2 + at),
      get(template),
      v128Load(TEMPLATE_BYTES / 2 + at),
      v128And,
      tee(tmp),
      i8x16Popcnt,
      get(n8),
      i8x16Add,
      set(n8),
      // (p ^ g) & m
      get(probe),
      v128Load(at),
      get(template),
      v128Load(at),
      v128Xor,
      get(tmp),
      v128And,
      i8x16Popcnt,
      get(d8),
      i8x16Add,
      set(d8),
    );
  }
  const horizontalSum = (accumulator: number, target: number) => [
    get(accumulator),
    i32x4ExtaddPairwiseU,
    tee(tmp),
    i32x4ExtractLane(0),
    get(tmp),
    i32x4ExtractLane(1),
    i32Add,
    get(tmp),
    i32x4ExtractLane(2),
    i32Add,
    get(tmp),
    i32x4ExtractLane(3),
    i32Add,
    set(target),
  ];

  const body = block(
    get(count),
    i32Const(0),
    i32LeS,
    brIf(0),
    loop(
      // one template
      i32Const(1),
      set(bestD),
      i32Const(1),
      set(bestN),
      i32Const(0),
      set(bestK),
      i32Const(0),
      set(rotation),
      i32Const(0),
      set(probe),
      loop(
        // one rotation
        v128Zero,
        set(d16),
        v128Zero,
        set(n16),
        get(gallery),
        set(template),
        i32Const(CODE_ROWS),
        set(rows),
        loop(
          // one row: 8 vectors of code and of mask
          ...rowBody,
          get(d16),
          get(d8),
          i16x8ExtaddPairwiseU,
          i16x8Add,
          set(d16),
          get(n16),
          get(n8),
          i16x8ExtaddPairwiseU,
          i16x8Add,
          set(n16),
          get(probe),
          i32Const(ROW_WORDS * 4),
          i32Add,
          set(probe),
          get(template),
          i32Const(ROW_WORDS * 4),
          i32Add,
          set(template),
          get(rows),
          i32Const(1),
          i32Sub,
          tee(rows),
          brIf(0),
        ),
        // the probe pointer has crossed the code half; skip the mask half to the next rotation
        get(probe),
        i32Const(TEMPLATE_BYTES / 2),
        i32Add,
        set(probe),
        ...horizontalSum(d16, d),
        ...horizontalSum(n16, n),
        get(d),
        get(bestN),
        i32Mul,
        get(bestD),
        get(n),
        i32Mul,
        i32LtS,
        when(get(d), set(bestD), get(n), set(bestN), get(rotation), set(bestK)),
        get(rotation),
        i32Const(1),
        i32Add,
        tee(rotation),
        i32Const(ROTATIONS),
        i32LtU,
        brIf(0),
      ),
      get(results),
      get(bestD),
      i32Store(0),
      get(results),
      get(bestN),
      i32Store(4),
      get(results),
      get(bestK),
      i32Store(8),
      get(results),
      i32Const(RESULT_BYTES),
      i32Add,
      set(results),
      get(gallery),
      i32Const(TEMPLATE_BYTES),
      i32Add,
      set(gallery),
      get(count),
      i32Const(1),
      i32Sub,
      tee(count),
      brIf(0),
    ),
  );
  const code = [
    ...vec([
      [9, I32],
      [5, V128],
    ]),
    ...body,
    0x0b,
  ];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32]]), ...vec([])]])), // type 0: (i32 i32 i32) -> ()
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])), // memory, min 1 page
    ...section(3, vec([[0x00]])), // function 0 has type 0
    ...section(7, vec([[...name('search'), 0x00, 0x00]])), // export function 0
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ]);
}

// ---------------------------------------------------------------------------------------------------------

function checkIrisCode(code: IrisCode, name: string): void {
  if (code.code.length !== CODE_BITS || code.mask.length !== CODE_BITS) {
    throw new IrisgateError(
      'invalid_iris_code',
      `the ${name} holds ${code.code.length} code and ${code.mask.length} mask values, expected ${CODE_BITS} each`,
    );
  }
  for (let i = 0; i < CODE_BITS; i++) {
    if ((code.code[i] as number) > 1 || (code.mask[i] as number) > 1) {
      throw new IrisgateError(
        'invalid_iris_code',
        `the ${name} holds a value other than 0 or 1 at index ${i}`,
      );
    }
  }
}

function checkPacked(packed: PackedIrisCode): void {
  if (!(packed instanceof Uint32Array) || packed.length !== PACKED_WORDS) {
    throw new IrisgateError(
      'invalid_iris_code',
      `a packed iris code is a Uint32Array of ${PACKED_WORDS} words`,
    );
  }
}

/**
 * The best part match of a probe against one template (see PROBE_PARTS): the lowest raw HD any part
 * scores over at least `minCommonBits` common bits, or undefined when no part has enough bits.
 */
export function matchParts(
  probe: PackedIrisCode,
  gallery: PackedIrisCode,
  minCommonBits: number,
): (MatchResult & { part: string }) | undefined {
  let best: (MatchResult & { part: string }) | undefined;
  for (let part = 0; part < PROBE_PARTS.length; part++) {
    const result = matchPacked(probePart(probe, part), gallery);
    if (result.commonBits >= minCommonBits && (!best || result.hdRaw < best.hdRaw)) {
      best = { ...result, part: (PROBE_PARTS[part] as { name: string }).name };
    }
  }
  return best;
}

/**
 * The worst part match of a probe against one template: the highest raw HD of the parts with at least
 * `minCommonBits` common bits (undefined when none has). An eye matches itself everywhere; a probe that
 * matches a template only where a patch shows that template's iris does not.
 */
export function worstPartHd(
  probe: PackedIrisCode,
  gallery: PackedIrisCode,
  minCommonBits: number,
): number | undefined {
  let worst: number | undefined;
  for (let part = 0; part < PROBE_PARTS.length; part++) {
    const result = matchPacked(probePart(probe, part), gallery);
    if (result.commonBits >= minCommonBits && (worst === undefined || result.hdRaw > worst))
      worst = result.hdRaw;
  }
  return worst;
}
