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
 *   - matchPacked / matchIrisCodes: packed 32-bit words, probe rotated by word shifts, SWAR popcount
 *     (groupCounts), then scoreCounts.
 *   - IrisGallery.search: 1:N raw-HD search over templates packed in one buffer, by a WebAssembly SIMD
 *     kernel (i8x16.popcnt, built below from its instructions) or, where WebAssembly SIMD is missing or
 *     `engine: 'js'` is asked for, by the same SWAR loop in TypeScript (groupCounts' loop, then
 *     chooseShifts; several times slower).
 *
 * Groups and parts. The counts are kept per group of the gallery (enrolled template) frame: radial half h
 * (rows 8h .. 8h+7; 0 = inner, 1 = outer) x sector j (columns 32j .. 32j+31, 45 degrees of the ring),
 * group 8h + j, so 16 groups x [D, N] per shift. The whole template sums all 16; open-iris's column halves
 * are lo = sectors 0-3 and hi = sectors 4-7, both radial halves; the parts of PROBE_PARTS (eight half
 * rings, the inner and the outer ring) are sums of groups too, so one pass over a template counts the
 * whole and every part at every shift.
 *
 * Packed layout (PackedIrisCode, 1,024 Uint32 words = 4,096 bytes): words 0-511 hold the code, 512-1023
 * the mask; bit i of the layout of protocol/iris-code-layout.ts is bit (i % 32) of word i / 32 (LSB
 * first). One row's 256 columns x 4 bits are then the 32 words row*32 .. row*32+31, column c at bits
 * 4(c % 8) .. 4(c % 8)+3 of word row*32 + c/8, so rolling by `shift` columns is rotating each row's
 * 1,024-bit little-endian integer left by 4*shift bits, columns 0-127 are the first 16 words of a row,
 * and sector j of a row is its j-th 16-byte vector (words row*32 + 4j .. row*32 + 4j + 3).
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
const PACKED_ROWS = PACKED_WORDS / ROW_WORDS; // 32: 16 code rows then 16 mask rows

/** Groups of the gallery frame (see the module comment): radial half h x sector j is group 8h + j. */
export const GROUPS = 16;
const SECTORS = 8;
const SECTOR_WORDS = ROW_WORDS / SECTORS; // 4 words = 16 bytes = 32 columns
const HALF_ROWS = CODE_ROWS / 2; // 8
/** Ints per shift in group counts: GROUPS x [D, N]. */
const SHIFT_INTS = 2 * GROUPS;

/**
 * The parts of an iris a probe is also searched by, in the enrolled template's frame (the gallery frame:
 * the template is never moved, the probe is rolled onto it): the eight half rings starting every 45
 * degrees (sectors k, k+1, k+2, k+3 mod 8, both radial halves) and the inner and outer half of the ring
 * (rows 0-7 and 8-15, every sector). A part's counts at a shift are the sums of its groups', and its best
 * shift is chosen on its own (chooseShifts), over the shifts with enough common bits. Whatever covers
 * part of the iris (a lid, a lash, a patch that the patch detector missed) and whatever it shows there,
 * the roll moves it by at most 15 columns onto the template's frame and keeps its size: if it spans less
 * than 135 degrees of the ring (96 columns), the more than 160 columns left clear hold four whole
 * sectors, a half ring; if it stays in one radial half, the other ring is clear. That part still matches the person's
 * enrolment at the genuine shift: covering an iris cannot buy a second identity. A part holds a quarter to
 * a half of the bits, so an impostor's part distance spreads wider than a whole probe's, the more the
 * fewer its bits: parts are judged by partDistance, which puts every part size on one scale, and its
 * threshold sits below the whole one.
 */
export const PROBE_PARTS: ReadonlyArray<{
  name: string;
  /** Radial halves: 0 = rows 0-7 (inner), 1 = rows 8-15 (outer). */
  halves: readonly number[];
  /** Sectors: j = columns 32j .. 32j+31 of the enrolled template. */
  sectors: readonly number[];
}> = [
  ...Array.from({ length: SECTORS }, (_, k) => ({
    name: `half-ring-${k * 45}deg`,
    halves: [0, 1],
    sectors: [0, 1, 2, 3].map((i) => (k + i) % SECTORS),
  })),
  { name: 'inner-ring', halves: [0], sectors: [0, 1, 2, 3, 4, 5, 6, 7] },
  { name: 'outer-ring', halves: [1], sectors: [0, 1, 2, 3, 4, 5, 6, 7] },
];

/**
 * Lanes of a shift record (chooseShifts, the kernel): PROBE_PARTS in order, the whole template, and one
 * unused lane (no groups: it never takes a shift), so that the kernel handles them as 3 x 4 i32 lanes.
 */
const WHOLE = PROBE_PARTS.length; // 10
const RECORD_LANES = 12;
/** Ints of a record: [D, N, shift index] x RECORD_LANES, each a run of RECORD_LANES ints. */
const RECORD_INTS = 3 * RECORD_LANES;
/** The groups each lane sums. */
const LANE_GROUPS: ReadonlyArray<readonly number[]> = [
  ...PROBE_PARTS.map((part) => part.halves.flatMap((h) => part.sectors.map((j) => SECTORS * h + j))),
  Array.from({ length: GROUPS }, (_, g) => g),
  [],
];

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
 * Chooses the best raw shift of the whole template and of every part (PROBE_PARTS) from group counts
 * (ROTATIONS x GROUPS x [D, N], groupCounts): for each lane, among the shifts whose common bits N reach
 * `minCommon` (the whole: 1), a shift is taken only if strictly better, D * bestN < bestD * N, in
 * SHIFT_ORDER from bestD = bestN = 1, bestK = 0 (open-iris's rule). A lane that takes no shift (no shift
 * with enough bits scores below 1) keeps D = N = 1 at index 0: a part then has no qualifying shift, and
 * the whole scores 1 at rotation 0, as matchIrisCodesNaive. Writes the record [D x 12, N x 12, shift index x 12]
 * (lanes: PROBE_PARTS, the whole, one unused) to `out` at `at`; the WebAssembly kernel writes the same.
 * Products stay below 2^31 (D, N <= 16,384). Counts of fewer shifts (the screen's SCREEN_SHIFTS) give a
 * record whose shift index is theirs.
 */
function chooseShifts(
  counts: Int32Array,
  minCommon: number,
  out: Int32Array = new Int32Array(RECORD_INTS),
  at = 0,
): Int32Array {
  out.fill(1, at, at + 2 * RECORD_LANES);
  out.fill(0, at + 2 * RECORD_LANES, at + RECORD_INTS);
  for (let k = 0; k < counts.length / SHIFT_INTS; k++) {
    const base = k * SHIFT_INTS;
    for (let lane = 0; lane <= WHOLE; lane++) {
      let d = 0;
      let n = 0;
      for (const g of LANE_GROUPS[lane] as readonly number[]) {
        d += counts[base + 2 * g] as number;
        n += counts[base + 2 * g + 1] as number;
      }
      if (
        n >= (lane === WHOLE ? 1 : minCommon) &&
        d * (out[at + RECORD_LANES + lane] as number) < (out[at + lane] as number) * n
      ) {
        out[at + lane] = d;
        out[at + RECORD_LANES + lane] = n;
        out[at + 2 * RECORD_LANES + lane] = k;
      }
    }
  }
  return out;
}

/**
 * One lane's MatchResult from group counts and their record (chooseShifts): hdRaw, rotation from the
 * record; commonBits the lane's N at that shift; hd, hdRotation open-iris's normalised score over the
 * lane's bits (lo = sectors 0-3, hi = sectors 4-7), minimised over every shift with common bits.
 */
function scoreLane(
  counts: Int32Array,
  record: Int32Array,
  lane: number,
  options: MatchOptions = {},
): MatchResult {
  const halves = options.separateHalfMatching ?? true;
  const groups = LANE_GROUPS[lane] as readonly number[];
  let hd = 1;
  let hdK = 0;
  for (let k = 0; k < ROTATIONS; k++) {
    let dLo = 0;
    let nLo = 0;
    let dHi = 0;
    let nHi = 0;
    for (const g of groups) {
      const at = k * SHIFT_INTS + 2 * g;
      if (g % SECTORS < SECTORS / 2) {
        dLo += counts[at] as number;
        nLo += counts[at + 1] as number;
      } else {
        dHi += counts[at] as number;
        nHi += counts[at + 1] as number;
      }
    }
    const score = shiftScore(dLo, nLo, dHi, nHi, halves);
    if (score !== undefined && score < hd) {
      hd = score;
      hdK = k;
    }
  }
  const bestK = record[2 * RECORD_LANES + lane] as number;
  let commonBits = 0;
  for (const g of groups) commonBits += counts[bestK * SHIFT_INTS + 2 * g + 1] as number;
  return {
    hd,
    hdRotation: SHIFT_ORDER[hdK] as number,
    hdRaw: (record[lane] as number) / (record[RECORD_LANES + lane] as number),
    rotation: SHIFT_ORDER[bestK] as number,
    commonBits,
  };
}

/**
 * Turns group counts (ROTATIONS x GROUPS x [D, N], in SHIFT_ORDER: groupCounts) into the whole template's
 * MatchResult, following open-iris: start at 1, take strictly better shifts in SHIFT_ORDER; the column
 * halves are lo = sectors 0-3 and hi = sectors 4-7.
 */
export function scoreCounts(counts: Int32Array, options: MatchOptions = {}): MatchResult {
  return scoreLane(counts, chooseShifts(counts, 1), WHOLE, options);
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

/** The probe rolled by every shift of `shifts` (default: SHIFT_ORDER), in order, PACKED_WORDS words each. */
export function rotateProbe(
  probe: PackedIrisCode,
  target: Uint32Array = new Uint32Array(ROTATIONS * PACKED_WORDS),
  targetOffset = 0,
  shifts: readonly number[] = SHIFT_ORDER,
): Uint32Array {
  checkPacked(probe);
  for (const [k, shift] of shifts.entries()) {
    rotatePacked(probe, shift, target, targetOffset + k * PACKED_WORDS);
  }
  return target;
}

/** The bit count of each byte of x, in that byte (SWAR popcount but for its final sum of the bytes). */
function byteCounts(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (x + (x >>> 4)) & 0x0f0f0f0f;
}

/**
 * Counts one shift's groups: the rotated probe at word `probe` of `probes` against the template at word
 * `gallery` of `galleries`, GROUPS x [D, N] written to `counts` at `at`.
 */
function countGroups(
  probes: Uint32Array,
  probe: number,
  galleries: Uint32Array,
  gallery: number,
  counts: Int32Array,
  at: number,
): void {
  counts.fill(0, at, at + SHIFT_INTS);
  for (let row = 0; row < CODE_ROWS; row++) {
    // Row r, sector j is group 8 (r / 8) + j, words 4j .. 4j+3 of the row.
    const groups = at + (row < HALF_ROWS ? 0 : 2 * SECTORS);
    let w = row * ROW_WORDS;
    for (let j = 0; j < SECTORS; j++) {
      // Per-byte counts (at most 8 per word, 32 per sector) summed, then added up across the bytes.
      let d = 0;
      let n = 0;
      for (const end = w + SECTOR_WORDS; w < end; w++) {
        const m =
          (probes[probe + HALF_WORDS + w] as number) & (galleries[gallery + HALF_WORDS + w] as number);
        d += byteCounts(((probes[probe + w] as number) ^ (galleries[gallery + w] as number)) & m);
        n += byteCounts(m);
      }
      counts[groups + 2 * j] = (counts[groups + 2 * j] as number) + (Math.imul(d, 0x01010101) >>> 24);
      counts[groups + 2 * j + 1] = (counts[groups + 2 * j + 1] as number) + (Math.imul(n, 0x01010101) >>> 24);
    }
  }
}

/**
 * Per-shift group counts ROTATIONS x GROUPS x [D, N], in SHIFT_ORDER (or those of `shifts`, in order):
 * for group 8h + j (see the module comment) D and N over the gallery frame's rows 8h .. 8h+7, columns
 * 32j .. 32j+31.
 */
export function groupCounts(
  probe: PackedIrisCode,
  gallery: PackedIrisCode,
  shifts: readonly number[] = SHIFT_ORDER,
): Int32Array {
  checkPacked(probe);
  checkPacked(gallery);
  const rotated = new Uint32Array(PACKED_WORDS);
  const counts = new Int32Array(shifts.length * SHIFT_INTS);
  for (const [k, shift] of shifts.entries()) {
    rotatePacked(probe, shift, rotated);
    countGroups(rotated, 0, gallery, 0, counts, k * SHIFT_INTS);
  }
  return counts;
}

/** One probe against one gallery template, packed; same result as matchIrisCodesNaive. */
export function matchPacked(
  probe: PackedIrisCode,
  gallery: PackedIrisCode,
  options: MatchOptions = {},
): MatchResult {
  return scoreCounts(groupCounts(probe, gallery), options);
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
   * Occlusion-tolerant search: also score each part (PROBE_PARTS, in the template's frame) on its own,
   * and report a template that some part matches with a partDistance below `threshold`, at its best raw
   * shift among those with at least `minCommonBits` common bits (in the same pass over the gallery as the
   * whole template).
   */
  parts?: { threshold: number; minCommonBits: number };
  /**
   * Screen first (UNIQUENESS_SCREEN): count every template at SCREEN_SHIFTS only, and all 31 shifts only
   * for those whose whole lies below `threshold` there or (with `parts`) some part's partDistance below
   * `partThreshold`. The hits are then the full search's among those templates.
   */
  screen?: { threshold: number; partThreshold: number };
}

/** The raw FHD below which two whole templates are the same eye (iris-mpc's threshold). */
export const DEFAULT_MATCH_THRESHOLD = 0.345;
/**
 * A part's distance on one scale whatever its size: its raw HD h over n common bits, drawn towards
 * NORM_MEAN by (n / PART_NORM_BITS) ^ PART_NORM_EXPONENT: 0.45 - (0.45 - h) (n / 3,000) ^ 0.4, as open-iris's
 * normalisation but scaled by a power of the bits, and not floored at 0 (a close match over many bits
 * scores below 0), so that it still ranks the parts of a genuine pair. A part with
 * few bits scatters widely: on 1.41M impostor pairs (seed 4712, 400 people x 3 sessions, the best shift
 * over the duplicate search's rolls), the raw HD that one part lane in 10,000 falls under was 0.30 at
 * 800-1,000 bits, 0.33 at 1,500-1,800, 0.36 at 2,800-3,200 and 0.39 at 6,000-8,000. Scaled by the
 * exponent 0.4 (a square root, as Daugman's rescaling assumes, overcorrects: the code's bits are
 * correlated), those quantiles are 0.356-0.363 at every size, so one threshold holds each part to the same
 * false-match rate. At 3,000 bits the distance is the raw HD.
 */
export const PART_NORM_BITS = 3000;
const PART_NORM_EXPONENT = 0.4;

export function partDistance(hdRaw: number, commonBits: number): number {
  return NORM_MEAN - (NORM_MEAN - hdRaw) * (commonBits / PART_NORM_BITS) ** PART_NORM_EXPONENT;
}

/**
 * A raw HD at or above which no part (at most CODE_BITS common bits) has a partDistance below
 * `threshold`: the search skips the power for nearly every impostor lane. 1 for thresholds at or above
 * NORM_MEAN, where the bound would grow as the bits shrink; 1e-9 above the exact bound, so that rounding
 * never skips a lane that qualifies.
 */
function partRawBound(threshold: number): number {
  if (!(threshold < NORM_MEAN)) return 1;
  return NORM_MEAN - (NORM_MEAN - threshold) * (PART_NORM_BITS / CODE_BITS) ** PART_NORM_EXPONENT + 1e-9;
}

/**
 * Part matching's defaults: a part with at least 1,500 common bits is a hit when its partDistance lies
 * under 0.28. On the same 1.41M impostor pairs, the lowest part of a pair (every part, the three rolls)
 * was 0.324 at the least; a normal fit of the tail from quantile 1e-5 to 3e-3 puts 1e-10 of pairs under
 * 0.282 (on seed 4713, 352,248 pairs: lowest 0.317, 1e-9 under 0.282). At a million people (two million
 * eyes) a signup's two eyes then raise 4e-4 to 4e-3 false duplicates. A person's own best part lies at a
 * median of 0.013 (2,364 genuine pairs). The raw threshold 0.30 that this replaces let 4.9e-8 of pairs
 * through with one search. Measured on synthetic eyes (iris/CARD.md).
 */
export const DEFAULT_PART_MATCH = { threshold: 0.28, minCommonBits: 1500 } as const;

/**
 * The duplicate search's pre-rolls of the probe (columns). A search covers 31 shifts, +-15 columns or
 * +-21 degrees of roll between two captures, which is all a normalised capture needs while its eye
 * orientation is estimated right. It is not always: the estimate fails on about a third of synthetic eyes
 * and can err by 20 degrees. A person who tilted their head at the second capture was not found as a
 * duplicate in 12 of 20 tries at 25 degrees and 17 of 20 at 35 (fusion-tune-v1): free to enrol again.
 * The duplicate search therefore also looks at the probe rolled by one whole window each way: -46..+46
 * columns, +-65 degrees, for three times the comparisons. Only the duplicate search does: recognition
 * (`recognises`) stays at +-15 columns, since a wider search only helps an impostor there.
 */
export const UNIQUENESS_ROLLS: readonly number[] = [0, -ROTATIONS, ROTATIONS];

/** Every third shift in SHIFT_ORDER (0, -3, +3, ..., -15, +15): a screen's 11 of the 31. */
export const SCREEN_SHIFTS: readonly number[] = SHIFT_ORDER.filter((shift) => shift % 3 === 0);

/**
 * The duplicate search's screen (SearchOptions.screen), at every pre-roll: each of its three scans counts
 * every template at SCREEN_SHIFTS first, and all 31 shifts only for the templates that pass. Sampled every
 * third column, a window misses a genuine pair's best shift by at most one column, where the code has not
 * yet decorrelated.
 * - Genuine pairs of seed 4712 (2,364), the grid at its worst (one column off the best shift): whole raw HD
 *   median 0.276, p99 0.346; best partDistance median 0.215, p99 0.321. The 8 that failed a part screen of
 *   0.36 were not found by the full rule either (whole 0.404-0.478, part 0.335-0.444).
 * - Patched returns (patch-tune-v1: 300 people, random patches over 5-40% and none, 1,541 captures the
 *   pipeline encoded): every one the full rule finds is still found. Of the 25 found by a part alone, the
 *   closest passes with a part at 0.352 on the grid (full search 0.260); one column off raises a part near
 *   the threshold by up to 0.10, hence 0.38.
 * - Impostor pairs of patch-tune-v1 (153,406, most of them patched) pass it at 4.7e-3 (2.0e-3 with a part
 *   screen of 0.36; random pairs of seed 4712, 7.5e-6), so a search costs about 11 shifts per template and
 *   roll instead of 31.
 */
export const UNIQUENESS_SCREEN = { threshold: 0.42, partThreshold: 0.38 } as const;

/**
 * The backend's duplicate rule for one probe against one template, over UNIQUENESS_ROLLS: the lowest
 * whole-template raw HD and the lowest partDistance of a part with DEFAULT_PART_MATCH's common bits (1 when
 * no part has them) over the shifts the search counted, and whether either lies under its threshold. At a
 * pre-roll whose screen (UNIQUENESS_SCREEN) the template does not pass, those are SCREEN_SHIFTS only, where
 * neither can lie under its threshold. Each roll is the count passes and the records the gallery search
 * keeps (chooseShifts), so this is the search's rule for a gallery of one.
 */
export function duplicateDistances(
  probe: PackedIrisCode,
  template: PackedIrisCode,
): { wholeHd: number; partHd: number; duplicate: boolean } {
  let wholeHd = 1;
  let partHd = 1;
  const rolled = new Uint32Array(PACKED_WORDS);
  const minCommon = minCommonFor(DEFAULT_PART_MATCH.minCommonBits);
  const screen = screenRule(UNIQUENESS_SCREEN, DEFAULT_PART_MATCH);
  for (const roll of UNIQUENESS_ROLLS) {
    rotatePacked(probe, roll, rolled);
    const seen = chooseShifts(groupCounts(rolled, template, SCREEN_SHIFTS), minCommon);
    const record = readHit(seen, 0, 0, screen, SCREEN_SHIFTS)
      ? chooseShifts(groupCounts(rolled, template), minCommon)
      : seen;
    wholeHd = Math.min(wholeHd, wholeRawHd(record, 0));
    partHd = Math.min(partHd, bestPart(record, 0, 1, 1).partHd);
  }
  return {
    wholeHd,
    partHd,
    duplicate: wholeHd < DEFAULT_MATCH_THRESHOLD || partHd < DEFAULT_PART_MATCH.threshold,
  };
}

/**
 * The common bits from which a part can veto a recognition (`recognises`). Fewer than the duplicate
 * search's 1,500: when the enrolment's lids hide most of the iris clear of a patch, the part that
 * contradicts the patch holds only 800-1,500 common bits. On fusion-tune-v1 (149 genuine pairs, 437
 * victim-texture patch probes at 20-40%), a person's own parts with 800-1,500 common bits stayed below
 * 0.25 (17 parts); the probes' parts that size spread from 0.12 (the patch) to 0.46 (the wearer's iris).
 */
export const RECOGNITION_PART_BITS = 800;

/**
 * Recognising a probe as one enrolled person (the strict direction, unlike the duplicate search, which
 * takes any evidence): the whole template below DEFAULT_MATCH_THRESHOLD and every part with at least
 * RECOGNITION_PART_BITS common bits below it too (worstPartHd). A person's own parts stay below about 0.26
 * on the synthetic sets; a patch showing someone's iris over 40% of an eye pulls the whole distance under
 * 0.345 while the part clear of it stays near 0.47.
 */
export function recognises(probe: PackedIrisCode, template: PackedIrisCode): boolean {
  if (!(matchPacked(probe, template).hdRaw < DEFAULT_MATCH_THRESHOLD)) return false;
  const worst = worstPartHd(probe, template, RECOGNITION_PART_BITS);
  return worst !== undefined && worst < DEFAULT_MATCH_THRESHOLD;
}

export interface SearchHit {
  /** Position of the template in the gallery (the order of `add`). */
  index: number;
  hdRaw: number;
  rotation: number;
  commonBits: number;
  /**
   * For a hit found by a part of the probe only (SearchOptions.parts): the part's name and its
   * partDistance (hdRaw, rotation and commonBits are the part's too).
   */
  part?: string;
  partHd?: number;
}

export type SearchEngine = 'wasm' | 'js';

/**
 * Working memory, shared by both engines (byte offsets): the rotated probe, then one chunk's records
 * (chooseShifts: [D x 12, N x 12, shift index x 12] i32 per template, 144 bytes), then the gallery
 * templates, 4,096 bytes each. Every region starts on a 64 KiB page.
 */
const PAGE_BYTES = 65_536;
const PROBE_BYTES = ROTATIONS * PACKED_WORDS * 4; // 126,976
/** The kernel's group counters (2 x 16 x 16 bytes), between the probe and the records. */
const SCRATCH_OFFSET = PROBE_BYTES;
const RESULTS_OFFSET = Math.ceil(PROBE_BYTES / PAGE_BYTES) * PAGE_BYTES; // 131,072
const CHUNK_TEMPLATES = 4096;
const RESULT_BYTES = RECORD_INTS * 4; // 144
const GALLERY_OFFSET = RESULTS_OFFSET + CHUNK_TEMPLATES * RESULT_BYTES; // 720,896 (11 pages)
const TEMPLATE_BYTES = PACKED_WORDS * 4;
/** wasm32 addresses 4 GiB; V8 caps a memory at 65,536 pages. */
const MAX_TEMPLATES = Math.floor((65_536 * PAGE_BYTES - GALLERY_OFFSET) / TEMPLATE_BYTES);

/** What makes a record a hit: the whole's raw threshold, and the parts' (SearchOptions.parts), if any. */
interface LaneRule {
  threshold: number;
  parts?: { threshold: number; rawBound: number };
  /** minCommonBits as the engines compare N with (1 without parts: only the whole lane is read). */
  minCommon: number;
}

function laneRule(threshold: number, parts?: { threshold: number; minCommonBits: number }): LaneRule {
  const whole = Math.min(threshold, 1);
  if (!parts) return { threshold: whole, minCommon: 1 };
  return {
    threshold: whole,
    parts: { threshold: parts.threshold, rawBound: partRawBound(parts.threshold) },
    minCommon: minCommonFor(parts.minCommonBits),
  };
}

/** The rule of a screen (SearchOptions.screen) for a search with these parts. */
function screenRule(
  screen: { threshold: number; partThreshold: number },
  parts?: { threshold: number; minCommonBits: number },
): LaneRule {
  return laneRule(screen.threshold, parts && { ...parts, threshold: screen.partThreshold });
}

/** The whole template's raw HD in a record (at int `at`): chooseShifts keeps its N >= 1 (1 = no bits). */
function wholeRawHd(ints: Int32Array, at: number): number {
  return (ints[at + WHOLE] as number) / (ints[at + RECORD_LANES + WHOLE] as number);
}

/**
 * The part lane of a record (at int `at`) with the lowest partDistance under `below` (the first of
 * PROBE_PARTS on ties), or lane -1 and `below` when none is. A lane with D < N took a shift with at least
 * the search's common bits; one that took none keeps D = N = 1. Lanes at or over `rawBound` (partRawBound)
 * are skipped unscored.
 */
function bestPart(
  ints: Int32Array,
  at: number,
  below: number,
  rawBound: number,
): { lane: number; partHd: number } {
  let lane = -1;
  let partHd = below;
  for (let part = 0; part < WHOLE; part++) {
    const d = ints[at + part] as number;
    const n = ints[at + RECORD_LANES + part] as number;
    const distance = d < n && d < rawBound * n ? partDistance(d / n, n) : 1;
    if (distance < partHd) {
      partHd = distance;
      lane = part;
    }
  }
  return { lane, partHd };
}

/**
 * The hit a template's record (at int `at`) makes under `rule`, its shift indices into `shifts`: the whole
 * if its raw HD lies below the threshold, else the part with the lowest partDistance below the parts'
 * threshold (the first of PROBE_PARTS on ties), else none.
 */
function readHit(
  ints: Int32Array,
  at: number,
  index: number,
  rule: LaneRule,
  shifts: readonly number[],
): SearchHit | undefined {
  let lane = WHOLE;
  let partHd = 0;
  if (!(wholeRawHd(ints, at) < rule.threshold)) {
    if (!rule.parts) return undefined;
    ({ lane, partHd } = bestPart(ints, at, rule.parts.threshold, rule.parts.rawBound));
    if (lane < 0) return undefined;
  }
  const commonBits = ints[at + RECORD_LANES + lane] as number;
  const hit: SearchHit = {
    index,
    hdRaw: (ints[at + lane] as number) / commonBits,
    rotation: shifts[ints[at + 2 * RECORD_LANES + lane] as number] as number,
    commonBits,
  };
  if (lane !== WHOLE) {
    hit.part = (PROBE_PARTS[lane] as { name: string }).name;
    hit.partHd = partHd;
  }
  return hit;
}

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
  #searchChunk: (galleryOffset: number, count: number, minCommon: number, rotations: number) => void;

  constructor(options: { engine?: SearchEngine; capacity?: number } = {}) {
    this.engine = options.engine ?? (wasmSimdSupported() ? 'wasm' : 'js');
    const bytes = memoryBytesFor(options.capacity ?? 1024);
    if (this.engine === 'wasm') {
      const api = wasmApi();
      const memory = new api.Memory({ initial: bytes / PAGE_BYTES, maximum: 65_536 });
      const instance = new api.Instance(searchModule(), { env: { memory } });
      const search = instance.exports.search as (
        gallery: number,
        count: number,
        results: number,
        minCommon: number,
        rotations: number,
      ) => void;
      this.#memory = memory;
      this.#buffer = memory.buffer;
      this.#searchChunk = (offset, count, minCommon, rotations) =>
        search(offset, count, RESULTS_OFFSET, minCommon, rotations);
    } else {
      this.#buffer = new ArrayBuffer(bytes);
      this.#searchChunk = (offset, count, minCommon, rotations) =>
        searchChunkJs(this.#words, this.#ints, offset / 4, count, RESULTS_OFFSET / 4, minCommon, rotations);
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
   * The templates whose best raw HD over the 31 shifts is below `threshold`, best first by hdRaw (ties:
   * lower index first), at most `limit` of them. With `parts`, a template the whole misses is also a hit
   * when a part's partDistance lies below `parts.threshold` at a shift with enough common bits; it is
   * reported with that part's raw HD, best shift, name and partDistance (the lowest partDistance, the
   * first of PROBE_PARTS on ties). One pass over the gallery scores the whole and every part.
   */
  search(probe: IrisCode | PackedIrisCode, options: SearchOptions = {}): SearchHit[] {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const packed = probe instanceof Uint32Array ? probe : packIrisCode(probe);
    const from = Math.max(0, options.from ?? 0);
    const rule = laneRule(options.threshold ?? 1, options.parts);
    const hits: SearchHit[] = [];
    let indices: number[] | undefined;
    if (options.screen) {
      // Every third shift first; only the templates that pass are counted at all 31.
      const screen = screenRule(options.screen, options.parts);
      rotateProbe(packed, this.#words, 0, SCREEN_SHIFTS);
      const passed: number[] = [];
      this.#scan(from, this.#size, SCREEN_SHIFTS.length, rule.minCommon, (at, index) => {
        if (readHit(this.#ints, at, index, screen, SCREEN_SHIFTS)) passed.push(index);
      });
      indices = passed;
    }
    rotateProbe(packed, this.#words, 0);
    const collect = (at: number, index: number) => {
      const hit = readHit(this.#ints, at, index, rule, SHIFT_ORDER);
      if (hit) hits.push(hit);
    };
    if (indices === undefined) this.#scan(from, this.#size, ROTATIONS, rule.minCommon, collect);
    else for (const index of indices) this.#scan(index, index + 1, ROTATIONS, rule.minCommon, collect);
    hits.sort((a, b) => a.hdRaw - b.hdRaw || a.index - b.index);
    return hits.length > limit ? hits.slice(0, limit) : hits;
  }

  /**
   * Runs the engine over the templates [first, end) against the first `rotations` rotated probes at
   * address 0, a chunk at a time, and hands each template's record (its int offset) and index to `visit`.
   */
  #scan(
    first: number,
    end: number,
    rotations: number,
    minCommon: number,
    visit: (at: number, index: number) => void,
  ): void {
    for (let chunk = first; chunk < end; chunk += CHUNK_TEMPLATES) {
      const count = Math.min(CHUNK_TEMPLATES, end - chunk);
      this.#searchChunk(GALLERY_OFFSET + chunk * TEMPLATE_BYTES, count, minCommon, rotations);
      for (let t = 0; t < count; t++) visit(RESULTS_OFFSET / 4 + RECORD_INTS * t, chunk + t);
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

/** minCommonBits as the integer both engines compare N with (N >= it): NaN or above 16,384: none qualifies. */
function minCommonFor(minCommonBits: number): number {
  return minCommonBits <= CODE_BITS ? Math.max(0, Math.ceil(minCommonBits)) : CODE_BITS + 1;
}

/**
 * The TypeScript engine: for `count` templates from word `gallery`, against the first `rotations` rotated
 * probes from word 0, writes each template's record (chooseShifts) to `results` (ints, RECORD_INTS per
 * template).
 */
function searchChunkJs(
  words: Uint32Array,
  ints: Int32Array,
  gallery: number,
  count: number,
  results: number,
  minCommon: number,
  rotations: number,
): void {
  const counts = new Int32Array(rotations * SHIFT_INTS);
  for (let t = 0; t < count; t++) {
    const g = gallery + t * PACKED_WORDS;
    for (let k = 0; k < rotations; k++)
      countGroups(words, k * PACKED_WORDS, words, g, counts, k * SHIFT_INTS);
    chooseShifts(counts, minCommon, ints, results + RECORD_INTS * t);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The WebAssembly SIMD kernel, assembled here from its instructions (no toolchain needed).
//
//   search(gallery, count, results, minCommon, rotations): for each of `count` templates at `gallery`
//   (4,096 bytes apart), for each of the first `rotations` (1 to 31) rotated probes at address 0 (4,096
//   bytes apart: SHIFT_ORDER, or the screen's SCREEN_SHIFTS):
//   - a loop over the 16 groups (g = 8h + j: the j-th 16-byte vector of rows 8h .. 8h+7, the code at byte
//     (8h + r) * 128 + 16j, the mask 2,048 bytes further; immediate load offsets from the two bases) sums
//     popcnt((p ^ g) & pm & gm) and popcnt(pm & gm) over the group's 8 rows in two i8x16 byte counters
//     (at most 64 per byte, no overflow) and stores them to a scratch area (SCRATCH_OFFSET: D at 16g,
//     N at 256 + 16g). The loop body (one group, about 300 x86 instructions) runs from the CPU's
//     decoded-instruction cache; the 16 groups unrolled (30 KB of code per rotation) ran about 1.5x
//     slower;
//   - per half, the eight sector vectors are widened (i16x8.extadd_pairwise_i8x16_u) and folded into one
//     i16x8 whose lane j is sector j's total (at most 1,024) by a tree of `fold`
//     (i32x4.extadd_pairwise_i16x8_s of two vectors, then i16x8.narrow_i32x4_s: the adjacent-lane sums of
//     the first in lanes 0-3, of the second in lanes 4-7);
//   - sector totals S = inner + outer; the half rings H[k] = S[k] + S[k+1] + S[k+2] + S[k+3] by two lane
//     rotations (T = S + rot1 S, H = T + rot2 T); [inner, outer, whole, 0] by folding the two halves;
//   - keeps, for the 12 record lanes [half rings 0-7 | inner, outer, whole, unused] as 3 x i32x4, the
//     strictly better shift: d * bestN < bestD * n (i32x4.mul, i32x4.lt_s; d, n <= 16,384) and
//     n >= minCommon (1 in the whole's lane), v128.bitselect into bestD, bestN and bestK;
//   and stores the record [bestD x 12, bestN x 12, bestK x 12] (i32: chooseShifts' record) at
//   `results` + 144 t.

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
const i32LtU = [0x49];
const i32LeS = [0x4c];
const i32And = [0x71];
const i32Or = [0x72];
const i32Shl = [0x74];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const loop = (...body: number[][]) => [0x03, 0x40, ...body.flat(), 0x0b];
const block = (...body: number[][]) => [0x02, 0x40, ...body.flat(), 0x0b];
const when = (...body: number[][]) => [0x04, 0x40, ...body.flat(), 0x0b];
const simd = (opcode: number, ...immediates: number[]) => [0xfd, ...uleb(opcode), ...immediates];
const v128Load = (offset: number) => simd(0x00, 4, ...uleb(offset));
const v128Store = (offset: number) => simd(0x0b, 4, ...uleb(offset));
const v128Const = (bytes: number[]) => simd(0x0c, ...bytes);
const v128Zero = v128Const(new Array<number>(16).fill(0));
/** i8x16.shuffle picking i16 lanes: 0-7 from the first operand, 8-15 from the second. */
const i16x8Shuffle = (lanes: number[]) => simd(0x0d, ...lanes.flatMap((lane) => [2 * lane, 2 * lane + 1]));
const i32x4Splat = simd(0x11);
const i32x4ReplaceLane = (lane: number) => simd(0x1c, lane);
const i32x4LtS = simd(0x39);
const i32x4GeS = simd(0x3f);
const v128And = simd(0x4e);
const v128Xor = simd(0x51);
const v128Bitselect = simd(0x52);
const i8x16Popcnt = simd(0x62);
const i8x16Add = simd(0x6e);
const i16x8ExtaddPairwiseU = simd(0x7d);
const i32x4ExtaddPairwiseS = simd(0x7e);
const i16x8NarrowS = simd(0x85);
const i16x8Add = simd(0x8e);
const i32x4ExtendLowU = simd(0xa9);
const i32x4ExtendHighU = simd(0xaa);
const i32x4Mul = simd(0xb5);

/** Bytes of the module: imports env.memory, exports search. */
function searchModuleBytes(): Uint8Array {
  // Parameters 0-4, i32 locals 5-10, then v128 locals.
  const [gallery, count, results, minCommon, rotations] = [0, 1, 2, 3, 4];
  const [probe, rotation, group, probeAt, templateAt, slot] = [5, 6, 7, 8, 9, 10];
  let nextLocal = 11;
  const local = () => nextLocal++;
  const [d8, n8, mask, tmp, dx, nx, take, kVec, minParts, minRest] = Array.from({ length: 10 }, local) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const two = () => [local(), local()] as const;
  const three = () => [local(), local(), local()] as const;
  const totalD = two(); // per radial half: lane j = sector j's D
  const totalN = two();
  const [ringD, ringN, restD, restN] = [local(), local(), local(), local()];
  const bestD = three();
  const bestN = three();
  const bestK = three();

  // One group (8 rows x one 16-byte vector): its byte counters go to the scratch area, D at 16g, N at
  // 256 + 16g. Group g = 8h + j starts at byte 1,024h + 16j of the code.
  const rows = (first: number, last: number): number[][] => {
    const body: number[][] = [];
    for (let r = first; r < last; r++) {
      const at = r * ROW_WORDS * 4;
      body.push(
        // m = pm & gm
        get(probeAt),
        v128Load(TEMPLATE_BYTES / 2 + at),
        get(templateAt),
        v128Load(TEMPLATE_BYTES / 2 + at),
        v128And,
        tee(mask),
        i8x16Popcnt,
        ...(r > 0 ? [get(n8), i8x16Add] : []),
        set(n8),
        // (p ^ g) & m
        get(probeAt),
        v128Load(at),
        get(templateAt),
        v128Load(at),
        v128Xor,
        get(mask),
        v128And,
        i8x16Popcnt,
        ...(r > 0 ? [get(d8), i8x16Add] : []),
        set(d8),
      );
    }
    return body;
  };
  const groupBody: number[][] = [
    get(group),
    i32Const(SECTORS),
    i32And,
    i32Const(7),
    i32Shl,
    get(group),
    i32Const(SECTORS - 1),
    i32And,
    i32Const(4),
    i32Shl,
    i32Or,
    tee(templateAt),
    get(probe),
    i32Add,
    set(probeAt),
    get(templateAt),
    get(gallery),
    i32Add,
    set(templateAt),
    ...rows(0, HALF_ROWS / 2),
    // V8's optimising compiler schedules every load of a basic block at its start: 8 rows in one block
    // (32 loads) spill, 4 rows keep their 16 loads in registers. `count` is never 0 here: this `if` only
    // splits the group in two blocks (measured: about 20% faster than one block).
    get(count),
    when(...rows(HALF_ROWS / 2, HALF_ROWS)),
    get(group),
    i32Const(4),
    i32Shl,
    tee(slot),
    get(d8),
    v128Store(SCRATCH_OFFSET),
    get(slot),
    get(n8),
    v128Store(SCRATCH_OFFSET + 16 * GROUPS),
  ];

  /** Lanes 0-3: a's adjacent-lane sums; lanes 4-7: b's (i16x8, sums below 2^15). */
  const fold = (a: number[], b: number[]) => [
    ...a,
    ...i32x4ExtaddPairwiseS,
    ...b,
    ...i32x4ExtaddPairwiseS,
    ...i16x8NarrowS,
  ];
  /** One half's sector totals (lane j: sector j) from the scratch area: fold(fold(fold(V0, V1), ...), ...). */
  const sectorTotals = (first: number): number[] => {
    const sector = (j: number) => [...i32Const(0), ...v128Load(first + 16 * j), ...i16x8ExtaddPairwiseU];
    const pairs = [0, 2, 4, 6].map((j) => fold(sector(j), sector(j + 1)));
    return fold(
      fold(pairs[0] as number[], pairs[1] as number[]),
      fold(pairs[2] as number[], pairs[3] as number[]),
    );
  };
  const rotationBody: number[][] = [
    i32Const(0),
    set(group),
    loop(...groupBody, get(group), i32Const(1), i32Add, tee(group), i32Const(GROUPS), i32LtU, brIf(0)),
  ];
  for (let h = 0; h < 2; h++) {
    rotationBody.push(
      sectorTotals(SCRATCH_OFFSET + 16 * SECTORS * h),
      set(totalD[h] as number),
      sectorTotals(SCRATCH_OFFSET + 16 * GROUPS + 16 * SECTORS * h),
      set(totalN[h] as number),
    );
  }
  // Half rings, and [inner, outer, whole, 0], from the halves' sector totals.
  const parts = ([inner, outer]: readonly [number, number], ring: number, rest: number) => [
    ...get(inner),
    ...get(outer),
    ...i16x8Add,
    ...tee(tmp),
    ...get(tmp),
    ...get(tmp),
    ...i16x8Shuffle([1, 2, 3, 4, 5, 6, 7, 0]),
    ...i16x8Add,
    ...tee(tmp),
    ...get(tmp),
    ...get(tmp),
    ...i16x8Shuffle([2, 3, 4, 5, 6, 7, 0, 1]),
    ...i16x8Add,
    ...set(ring),
    ...fold(get(inner), get(outer)),
    ...set(tmp),
    ...fold(get(tmp), get(tmp)),
    ...set(tmp),
    ...fold(get(tmp), get(tmp)), // [inner, outer, inner, outer, ...]
    ...tee(tmp),
    ...v128Zero,
    ...i16x8Shuffle([0, 1, 0, 8, 8, 8, 8, 8]),
    ...get(tmp),
    ...v128Zero,
    ...i16x8Shuffle([8, 8, 1, 8, 8, 8, 8, 8]),
    ...i16x8Add,
    ...set(rest),
  ];
  rotationBody.push(
    parts(totalD, ringD, restD),
    parts(totalN, ringN, restN),
    get(rotation),
    i32x4Splat,
    set(kVec),
  );
  const lanes = [
    [ringD, ringN, i32x4ExtendLowU, minParts], // half rings 0-3
    [ringD, ringN, i32x4ExtendHighU, minParts], // half rings 4-7
    [restD, restN, i32x4ExtendLowU, minRest], // inner, outer, whole, unused
  ] as const;
  lanes.forEach(([d16, n16, extend, min], q) => {
    const [bD, bN, bK] = [bestD[q] as number, bestN[q] as number, bestK[q] as number];
    rotationBody.push(
      get(d16),
      extend,
      set(dx),
      get(n16),
      extend,
      set(nx),
      // take = d * bestN < bestD * n && n >= min
      get(dx),
      get(bN),
      i32x4Mul,
      get(bD),
      get(nx),
      i32x4Mul,
      i32x4LtS,
      get(nx),
      get(min),
      i32x4GeS,
      v128And,
      set(take),
      get(dx),
      get(bD),
      get(take),
      v128Bitselect,
      set(bD),
      get(nx),
      get(bN),
      get(take),
      v128Bitselect,
      set(bN),
      get(kVec),
      get(bK),
      get(take),
      v128Bitselect,
      set(bK),
    );
  });

  const ones = v128Const([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
  const templateStart: number[][] = [];
  const templateEnd: number[][] = [];
  for (let q = 0; q < 3; q++) {
    templateStart.push(
      ones,
      set(bestD[q] as number),
      ones,
      set(bestN[q] as number),
      v128Zero,
      set(bestK[q] as number),
    );
    templateEnd.push(
      get(results),
      get(bestD[q] as number),
      v128Store(16 * q),
      get(results),
      get(bestN[q] as number),
      v128Store(16 * (3 + q)),
      get(results),
      get(bestK[q] as number),
      v128Store(16 * (6 + q)),
    );
  }

  const body = block(
    get(count),
    i32Const(0),
    i32LeS,
    brIf(0),
    // minimum common bits per lane: minCommon, but 1 for the whole (lane 2 of the third group)
    get(minCommon),
    i32x4Splat,
    tee(minParts),
    i32Const(1),
    i32x4ReplaceLane(2),
    set(minRest),
    loop(
      // one template
      ...templateStart,
      i32Const(0),
      set(rotation),
      i32Const(0),
      set(probe),
      loop(
        // one rotation: every group, then the parts and the best shifts
        ...rotationBody,
        get(probe),
        i32Const(TEMPLATE_BYTES),
        i32Add,
        set(probe),
        get(rotation),
        i32Const(1),
        i32Add,
        tee(rotation),
        get(rotations),
        i32LtU,
        brIf(0),
      ),
      ...templateEnd,
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
      [6, I32],
      [nextLocal - 11, V128],
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
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([])]])), // type 0: (i32 x 5) -> ()
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
 * Every part's match of a probe against one template (PROBE_PARTS, in order): its best raw shift among
 * the shifts with at least `minCommonBits` common bits (chooseShifts), or undefined for a part with no
 * such shift below HD 1. `hd` and `hdRotation` are open-iris's normalised score over the part's bits.
 */
export function partMatches(
  probe: PackedIrisCode,
  gallery: PackedIrisCode,
  minCommonBits: number,
): Array<(MatchResult & { part: string }) | undefined> {
  const counts = groupCounts(probe, gallery);
  const record = chooseShifts(counts, minCommonFor(minCommonBits));
  return PROBE_PARTS.map((spec, part) =>
    (record[part] as number) < (record[RECORD_LANES + part] as number)
      ? { ...scoreLane(counts, record, part), part: spec.name }
      : undefined,
  );
}

/**
 * The best part match of a probe against one template (see PROBE_PARTS): the part with the lowest
 * partDistance at its best raw shift among those with at least `minCommonBits` common bits (the first part
 * on ties), or undefined when no part has such a shift. The search's part hits are these.
 */
export function matchParts(
  probe: PackedIrisCode,
  gallery: PackedIrisCode,
  minCommonBits: number,
): (MatchResult & { part: string; partHd: number }) | undefined {
  let best: (MatchResult & { part: string; partHd: number }) | undefined;
  for (const result of partMatches(probe, gallery, minCommonBits)) {
    if (!result) continue;
    const partHd = partDistance(result.hdRaw, result.commonBits);
    if (!best || partHd < best.partHd) best = { ...result, partHd };
  }
  return best;
}

/**
 * The worst part match of a probe against one template: the highest raw HD of the parts with a shift of
 * at least `minCommonBits` common bits (undefined when none has). An eye matches itself everywhere; a
 * probe that matches a template only where a patch shows that template's iris does not.
 */
export function worstPartHd(
  probe: PackedIrisCode,
  gallery: PackedIrisCode,
  minCommonBits: number,
): number | undefined {
  let worst: number | undefined;
  for (const result of partMatches(probe, gallery, minCommonBits)) {
    if (result && (worst === undefined || result.hdRaw > worst)) worst = result.hdRaw;
  }
  return worst;
}
