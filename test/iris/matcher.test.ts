import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MATCH_THRESHOLD,
  DEFAULT_PART_MATCH,
  IrisGallery,
  type MatchResult,
  matchIrisCodes,
  matchIrisCodesNaive,
  matchPacked,
  matchParts,
  normalizedHd,
  PROBE_PARTS,
  packIrisCode,
  probePart,
  ROTATIONS,
  recognises,
  rotatePacked,
  SHIFT_ORDER,
  shiftScore,
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

describe('part matching (occlusion-tolerant search)', () => {
  /** `x` with its code replaced by random bits in columns [from, from + width) of every row. */
  function covered(
    x: IrisCode,
    random: () => number,
    from: number,
    width: number,
    inverted = false,
  ): IrisCode {
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

  it('a part keeps only its own mask bits, the code untouched', () => {
    const random = seededRandom(41);
    const x = packIrisCode(randomCode(random, 1, 0));
    const kept = PROBE_PARTS.map((_, k) => {
      const part = probePart(x, k);
      expect(part.subarray(0, 512)).toEqual(x.subarray(0, 512));
      return unpackIrisCode(part).mask.reduce((s, b) => s + b, 0);
    });
    // Half rings and radial halves each keep half of a full mask.
    expect(kept).toEqual(PROBE_PARTS.map(() => CODE_BITS / 2));
    // The half ring at 0 degrees keeps columns 0-127, the inner ring rows 0-7.
    const half = unpackIrisCode(probePart(x, 0)).mask;
    expect(half[(3 * CODE_COLUMNS + 127) * 4]).toBe(1);
    expect(half[(3 * CODE_COLUMNS + 128) * 4]).toBe(0);
    const inner = unpackIrisCode(
      probePart(
        x,
        PROBE_PARTS.findIndex((p) => p.name === 'inner-ring'),
      ),
    ).mask;
    expect(inner[(7 * CODE_COLUMNS + 5) * 4]).toBe(1);
    expect(inner[(8 * CODE_COLUMNS + 5) * 4]).toBe(0);
    expect(() => probePart(x, PROBE_PARTS.length)).toThrow(RangeError);
  });

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
    expect(hits[0]?.hdRaw).toBeLessThan(DEFAULT_PART_MATCH.threshold);
    const pair = matchParts(packIrisCode(probe), packIrisCode(enrolled), DEFAULT_PART_MATCH.minCommonBits);
    expect(pair?.hdRaw).toBeCloseTo(hits[0]?.hdRaw as number, 10);
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
});
