/**
 * Multi-frame fusion (device/template-fusion.ts): noisy, rotated captures of one random iris code are rolled
 * onto the reference and voted bit by bit; the fused code is closer to the truth than any capture, and the
 * bits the captures do not agree on (or that too few of them see) are masked.
 */
import { describe, expect, it } from 'vitest';
import { fuseIrisCodes } from '../../device/template-fusion.ts';
import { matchIrisCodes, packIrisCode, rotatePacked, unpackIrisCode } from '../../iris/matcher.ts';
import { seededUint32 } from '../../iris/seeded-random.ts';
import { CODE_BITS, codeBitIndex, type IrisCode } from '../../protocol/iris-code-layout.ts';

/** A random code with every bit usable. */
function randomCode(seed: number): IrisCode {
  const next = seededUint32(seed);
  const code = new Uint8Array(CODE_BITS);
  for (let i = 0; i < CODE_BITS; i++) code[i] = next() & 1;
  return { code, mask: new Uint8Array(CODE_BITS).fill(1) };
}

/** The code captured again: `flip` of its bits flipped and `hide` of them masked, independently. */
function noisy(truth: IrisCode, seed: number, flip: number, hide = 0): IrisCode {
  const next = seededUint32(seed);
  const code = Uint8Array.from(truth.code);
  const mask = Uint8Array.from(truth.mask);
  for (let i = 0; i < CODE_BITS; i++) {
    if (next() / 2 ** 32 < flip) code[i] = (code[i] as number) ^ 1;
    if (next() / 2 ** 32 < hide) mask[i] = 0;
  }
  return { code, mask };
}

/** np.roll by `shift` columns (code and mask), as the matcher defines rotation. */
const roll = (code: IrisCode, shift: number): IrisCode =>
  unpackIrisCode(rotatePacked(packIrisCode(code), shift));

const usable = (code: IrisCode) => code.mask.reduce((sum, bit) => sum + bit, 0);

/** Bits where both are usable and differ, counted in place (no rotation search), over the common bits. */
function distanceInPlace(a: IrisCode, b: IrisCode): number {
  let common = 0;
  let differ = 0;
  for (let i = 0; i < CODE_BITS; i++) {
    if (a.mask[i] === 1 && b.mask[i] === 1) {
      common++;
      if (a.code[i] !== b.code[i]) differ++;
    }
  }
  return differ / common;
}

describe('fuseIrisCodes', () => {
  const truth = randomCode(20_240_601);
  // Copy 1 sees every bit (the reference: most usable bits); the others lose 3% to the mask.
  const rotations = [-4, 3, 9];
  const captures = [
    roll(noisy(truth, 1, 0.15, 0.03), rotations[0] as number),
    roll(noisy(truth, 2, 0.15), rotations[1] as number),
    roll(noisy(truth, 3, 0.15, 0.03), rotations[2] as number),
  ];

  it('takes the capture with the most usable bits as the reference, and the shifts undo the rotations', () => {
    const fused = fuseIrisCodes(captures);
    expect(fused.reference).toBe(1);
    const reference = rotations[1] as number;
    // Capture i rolled by shifts[i] lines up with the reference, which is the truth rolled by its rotation.
    expect(fused.shifts).toEqual(rotations.map((r) => reference - r));
    const truthInReferenceFrame = roll(truth, reference);
    captures.forEach((capture, i) => {
      const aligned = roll(capture, fused.shifts[i] as number);
      expect(distanceInPlace(aligned, truthInReferenceFrame)).toBeLessThan(0.2);
      // Left where it was, the capture is as far from the truth as another eye.
      if (fused.shifts[i] !== 0) expect(distanceInPlace(capture, truthInReferenceFrame)).toBeGreaterThan(0.4);
    });
  });

  it('fuses into a code closer to the truth than every capture', () => {
    const fused = fuseIrisCodes(captures);
    const single = captures.map((capture) => matchIrisCodes(capture, truth).hdRaw);
    for (const hd of single) expect(hd).toBeGreaterThan(0.12);
    const fusedHd = matchIrisCodes(fused.code, truth);
    // A majority of three 15%-noisy votes is wrong where two or three flipped: about 6%.
    expect(fusedHd.hdRaw).toBeLessThan(0.09);
    expect(fusedHd.hdRaw).toBeLessThan(Math.min(...single) / 1.5);
    // In the reference's frame: matching the truth needs the reference's rotation undone.
    expect(fusedHd.rotation).toBe(-(rotations[1] as number));
    expect(distanceInPlace(fused.code, roll(truth, rotations[1] as number))).toBeCloseTo(fusedHd.hdRaw, 10);
    // Most bits survive: three copies always out-vote each other where all three see the bit.
    expect(usable(fused.code)).toBeGreaterThan(0.95 * CODE_BITS);
  });

  it('masks bits the captures disagree on or too few of them see, and votes the rest', () => {
    const base = randomCode(77);
    const copies = [0, 1, 2, 3].map(() => ({
      code: Uint8Array.from(base.code),
      mask: Uint8Array.from(base.mask),
    }));
    const [a, b, c, d] = copies as [IrisCode, IrisCode, IrisCode, IrisCode];
    const bit = (row: number, column: number) => codeBitIndex(row, column, 0, 0);
    // Two against two: a tie.
    const tie = bit(2, 10);
    a.code[tie] = 1;
    b.code[tie] = 1;
    c.code[tie] = 0;
    d.code[tie] = 0;
    // Three against one: the three win.
    const outvoted = bit(3, 20);
    a.code[outvoted] = 1;
    b.code[outvoted] = 0;
    c.code[outvoted] = 0;
    d.code[outvoted] = 0;
    // Seen by two of four: not more than half of them.
    const halfSeen = bit(4, 30);
    c.mask[halfSeen] = 0;
    d.mask[halfSeen] = 0;
    // Seen by three, two of which agree against the third: kept, by the two.
    const threeSeen = bit(5, 40);
    d.mask[threeSeen] = 0;
    a.code[threeSeen] = 1;
    b.code[threeSeen] = 1;
    c.code[threeSeen] = 0;
    const fused = fuseIrisCodes(copies);
    expect(fused.shifts).toEqual([0, 0, 0, 0]);
    expect(fused.code.mask[tie]).toBe(0);
    expect(fused.code.mask[halfSeen]).toBe(0);
    expect(fused.code.mask[outvoted]).toBe(1);
    expect(fused.code.code[outvoted]).toBe(0);
    expect(fused.code.mask[threeSeen]).toBe(1);
    expect(fused.code.code[threeSeen]).toBe(1);
    // Everything else is the base code, fully usable.
    expect(usable(fused.code)).toBe(CODE_BITS - 2);
    for (let i = 0; i < CODE_BITS; i++) {
      if (fused.code.mask[i] === 1 && i !== outvoted && i !== threeSeen) {
        expect(fused.code.code[i]).toBe(base.code[i]);
      }
    }
  });

  it('keeps a bit two of three captures see only where the two agree', () => {
    const base = randomCode(78);
    const copies = [0, 1, 2].map(() => ({
      code: Uint8Array.from(base.code),
      mask: Uint8Array.from(base.mask),
    }));
    const [a, b, c] = copies as [IrisCode, IrisCode, IrisCode];
    const disagree = codeBitIndex(6, 50, 1, 0);
    c.mask[disagree] = 0;
    a.code[disagree] = 1;
    b.code[disagree] = 0;
    const agree = codeBitIndex(7, 60, 1, 1);
    c.mask[agree] = 0;
    a.code[agree] = 1;
    b.code[agree] = 1;
    c.code[agree] = 0; // hidden: its vote does not count
    const seenOnce = codeBitIndex(8, 70, 0, 1);
    b.mask[seenOnce] = 0;
    c.mask[seenOnce] = 0;
    const fused = fuseIrisCodes(copies);
    expect(fused.code.mask[disagree]).toBe(0);
    expect(fused.code.mask[agree]).toBe(1);
    expect(fused.code.code[agree]).toBe(1);
    expect(fused.code.mask[seenOnce]).toBe(0);
    expect(usable(fused.code)).toBe(CODE_BITS - 2);
  });

  it('masks a bit no capture sees, and never votes it to 1', () => {
    const base = randomCode(5);
    const hidden = codeBitIndex(0, 0, 1, 1);
    base.code[hidden] = 1;
    base.mask[hidden] = 0;
    const fused = fuseIrisCodes([base, base, base]);
    expect(fused.code.mask[hidden]).toBe(0);
    expect(fused.code.code[hidden]).toBe(0);
  });

  it('fuses a single code to itself', () => {
    const only = noisy(randomCode(9), 10, 0, 0.1);
    // Under its mask a code may hold anything; the fused code holds 0 there.
    for (let i = 0; i < CODE_BITS; i++) if (only.mask[i] === 0) only.code[i] = 0;
    const fused = fuseIrisCodes([only]);
    expect(fused).toEqual({ code: only, shifts: [0], reference: 0 });
  });

  it('refuses an empty list', () => {
    expect(() => fuseIrisCodes([])).toThrow(RangeError);
    expect(() => fuseIrisCodes([])).toThrow('at least one code');
  });
});
