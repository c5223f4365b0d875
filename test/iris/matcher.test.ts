import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MATCH_THRESHOLD,
  DEFAULT_PART_MATCH,
  duplicateDistances,
  IrisGallery,
  type MatchResult,
  matchIrisCodes,
  matchIrisCodesNaive,
  matchPacked,
  matchParts,
  normalizedHd,
  PART_NORM_BITS,
  PROBE_PARTS,
  packIrisCode,
  partDistance,
  partMatches,
  RECOGNITION_PART_BITS,
  ROTATIONS,
  recognises,
  rotatePacked,
  SCREEN_SHIFTS,
  type SearchHit,
  SHIFT_ORDER,
  shiftScore,
  UNIQUENESS_ROLLS,
  UNIQUENESS_SCREEN,
  unpackIrisCode,
  wasmSimdSupported,
  worstPartHd,
} from '../../iris/matcher.ts';
import { seededRandom } from '../../iris/seeded-random.ts';
import { CODE_BITS, CODE_COLUMNS, CODE_ROWS, type IrisCode } from '../../protocol/iris-code-layout.ts';
import { decodeIrisTemplate } from '../../protocol/iris-template.ts';

const EXPECTED_OUTPUT = new URL('../../../shared/external/open-iris/expected-output.json', import.meta.url);

/** Every column of every row holds the same 4 bits: rolling changes nothing, so shift 0 wins. */
function constantColumns(codeCell: (row: number) => number[], maskCell: (row: number) => number[]): IrisCode {
  const code = new Uint8Array(CODE_BITS);
  const mask = new Uint8Array(CODE_BITS);
  for (let row = 0; row < CODE_ROWS; row++) {
    for (let column = 0; column < CODE_COLUMNS; column++) {
      for (let bit = 0; bit < 4; bit++) {
        code[(row * CODE_COLUMNS + column) * 4 + bit] = codeCell(row)[bit] as number;
        mask[(row * CODE_COLUMNS + column) * 4 + bit] = maskCell(row)[bit] as number;
      }
    }
  }
  return { code, mask };
}

/** np.roll(x, shift, axis=1) on the (16, 256, 2, 2) array: column c of the result is column c - shift. */
function roll(x: IrisCode, shift: number): IrisCode {
  const out: IrisCode = { code: new Uint8Array(CODE_BITS), mask: new Uint8Array(CODE_BITS) };
  for (let row = 0; row < CODE_ROWS; row++) {
    for (let column = 0; column < CODE_COLUMNS; column++) {
      const from = (((column - shift) % CODE_COLUMNS) + CODE_COLUMNS) % CODE_COLUMNS;
      for (let bit = 0; bit < 4; bit++) {
        out.code[(row * CODE_COLUMNS + column) * 4 + bit] = x.code[
          (row * CODE_COLUMNS + from) * 4 + bit
        ] as number;
        out.mask[(row * CODE_COLUMNS + column) * 4 + bit] = x.mask[
          (row * CODE_COLUMNS + from) * 4 + bit
        ] as number;
      }
    }
  }
  return out;
}

/** A random code; the mask is dense with random holes and occluded blocks (eyelids, reflections). */
function randomCode(random: () => number, density = 0.9, blocks = 3): IrisCode {
  const code = new Uint8Array(CODE_BITS).map(() => (random() < 0.5 ? 1 : 0));
  const mask = new Uint8Array(CODE_BITS).map(() => (random() < density ? 1 : 0));
  for (let b = 0; b < blocks; b++) {
    const row0 = Math.floor(random() * CODE_ROWS);
    const column0 = Math.floor(random() * CODE_COLUMNS);
    const rows = 1 + Math.floor(random() * 8);
    const columns = 1 + Math.floor(random() * 64);
    for (let r = row0; r < Math.min(CODE_ROWS, row0 + rows); r++) {
      for (let c = column0; c < column0 + columns; c++) {
        for (let bit = 0; bit < 4; bit++) mask[(r * CODE_COLUMNS + (c % CODE_COLUMNS)) * 4 + bit] = 0;
      }
    }
  }
  return { code, mask };
}

/** `x` with a fraction of its code bits flipped. */
function noisy(x: IrisCode, random: () => number, flip: number): IrisCode {
  return { code: x.code.map((bit) => (random() < flip ? bit ^ 1 : bit)), mask: x.mask.slice() };
}

function emptyCode(): IrisCode {
  return { code: new Uint8Array(CODE_BITS), mask: new Uint8Array(CODE_BITS) };
}

/** Sets every bit of `column` in every row to `codeBits` / `maskBits`. */
function setColumn(x: IrisCode, column: number, codeBits: number[], maskBits = [1, 1, 1, 1]): void {
  for (let row = 0; row < CODE_ROWS; row++) {
    for (let bit = 0; bit < 4; bit++) {
      x.code[(row * CODE_COLUMNS + column) * 4 + bit] = codeBits[bit] as number;
      x.mask[(row * CODE_COLUMNS + column) * 4 + bit] = maskBits[bit] as number;
    }
  }
}

function bothPaths(probe: IrisCode, gallery: IrisCode, options = {}): MatchResult {
  const naive = matchIrisCodesNaive(probe, gallery, options);
  expect(matchIrisCodes(probe, gallery, options)).toEqual(naive);
  return naive;
}

describe('raw fractional Hamming distance', () => {
  it('counts only disagreements where both masks are set', () => {
    // Probe: code 0, mask all 1. Gallery: bit 0 of every cell is 1 (disagrees), but masked out in rows 0-7.
    const probe = constantColumns(
      () => [0, 0, 0, 0],
      () => [1, 1, 1, 1],
    );
    const gallery = constantColumns(
      () => [1, 0, 0, 0],
      (row) => (row < 8 ? [0, 1, 1, 1] : [1, 1, 1, 1]),
    );
    // Common bits: 16,384 - 8 rows x 256 columns = 14,336; counted disagreements: rows 8-15, bit 0 = 2,048.
    const result = bothPaths(probe, gallery);
    expect(result.commonBits).toBe(14_336);
    expect(result.hdRaw).toBe(2048 / 14_336);
    expect(result.hdRaw).toBeCloseTo(1 / 7, 15);
    expect(result.rotation).toBe(0);
    // Without halves: nhd = 0.45 - (0.45 - 1/7) * (0.00005 * 14,336 + 0.5 = 1.2168) = 0.0762686
    const plain = bothPaths(probe, gallery, { separateHalfMatching: false });
    expect(plain.hd).toBeCloseTo(0.45 - (0.45 - 1 / 7) * 1.2168, 12);
    expect(plain.hd).toBeCloseTo(0.0762686, 6);
    // Halves, counts doubled: whole = max(0, 0.45 - (0.45 - 1/7) * (0.00005 * 28,672 + 0.5 = 1.9336)) = 0
    // (clamped); each half = 0.45 - (0.45 - 1/7) * 1.2168 as above; hd = (0 + 0.0762686) / 2.
    expect(result.hd).toBeCloseTo((0.45 - (0.45 - 1 / 7) * 1.2168) / 2, 12);
  });

  it('scores 1 at rotation 0 when no shift has common bits', () => {
    const probe = randomCode(seededRandom(1));
    const gallery = { code: probe.code.slice(), mask: new Uint8Array(CODE_BITS) };
    expect(bothPaths(probe, gallery)).toEqual({ hd: 1, hdRotation: 0, hdRaw: 1, rotation: 0, commonBits: 0 });
  });

  it('skips shifts without common bits instead of scoring them', () => {
    // Only shift +5 lines the probe's column 0 (all 16 rows) up with the gallery's column 5.
    const probe = emptyCode();
    const gallery = emptyCode();
    setColumn(probe, 0, [1, 1, 1, 1]);
    setColumn(gallery, 5, [1, 1, 0, 0]);
    // N = 16 rows x 4 = 64, D = 32.
    const result = bothPaths(probe, gallery, { separateHalfMatching: false });
    expect(result).toMatchObject({ hdRaw: 0.5, rotation: 5, commonBits: 64, hdRotation: 5 });
    // nhd(32, 64) = 0.45 - (0.45 - 0.5) * (0.0032 + 0.5) = 0.47516
    expect(result.hd).toBeCloseTo(0.47516, 12);
  });

  it('rolls the probe: a gallery equal to the probe rolled by +3 columns matches at rotation +3', () => {
    const probe = randomCode(seededRandom(2));
    const plus3 = bothPaths(probe, roll(probe, 3));
    expect(plus3).toMatchObject({ hdRaw: 0, rotation: 3, hd: 0, hdRotation: 3 });
    expect(plus3.commonBits).toBe(probe.mask.reduce((sum, bit) => sum + bit, 0));
    expect(bothPaths(probe, roll(probe, -3))).toMatchObject({ hdRaw: 0, rotation: -3 });
    // Rolled the other way round, the roles swap and so does the sign.
    expect(bothPaths(roll(probe, 3), probe)).toMatchObject({ hdRaw: 0, rotation: -3 });
    // Beyond 15 columns no shift lines them up.
    expect(bothPaths(probe, roll(probe, 16)).hdRaw).toBeGreaterThan(0.4);
  });

  it('breaks ties in open-iris order: smaller |shift| first, then the negative one', () => {
    // Constant columns: every shift has the same counts, so shift 0 wins.
    const probe = constantColumns(
      (row) => [row & 1, 0, 1, 0],
      () => [1, 1, 1, 1],
    );
    expect(bothPaths(probe, probe)).toMatchObject({ hdRaw: 0, rotation: 0 });
    // Columns of period 2: even shifts are perfect, 0 first; odd ones are all wrong.
    const periodic = emptyCode();
    for (let c = 0; c < CODE_COLUMNS; c++) setColumn(periodic, c, c % 2 === 0 ? [1, 1, 1, 1] : [0, 0, 0, 0]);
    expect(bothPaths(periodic, roll(periodic, 1))).toMatchObject({ hdRaw: 0, rotation: -1 });
    expect(SHIFT_ORDER.slice(0, 5)).toEqual([0, -1, 1, -2, 2]);
    expect(SHIFT_ORDER.length).toBe(ROTATIONS);
  });
});

describe('open-iris normalisation', () => {
  it('is max(0, 0.45 - (0.45 - HD) * (0.00005 N + 0.5))', () => {
    // N = 10,000 makes the factor exactly 1: the score is the raw HD.
    expect(normalizedHd(3000, 10_000)).toBeCloseTo(0.3, 15);
    // N = 1,000, HD 0.1: 0.45 - 0.35 * 0.55 = 0.2575
    expect(normalizedHd(100, 1000)).toBeCloseTo(0.2575, 15);
    // Above the non-match mean the score grows: N = 20,000, HD 0.5: 0.45 + 0.05 * 1.5 = 0.525
    expect(normalizedHd(10_000, 20_000)).toBeCloseTo(0.525, 15);
    // Clamped at 0: N = 16,384, HD 0: 0.45 - 0.45 * 1.3192 < 0
    expect(normalizedHd(0, 16_384)).toBe(0);
  });

  it('combines the column halves as open-iris does, counts doubled', () => {
    // lo: D 1,000 / N 5,000; hi: D 3,000 / N 5,000. Doubled: whole = nhd(8,000, 20,000)
    //   = 0.45 - (0.45 - 0.4) * 1.5 = 0.375; hi = nhd(6,000, 10,000) = 0.6; lo = nhd(2,000, 10,000) = 0.2;
    //   weighted = (0.6 * 10,000 + 0.2 * 10,000) / 20,000 = 0.4; hd = (0.375 + 0.4) / 2 = 0.3875.
    expect(shiftScore(1000, 5000, 3000, 5000)).toBeCloseTo(0.3875, 14);
    // Unequal halves: lo D 500 / N 2,500, hi D 3,000 / N 7,500. whole = nhd(7,000, 20,000) = 0.3;
    //   hi = nhd(6,000, 15,000) = 0.45 - 0.05 * 1.25 = 0.3875; lo = nhd(1,000, 5,000) = 0.45 - 0.25 * 0.75
    //   = 0.2625; weighted = (0.3875 * 15,000 + 0.2625 * 5,000) / 20,000 = 0.35625; hd = 0.328125.
    expect(shiftScore(500, 2500, 3000, 7500)).toBeCloseTo(0.328125, 14);
    // Without halves: nhd(3,500, 10,000) = 0.35.
    expect(shiftScore(500, 2500, 3000, 7500, false)).toBeCloseTo(0.35, 14);
    expect(shiftScore(0, 0, 0, 0)).toBeUndefined();
  });

  it("keeps open-iris's guard: an empty columns 128-255 half scores the other half 0.45", () => {
    // Common bits only in column 5 (lo half), 64 of them, 32 disagreeing. open-iris tests the hi half's
    // count for both half scores, so both are 0.45: whole = nhd(64, 128) = 0.45 + 0.05 * 0.5064 = 0.47532;
    // halves = (0.45 * 0 + 0.45 * 128) / 128 = 0.45; hd = (0.47532 + 0.45) / 2 = 0.46266.
    expect(shiftScore(32, 64, 0, 0)).toBeCloseTo(0.46266, 14);
    const probe = emptyCode();
    const gallery = emptyCode();
    setColumn(probe, 0, [1, 1, 1, 1]);
    setColumn(gallery, 5, [1, 1, 0, 0]);
    expect(bothPaths(probe, gallery).hd).toBeCloseTo(0.46266, 14);
    // In the hi half (column 200) the empty lo half weighs nothing: hd = (0.47532 + 0.47532) / 2.
    const probeHi = emptyCode();
    const galleryHi = emptyCode();
    setColumn(probeHi, 195, [1, 1, 1, 1]);
    setColumn(galleryHi, 200, [1, 1, 0, 0]);
    expect(bothPaths(probeHi, galleryHi).hd).toBeCloseTo(0.47532, 14);
    expect(shiftScore(0, 0, 32, 64)).toBeCloseTo(0.47532, 14);
  });
});

describe('packed codes', () => {
  it('pack and unpack are inverse, and rotatePacked is np.roll', () => {
    const random = seededRandom(3);
    const x = randomCode(random);
    const packed = packIrisCode(x);
    expect(unpackIrisCode(packed)).toEqual(x);
    for (const shift of [...SHIFT_ORDER, 16, 100, -129, 255, 256, -256, 1000]) {
      expect(unpackIrisCode(rotatePacked(packed, shift))).toEqual(roll(x, shift));
    }
  });

  it('matches the naive matcher on 200 random pairs, rotations and holey masks', () => {
    const random = seededRandom(4);
    let separateShifts = 0;
    for (let i = 0; i < 200; i++) {
      const density = [0.95, 0.75, 0.5, 0.1, 0.02][i % 5] as number;
      const probe = randomCode(random, density, i % 4);
      let gallery: IrisCode;
      if (i % 3 === 0) {
        // A genuine pair: the probe rolled by up to +-20 columns, noisy, with its own occlusions.
        const shift = Math.floor(random() * 41) - 20;
        const other = randomCode(random, 0.9, 2);
        gallery = noisy(roll(probe, shift), random, 0.1 + 0.3 * random());
        gallery.mask = gallery.mask.map((bit, j) => bit & (other.mask[j] as number));
      } else {
        gallery = randomCode(random, density, (i + 1) % 4);
      }
      if (i % 50 === 7) {
        // One half of the gallery's columns fully masked (the open-iris guard above).
        for (let j = 0; j < CODE_BITS; j++) {
          if ((j >> 2) % CODE_COLUMNS >= 128 === (i % 100 === 7)) gallery.mask[j] = 0;
        }
      }
      const naive = matchIrisCodesNaive(probe, gallery);
      expect(matchPacked(packIrisCode(probe), packIrisCode(gallery))).toEqual(naive);
      if (i % 4 === 0) {
        expect(matchIrisCodes(probe, gallery, { separateHalfMatching: false })).toEqual(
          matchIrisCodesNaive(probe, gallery, { separateHalfMatching: false }),
        );
      }
      if (naive.hdRotation !== naive.rotation) separateShifts++;
    }
    // The normalised score picks its own shift in some pairs (near-random pairs with unequal common bits).
    expect(separateShifts).toBeGreaterThan(0);
  });

  it("scores open-iris's sample template against itself and a rolled copy", () => {
    const sample = decodeIrisTemplate(
      (JSON.parse(readFileSync(EXPECTED_OUTPUT, 'utf8')) as { iris_template: unknown }).iris_template,
    );
    const self = matchIrisCodes(sample, sample);
    expect(self).toMatchObject({ hdRotation: 0, hdRaw: 0, rotation: 0, commonBits: 12_194 });
    // Even a perfect match keeps a normalised score above 0 when a half has few bits: here columns 0-127
    // hold 7,598 mask bits and 128-255 only 4,596. Doubled, hi = nhd(0, 9,192) = 0.45 * (1 - 0.9596)
    // = 0.01818; lo = nhd(0, 15,196) = 0 (clamped); whole = 0; hd = (0 + 0.01818 * 9,192 / 24,388) / 2.
    expect(self.hd).toBeCloseTo((0.45 * (1 - 0.9596) * 9192) / 24_388 / 2, 14);
    expect(bothPaths(sample, roll(sample, -7))).toMatchObject({ hdRaw: 0, rotation: -7, commonBits: 12_194 });
  });

  it('rejects malformed codes', () => {
    expect(() => packIrisCode({ code: new Uint8Array(10), mask: new Uint8Array(10) })).toThrow(
      expect.objectContaining({ code: 'invalid_iris_code' }),
    );
    expect(() => matchPacked(new Uint32Array(1024), new Uint32Array(512))).toThrow(
      expect.objectContaining({ code: 'invalid_iris_code' }),
    );
    const bad = emptyCode();
    bad.mask[3] = 7;
    expect(() => matchIrisCodesNaive(bad, emptyCode())).toThrow(/other than 0 or 1 at index 3/);
  });
});

describe.each([
  ['wasm', !wasmSimdSupported()],
  ['js', false],
] as const)('IrisGallery (%s engine)', (engine, skip) => {
  it.skipIf(skip)('finds what matchPacked finds, for every template, and grows past its capacity', () => {
    const random = seededRandom(5);
    const probe = randomCode(random);
    const gallery = new IrisGallery({ engine, capacity: 4 });
    expect(gallery.engine).toBe(engine);
    const templates: IrisCode[] = [];
    for (let i = 0; i < 60; i++) {
      const template =
        i % 10 === 3
          ? noisy(roll(probe, (i % 31) - 15), random, 0.05 * Math.floor(i / 10))
          : randomCode(random, [0.9, 0.5, 0.05][i % 3] as number, i % 4);
      templates.push(template);
      expect(gallery.add(i % 2 === 0 ? template : packIrisCode(template))).toBe(i);
    }
    // One template with no common bits at any shift.
    templates.push({ code: probe.code.slice(), mask: new Uint8Array(CODE_BITS) });
    gallery.add(templates[60] as IrisCode);
    expect(gallery.size).toBe(61);

    const hits = gallery.search(probe);
    expect(hits.length).toBe(60); // all but the one without common bits
    const packedProbe = packIrisCode(probe);
    for (const hit of hits) {
      const expected = matchPacked(packedProbe, packIrisCode(templates[hit.index] as IrisCode));
      expect(hit).toEqual({
        index: hit.index,
        hdRaw: expected.hdRaw,
        rotation: expected.rotation,
        commonBits: expected.commonBits,
      });
      expect(gallery.get(hit.index)).toEqual(packIrisCode(templates[hit.index] as IrisCode));
    }
    // Sorted by hdRaw, the planted genuine ones first (index 3 is an exact copy rolled by -12).
    for (let i = 1; i < hits.length; i++) {
      expect((hits[i - 1] as { hdRaw: number }).hdRaw).toBeLessThanOrEqual(
        (hits[i] as { hdRaw: number }).hdRaw,
      );
    }
    expect(hits[0]).toMatchObject({ index: 3, hdRaw: 0, rotation: -12 });
    const genuine = gallery.search(probe, { threshold: 0.345 });
    expect(genuine.map((hit) => hit.index).sort((a, b) => a - b)).toEqual([3, 13, 23, 33, 43, 53]);
    expect(gallery.search(probe, { threshold: 0.345, limit: 2 })).toEqual(genuine.slice(0, 2));
    expect(gallery.search(packedProbe, { limit: 1 })).toEqual([hits[0]]);
    expect(gallery.search(probe, { threshold: Number.POSITIVE_INFINITY })).toEqual(hits);
  });

  it.skipIf(skip)('searches a gallery bigger than one chunk (4,096 templates) and an empty one', () => {
    const random = seededRandom(6);
    const probe = randomCode(random);
    const gallery = new IrisGallery({ engine });
    expect(gallery.search(probe)).toEqual([]);
    const base = packIrisCode(randomCode(random));
    for (let i = 0; i < 5000; i++) gallery.add(base);
    gallery.add(packIrisCode(roll(probe, 9)));
    expect(gallery.search(probe, { threshold: 0.3 })).toEqual([
      { index: 5000, hdRaw: 0, rotation: 9, commonBits: probe.mask.reduce((sum, bit) => sum + bit, 0) },
    ]);
    expect(() => gallery.get(5001)).toThrow(RangeError);
  });
});

/** The parts written out per bit of the gallery (enrolled template) frame, the whole template last. */
interface OracleSpec {
  name: string;
  holds(row: number, column: number): boolean;
}
const ORACLE_PARTS: OracleSpec[] = [
  ...Array.from({ length: 8 }, (_, k) => ({
    // Sectors k .. k+3 (mod 8): columns 32k .. 32k + 127, wrapping.
    name: `half-ring-${45 * k}deg`,
    holds: (_row: number, column: number) => (column - 32 * k + 256) % 256 < 128,
  })),
  { name: 'inner-ring', holds: (row: number) => row < 8 },
  { name: 'outer-ring', holds: (row: number) => row >= 8 },
  { name: 'whole', holds: () => true },
];

interface OraclePart {
  name: string;
  hdRaw: number;
  rotation: number;
  commonBits: number;
}

/**
 * Brute force from the bits: for every shift and part, D and N over the gallery-frame cells the part holds
 * (probe column = gallery column - shift), then open-iris's strictly-better rule over the shifts with at
 * least `minCommon` common bits (the whole: 1). A part with no shift taken is undefined (the whole: HD 1).
 */
function oracleParts(probe: IrisCode, gallery: IrisCode, minCommon: number): Array<OraclePart | undefined> {
  const best = ORACLE_PARTS.map(() => ({ d: 1, n: 1, k: -1 }));
  SHIFT_ORDER.forEach((shift, k) => {
    const d = ORACLE_PARTS.map(() => 0);
    const n = ORACLE_PARTS.map(() => 0);
    for (let row = 0; row < CODE_ROWS; row++) {
      for (let column = 0; column < CODE_COLUMNS; column++) {
        const from = (column - shift + CODE_COLUMNS) % CODE_COLUMNS;
        for (let bit = 0; bit < 4; bit++) {
          const p = (row * CODE_COLUMNS + from) * 4 + bit;
          const g = (row * CODE_COLUMNS + column) * 4 + bit;
          if (probe.mask[p] !== 1 || gallery.mask[g] !== 1) continue;
          const differs = probe.code[p] !== gallery.code[g] ? 1 : 0;
          ORACLE_PARTS.forEach((part, i) => {
            if (part.holds(row, column)) {
              n[i] = (n[i] as number) + 1;
              d[i] = (d[i] as number) + differs;
            }
          });
        }
      }
    }
    best.forEach((b, i) => {
      const di = d[i] as number;
      const ni = n[i] as number;
      if (ni >= (i === ORACLE_PARTS.length - 1 ? 1 : minCommon) && di * b.n < b.d * ni) {
        b.d = di;
        b.n = ni;
        b.k = k;
      }
    });
  });
  return best.map((b, i) =>
    b.k < 0
      ? undefined
      : {
          name: (ORACLE_PARTS[i] as OracleSpec).name,
          hdRaw: b.d / b.n,
          rotation: SHIFT_ORDER[b.k] as number,
          commonBits: b.n,
        },
  );
}

/** The hit a search with `parts` should report for one template, from the oracle. */
function oracleHit(
  oracle: Array<OraclePart | undefined>,
  index: number,
  threshold: number,
  partThreshold: number,
): SearchHit | undefined {
  const whole = oracle.at(-1);
  if (whole && whole.hdRaw < threshold) {
    return { index, hdRaw: whole.hdRaw, rotation: whole.rotation, commonBits: whole.commonBits };
  }
  let best: (OraclePart & { partHd: number }) | undefined;
  for (const part of oracle.slice(0, -1)) {
    const partHd = part && partDistance(part.hdRaw, part.commonBits);
    if (part && partHd !== undefined && partHd < (best?.partHd ?? partThreshold)) best = { ...part, partHd };
  }
  return (
    best && {
      index,
      hdRaw: best.hdRaw,
      rotation: best.rotation,
      commonBits: best.commonBits,
      part: best.name,
      partHd: best.partHd,
    }
  );
}

/** `x` with its code replaced by random bits in columns [from, from + width) of every row. */
function covered(x: IrisCode, random: () => number, from: number, width: number, inverted = false): IrisCode {
  const code = x.code.slice();
  for (let r = 0; r < CODE_ROWS; r++) {
    for (let c = from; c < from + width; c++) {
      for (let bit = 0; bit < 4; bit++) {
        const i = (r * CODE_COLUMNS + (c % CODE_COLUMNS)) * 4 + bit;
        code[i] = inverted ? (code[i] as number) ^ 1 : random() < 0.5 ? 1 : 0;
      }
    }
  }
  return { code, mask: x.mask.slice() };
}

/**
 * The probe rolled by `shift` onto a template whose code agrees with it (but for `near` of its bits) in the
 * gallery-frame cells `holds` keeps, and for only 1 - `far` of them elsewhere.
 */
function plantedPart(
  probe: IrisCode,
  random: () => number,
  shift: number,
  holds: (row: number, column: number) => boolean,
  near = 0.02,
  far = 0.3,
): IrisCode {
  const out = roll(probe, shift);
  for (let row = 0; row < CODE_ROWS; row++) {
    for (let column = 0; column < CODE_COLUMNS; column++) {
      const flip = holds(row, column) ? near : far;
      for (let bit = 0; bit < 4; bit++) {
        const i = (row * CODE_COLUMNS + column) * 4 + bit;
        if (random() < flip) out.code[i] = (out.code[i] as number) ^ 1;
      }
    }
  }
  return out;
}

describe('parts in the enrolled template frame', () => {
  it('are the eight half rings and the two radial halves, eight groups each', () => {
    expect(PROBE_PARTS.map((p) => p.name)).toEqual(ORACLE_PARTS.slice(0, -1).map((p) => p.name));
    expect(PROBE_PARTS[0]).toMatchObject({ halves: [0, 1], sectors: [0, 1, 2, 3] });
    expect(PROBE_PARTS[6]).toMatchObject({ halves: [0, 1], sectors: [6, 7, 0, 1] });
    expect(PROBE_PARTS[8]).toMatchObject({
      name: 'inner-ring',
      halves: [0],
      sectors: [0, 1, 2, 3, 4, 5, 6, 7],
    });
    expect(PROBE_PARTS.map((p) => p.halves.length * p.sectors.length)).toEqual(PROBE_PARTS.map(() => 8));
    // The per-bit oracle's parts are these groups: whole sectors of 32 columns, whole halves of 8 rows.
    PROBE_PARTS.forEach((part, i) => {
      const holds = (ORACLE_PARTS[i] as OracleSpec).holds;
      for (let row = 0; row < CODE_ROWS; row++) {
        for (let column = 0; column < CODE_COLUMNS; column++) {
          const inGroups = part.halves.includes(row >> 3) && part.sectors.includes(column >> 5);
          expect(holds(row, column)).toBe(inGroups);
        }
      }
    });
  });

  it('leave a half ring clear of any patch under 135 degrees, a ring clear of one in a radial half', () => {
    // A patch of `width` columns, wherever the genuine shift puts it on the template's frame.
    for (let width = 1; width <= 96; width++) {
      for (let start = 0; start < CODE_COLUMNS; start++) {
        const hit = new Set(Array.from({ length: width }, (_, c) => ((start + c) % CODE_COLUMNS) >> 5));
        const clear = PROBE_PARTS.filter((p) => p.halves.length === 2 && p.sectors.every((j) => !hit.has(j)));
        expect(clear.length).toBeGreaterThan(0);
      }
    }
    for (const half of [0, 1]) {
      expect(PROBE_PARTS.filter((p) => !p.halves.includes(half)).map((p) => p.name)).toEqual([
        half === 0 ? 'outer-ring' : 'inner-ring',
      ]);
    }
  });

  it('match the per-bit oracle for every part, minimum and mask density', () => {
    const random = seededRandom(40);
    const probe = randomCode(random, 0.8, 2);
    const galleries = [
      noisy(roll(probe, 4), random, 0.1),
      plantedPart(probe, random, -9, (ORACLE_PARTS[3] as OracleSpec).holds),
      randomCode(random, 0.9, 3),
      randomCode(random, 0.05, 1), // sparse: few common bits, many shifts below the minimum
      { code: roll(probe, 2).code, mask: randomCode(random, 0.02, 0).mask },
    ];
    const packedProbe = packIrisCode(probe);
    for (const gallery of galleries) {
      for (const minCommon of [1, 40, 300, 1500]) {
        const oracle = oracleParts(probe, gallery, minCommon);
        const parts = partMatches(packedProbe, packIrisCode(gallery), minCommon);
        expect(
          parts.map(
            (p) => p && { name: p.part, hdRaw: p.hdRaw, rotation: p.rotation, commonBits: p.commonBits },
          ),
        ).toEqual(oracle.slice(0, -1));
        const whole = matchIrisCodesNaive(probe, gallery);
        const oracleWhole = oracle.at(-1);
        if (oracleWhole)
          expect(whole).toMatchObject({
            hdRaw: oracleWhole.hdRaw,
            rotation: oracleWhole.rotation,
            commonBits: oracleWhole.commonBits,
          });
        else expect(whole.hdRaw).toBe(1);
      }
    }
  });

  it('choose a part shift only among the shifts with enough common bits', () => {
    // Probe mask: columns 0 mod 4, and column 2. Template: the probe rolled by +5 (exact), masked on columns
    // 1 mod 4 and on column 2, where it holds the probe's own column 2. At shift 0 only column 2 lines up
    // (16 rows x 4 bits = 64 common bits, all agreeing); at +5 the 64 columns 0 mod 4 meet the 64
    // columns 1 mod 4 (4,096 bits, all agreeing; 2,048 in each half ring).
    const random = seededRandom(46);
    const probe = randomCode(random, 1, 0);
    const gallery = roll(probe, 5);
    probe.mask.fill(0);
    gallery.mask.fill(0);
    for (let row = 0; row < CODE_ROWS; row++) {
      for (let column = 0; column < CODE_COLUMNS; column++) {
        for (let bit = 0; bit < 4; bit++) {
          const i = (row * CODE_COLUMNS + column) * 4 + bit;
          if (column % 4 === 0 || column === 2) probe.mask[i] = 1;
          if (column % 4 === 1 || column === 2) gallery.mask[i] = 1;
          if (column === 2) gallery.code[i] = probe.code[i] as number;
        }
      }
    }
    const p = packIrisCode(probe);
    const g = packIrisCode(gallery);
    // The whole takes shift 0 (HD 0 first in open-iris's order, on 64 bits).
    expect(matchPacked(p, g)).toMatchObject({ hdRaw: 0, rotation: 0, commonBits: 64 });
    // Without a minimum the half ring at 0 degrees (sectors 0-3, holding column 2) does the same, and would
    // have been dropped for its 64 bits; with 1,500 it skips shift 0 and takes +5.
    expect(partMatches(p, g, 1)[0]).toMatchObject({
      part: 'half-ring-0deg',
      hdRaw: 0,
      rotation: 0,
      commonBits: 64,
    });
    expect(partMatches(p, g, 1500)[0]).toMatchObject({ hdRaw: 0, rotation: 5, commonBits: 2048 });
    expect(matchParts(p, g, 1500)).toMatchObject({
      part: 'half-ring-0deg',
      hdRaw: 0,
      rotation: 5,
      commonBits: 2048,
    });
    expect(oracleParts(probe, gallery, 1500)[0]).toEqual({
      name: 'half-ring-0deg',
      hdRaw: 0,
      rotation: 5,
      commonBits: 2048,
    });
    for (const engine of ['wasm', 'js'] as const) {
      if (engine === 'wasm' && !wasmSimdSupported()) continue;
      const search = new IrisGallery({ engine });
      search.add(g);
      expect(search.search(p)).toEqual([{ index: 0, hdRaw: 0, rotation: 0, commonBits: 64 }]);
      expect(search.search(p, { threshold: 0, parts: DEFAULT_PART_MATCH })).toEqual([
        {
          index: 0,
          hdRaw: 0,
          rotation: 5,
          commonBits: 2048,
          part: 'half-ring-0deg',
          partHd: partDistance(0, 2048),
        },
      ]);
    }
  });

  it.skipIf(!wasmSimdSupported())('give the same hits in both engines, the reference and the oracle', () => {
    const random = seededRandom(47);
    const probe = randomCode(random, 0.85, 2);
    const packedProbe = packIrisCode(probe);
    const templates: IrisCode[] = [];
    for (let i = 0; i < 90; i++) {
      if (i % 9 === 4) {
        // One template per part (i = 9p + 4) that part p matches best, at a shift of its own.
        const part = ORACLE_PARTS[(i / 9) | 0] as OracleSpec;
        templates.push(plantedPart(probe, random, (i % 31) - 15, part.holds));
      } else if (i % 9 === 7) {
        templates.push(noisy(roll(probe, (i % 23) - 11), random, 0.15 + 0.02 * (i % 5)));
      } else {
        templates.push(randomCode(random, [0.9, 0.6, 0.1, 0.03, 0.01][i % 5] as number, i % 4));
      }
    }
    const engines = (['wasm', 'js'] as const).map((engine) => {
      const gallery = new IrisGallery({ engine });
      for (const t of templates) gallery.add(t);
      return gallery;
    }) as [IrisGallery, IrisGallery];
    const packed = templates.map(packIrisCode);
    const optionSets = [
      { threshold: 0, parts: { threshold: 1, minCommonBits: 1 } },
      { threshold: 0, parts: { threshold: 0.45, minCommonBits: 300 } },
      { threshold: 0.3, parts: DEFAULT_PART_MATCH },
      { threshold: 0.45, parts: { threshold: 0.4, minCommonBits: 50 } },
      { threshold: 1 },
    ];
    for (const options of optionSets) {
      const [wasmHits, jsHits] = engines.map((gallery) => gallery.search(packedProbe, options));
      expect(wasmHits).toEqual(jsHits);
      // Every template, from the TypeScript reference.
      const minCommon = options.parts?.minCommonBits ?? 1;
      const expected: SearchHit[] = [];
      packed.forEach((template, index) => {
        const whole = matchPacked(packedProbe, template);
        if (whole.hdRaw < options.threshold) {
          expected.push({
            index,
            hdRaw: whole.hdRaw,
            rotation: whole.rotation,
            commonBits: whole.commonBits,
          });
          return;
        }
        const part = options.parts && matchParts(packedProbe, template, minCommon);
        if (part && options.parts && part.partHd < options.parts.threshold) {
          const { hdRaw, rotation, commonBits, partHd } = part;
          expected.push({ index, hdRaw, rotation, commonBits, part: part.part, partHd });
        }
      });
      expected.sort((a, b) => a.hdRaw - b.hdRaw || a.index - b.index);
      expect(wasmHits).toEqual(expected);
    }
    // The planted templates are found by their own part, at their own shift.
    const byIndex = new Map(
      engines[0].search(packedProbe, { threshold: 0, parts: DEFAULT_PART_MATCH }).map((h) => [h.index, h]),
    );
    for (let p = 0; p < PROBE_PARTS.length; p++) {
      const index = 9 * p + 4;
      expect(byIndex.get(index)).toMatchObject({ part: PROBE_PARTS[p]?.name, rotation: (index % 31) - 15 });
    }
    // A few templates (planted, genuine, dense, sparse) against the per-bit oracle.
    const hits = engines[0].search(packedProbe, {
      threshold: 0.2,
      parts: { threshold: 1, minCommonBits: 300 },
    });
    for (const index of [4, 13, 40, 58, 7, 2, 3]) {
      const oracle = oracleParts(probe, templates[index] as IrisCode, 300);
      expect(hits.find((h) => h.index === index)).toEqual(oracleHit(oracle, index, 0.2, 1));
    }
  });
});

describe('part matching (occlusion-tolerant search)', () => {
  it('finds an eye whose code is 40% covered (even inverted there) by the part left clear', () => {
    const random = seededRandom(42);
    const enrolled = randomCode(random);
    const gallery = new IrisGallery();
    for (let k = 0; k < 200; k++) gallery.add(randomCode(random));
    const index = gallery.add(enrolled);
    const probe = covered(noisy(enrolled, random, 0.1), random, 30, 102, true);
    // The whole probe misses: 40% of its bits disagree on purpose.
    expect(matchIrisCodes(probe, enrolled).hdRaw).toBeGreaterThan(DEFAULT_MATCH_THRESHOLD);
    expect(gallery.search(probe, { threshold: DEFAULT_MATCH_THRESHOLD })).toEqual([]);
    const hits = gallery.search(probe, { threshold: DEFAULT_MATCH_THRESHOLD, parts: DEFAULT_PART_MATCH });
    expect(hits.map((h) => h.index)).toEqual([index]);
    expect(hits[0]?.part).toMatch(/^half-ring-/);
    expect(hits[0]?.partHd).toBeLessThan(DEFAULT_PART_MATCH.threshold);
    const pair = matchParts(packIrisCode(probe), packIrisCode(enrolled), DEFAULT_PART_MATCH.minCommonBits);
    expect(hits[0]).toEqual({
      index,
      hdRaw: pair?.hdRaw,
      rotation: pair?.rotation,
      commonBits: pair?.commonBits,
      part: pair?.part,
      partHd: pair?.partHd,
    });
  });

  it('keeps the whole-template hit when both match, and finds no impostor by parts', () => {
    const random = seededRandom(43);
    const enrolled = randomCode(random);
    const gallery = new IrisGallery();
    for (let k = 0; k < 300; k++) gallery.add(randomCode(random));
    const index = gallery.add(enrolled);
    const hits = gallery.search(noisy(enrolled, random, 0.1), {
      threshold: DEFAULT_MATCH_THRESHOLD,
      parts: DEFAULT_PART_MATCH,
    });
    expect(hits).toHaveLength(1);
    expect(hits[0]?.index).toBe(index);
    expect(hits[0]?.part).toBeUndefined();
    const stranger = randomCode(random);
    expect(
      gallery.search(stranger, { threshold: DEFAULT_MATCH_THRESHOLD, parts: DEFAULT_PART_MATCH }),
    ).toEqual([]);
  });

  it('does not count a part with too few common bits', () => {
    const random = seededRandom(44);
    const enrolled = randomCode(random, 1, 0);
    // A probe whose mask is set only in 8 columns: every part has far fewer than 1,500 common bits.
    const probe = covered(enrolled, random, 0, 0);
    probe.mask.fill(0);
    for (let r = 0; r < CODE_ROWS; r++)
      for (let c = 0; c < 8; c++) for (let b = 0; b < 4; b++) probe.mask[(r * CODE_COLUMNS + c) * 4 + b] = 1;
    expect(
      matchParts(packIrisCode(probe), packIrisCode(enrolled), DEFAULT_PART_MATCH.minCommonBits),
    ).toBeUndefined();
    const gallery = new IrisGallery();
    gallery.add(enrolled);
    expect(gallery.search(probe, { threshold: 0, parts: DEFAULT_PART_MATCH })).toEqual([]);
  });

  it('holds a part with few bits to a stricter raw distance than a part with many', () => {
    // The enrolled eye, fully visible; each probe shows it only over columns 0-127 (the half ring at 0
    // degrees), with a fixed share of its bits flipped, and a stranger's iris over columns 128-255.
    const random = seededRandom(48);
    const enrolled = randomCode(random, 1, 0);
    const stranger = randomCode(random, 1, 0);
    const probe = (rows: number, flipped: (i: number) => boolean): IrisCode => {
      const out = { code: stranger.code.slice(), mask: stranger.mask.slice() };
      for (let r = 0; r < CODE_ROWS; r++) {
        for (let c = 0; c < CODE_COLUMNS / 2; c++) {
          for (let bit = 0; bit < 4; bit++) {
            const i = (r * CODE_COLUMNS + c) * 4 + bit;
            out.code[i] = (enrolled.code[i] as number) ^ (flipped(i) ? 1 : 0);
            out.mask[i] = r < rows ? 1 : 0;
          }
        }
      }
      return out;
    };
    const gallery = new IrisGallery();
    gallery.add(enrolled);
    const search = (p: IrisCode) =>
      gallery.search(p, { threshold: DEFAULT_MATCH_THRESHOLD, parts: DEFAULT_PART_MATCH });
    // 1,536 common bits at a raw 0.25: under the raw 0.30 of old, but 0.297 on the common scale.
    const fewBits = probe(3, (i) => i % 4 === 0);
    const few = search(fewBits);
    expect(matchParts(packIrisCode(fewBits), packIrisCode(enrolled), 1500)).toMatchObject({
      part: 'half-ring-0deg',
      hdRaw: 0.25,
      commonBits: 1536,
    });
    expect(partDistance(0.25, 1536)).toBeGreaterThan(DEFAULT_PART_MATCH.threshold);
    expect(few).toEqual([]);
    // 8,192 common bits at a raw 0.3125, over the raw 0.30 of old: 0.245 on the common scale, a duplicate.
    const many = search(probe(CODE_ROWS, (i) => i % 16 < 5));
    expect(many).toEqual([
      {
        index: 0,
        hdRaw: 0.3125,
        rotation: 0,
        commonBits: 8192,
        part: 'half-ring-0deg',
        partHd: partDistance(0.3125, 8192),
      },
    ]);
    expect(partDistance(0.3125, 8192)).toBeCloseTo(0.245, 3);
    // At 3,000 bits the common scale is the raw distance.
    expect(partDistance(0.28, PART_NORM_BITS)).toBeCloseTo(0.28, 12);
  });

  it('recognises a person only when every part agrees, not by a patch showing their iris', () => {
    const random = seededRandom(45);
    const victim = randomCode(random, 0.95, 0);
    const genuine = packIrisCode(noisy(victim, random, 0.08));
    expect(recognises(genuine, packIrisCode(victim))).toBe(true);
    // An attacker whose iris shows the victim's bits over 45% of the columns: the whole distance falls under
    // the threshold, the half ring clear of the patch does not.
    const attacker = randomCode(random, 0.95, 0);
    const code = attacker.code.slice();
    for (let r = 0; r < CODE_ROWS; r++) {
      for (let c = 0; c < 116; c++) {
        for (let bit = 0; bit < 4; bit++) {
          const i = (r * CODE_COLUMNS + c) * 4 + bit;
          code[i] = random() < 0.04 ? (victim.code[i] as number) ^ 1 : (victim.code[i] as number);
        }
      }
    }
    const patched = packIrisCode({ code, mask: attacker.mask });
    expect(matchPacked(patched, packIrisCode(victim)).hdRaw).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
    expect(worstPartHd(patched, packIrisCode(victim), DEFAULT_PART_MATCH.minCommonBits)).toBeGreaterThan(0.4);
    expect(recognises(patched, packIrisCode(victim))).toBe(false);
  });

  it('lets a part with fewer bits than the duplicate search needs veto a recognition', () => {
    const random = seededRandom(46);
    const victim = randomCode(random, 0.95, 0);
    // The victim's iris over columns 16-115, nothing usable over 0-15 and 116-131 (no shift brings the
    // patch into the half ring beyond), and only rows 0-1 of the wearer's own iris over 132-255: the half
    // ring there holds about 1,000 common bits, under the duplicate search's 1,500.
    const attacker = randomCode(random, 0.95, 0);
    const code = attacker.code.slice();
    const mask = attacker.mask.slice();
    for (let r = 0; r < CODE_ROWS; r++) {
      for (let c = 0; c < CODE_COLUMNS; c++) {
        for (let bit = 0; bit < 4; bit++) {
          const i = (r * CODE_COLUMNS + c) * 4 + bit;
          if (c >= 16 && c < 116) code[i] = victim.code[i] as number;
          else if (c < 132 || r >= 2) mask[i] = 0;
        }
      }
    }
    const patched = packIrisCode({ code, mask });
    const enrolled = packIrisCode(victim);
    expect(matchPacked(patched, enrolled).hdRaw).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
    expect(worstPartHd(patched, enrolled, DEFAULT_PART_MATCH.minCommonBits)).toBeLessThan(
      DEFAULT_MATCH_THRESHOLD,
    );
    expect(worstPartHd(patched, enrolled, RECOGNITION_PART_BITS)).toBeGreaterThan(0.4);
    expect(recognises(patched, enrolled)).toBe(false);
  });
});

describe('the screen of the pre-rolled windows', () => {
  it('counts at every third shift, and all 31 only for the templates that pass', () => {
    expect(SCREEN_SHIFTS).toEqual([0, -3, 3, -6, 6, -9, 9, -12, 12, -15, 15]);
    const random = seededRandom(49);
    const probe = randomCode(random, 0.9, 0);
    const half = ORACLE_PARTS[2] as OracleSpec;
    const templates = [
      // On the screen's grid: found, at the full search's shift.
      noisy(roll(probe, 9), random, 0.1),
      // A column off the grid: random codes decorrelate within one column, so the screen drops it.
      noisy(roll(probe, 10), random, 0.1),
      // Only a half ring matches (the rest disagrees), on the grid: found by the part.
      plantedPart(probe, random, -12, half.holds, 0.05, 0.9),
      plantedPart(probe, random, -13, half.holds, 0.05, 0.9),
      ...Array.from({ length: 40 }, () => randomCode(random)),
    ];
    for (const engine of ['wasm', 'js'] as const) {
      if (engine === 'wasm' && !wasmSimdSupported()) continue;
      const gallery = new IrisGallery({ engine });
      for (const t of templates) gallery.add(t);
      const options = { threshold: DEFAULT_MATCH_THRESHOLD, parts: DEFAULT_PART_MATCH };
      const full = gallery.search(probe, options);
      expect(full.map((h) => h.index).sort()).toEqual([0, 1, 2, 3]);
      expect(full.find((h) => h.index === 2)).toMatchObject({ part: half.name, rotation: -12 });
      const screened = gallery.search(probe, { ...options, screen: UNIQUENESS_SCREEN });
      expect(screened).toEqual(full.filter((h) => h.index === 0 || h.index === 2));
      expect(gallery.search(probe, { ...options, screen: UNIQUENESS_SCREEN, from: 1 })).toEqual(
        full.filter((h) => h.index === 2),
      );
    }
    // duplicateDistances screens every pre-roll the same way: 9 and 9 + 31 columns are found, 10 and
    // 10 + 31 are not (no roll passes the screen: what it reports is the screen's grid, a column off), and
    // the part on the grid is.
    const eye = packIrisCode(probe);
    for (const extra of [0, 31]) {
      const onGrid = rotatePacked(packIrisCode(templates[0] as IrisCode), extra);
      expect(duplicateDistances(onGrid, eye).duplicate, `${extra}`).toBe(true);
      const offGrid = duplicateDistances(rotatePacked(packIrisCode(templates[1] as IrisCode), extra), eye);
      expect(offGrid.duplicate, `${extra}`).toBe(false);
      expect(offGrid.wholeHd, `${extra}`).toBeGreaterThan(0.45);
      expect(offGrid.partHd, `${extra}`).toBeGreaterThan(UNIQUENESS_SCREEN.partThreshold);
      expect(offGrid.partHd, `${extra}`).toBeLessThan(1);
    }
    expect(duplicateDistances(eye, packIrisCode(templates[2] as IrisCode)).duplicate).toBe(true);
    expect(duplicateDistances(eye, packIrisCode(templates[3] as IrisCode)).duplicate).toBe(false);
  });
});

describe('the duplicate search', () => {
  it('finds an eye rolled by up to 46 columns, which one search and recognition do not', () => {
    expect(UNIQUENESS_ROLLS).toEqual([0, -ROTATIONS, ROTATIONS]);
    const eye = packIrisCode(randomCode(seededRandom(7)));
    for (const columns of [16, -16, 31, 40, -46, 46]) {
      const rolled = rotatePacked(eye, columns);
      expect(matchPacked(rolled, eye).hdRaw, `${columns}`).toBeGreaterThan(0.4);
      expect(recognises(rolled, eye)).toBe(false);
      expect(duplicateDistances(rolled, eye), `${columns}`).toMatchObject({ wholeHd: 0, duplicate: true });
    }
    const self = duplicateDistances(eye, eye);
    expect(self).toMatchObject({ wholeHd: 0, duplicate: true });
    expect(self.partHd).toBeLessThan(0);
    // Past the last pre-roll's window nothing lines them up.
    for (const columns of [47, -47]) {
      const far = duplicateDistances(rotatePacked(eye, columns), eye);
      expect(far.duplicate).toBe(false);
      expect(far.wholeHd).toBeGreaterThan(0.4);
    }
  });
});
