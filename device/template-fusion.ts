/**
 * Multi-frame fusion: one iris code from the codes of several frames of the same eye. Each code is rolled
 * onto the reference (the frame with the most usable bits) at the shift where it matches best, then every
 * bit is a majority vote of the frames that see it. A bit is kept only where more than half the frames see
 * it and they do not tie: a bit that flips between frames of the same eye (a "fragile" bit, near a
 * filter's zero crossing) carries noise, not identity, and is masked. The fused code is what the signup
 * carries; its genuine distance to a later capture is lower than any single frame's.
 */

import { matchPacked, packIrisCode, rotatePacked, unpackIrisCode } from '../iris/matcher.ts';
import { CODE_BITS, type IrisCode, usableBits } from '../protocol/iris-code-layout.ts';

export interface FusedCode {
  code: IrisCode;
  /** The shift each input was rolled by (0 for the reference), in input order. */
  shifts: number[];
  /** Index of the reference input. */
  reference: number;
}

export function fuseIrisCodes(codes: readonly IrisCode[]): FusedCode {
  if (codes.length === 0) throw new RangeError('fusion needs at least one code');
  let reference = 0;
  codes.forEach((code, i) => {
    if (usableBits(code) > usableBits(codes[reference] as IrisCode)) reference = i;
  });
  const referencePacked = packIrisCode(codes[reference] as IrisCode);
  const shifts: number[] = [];
  const aligned = codes.map((code, i) => {
    if (i === reference) {
      shifts.push(0);
      return code;
    }
    const packed = packIrisCode(code);
    const { rotation } = matchPacked(packed, referencePacked);
    shifts.push(rotation);
    return unpackIrisCode(rotatePacked(packed, rotation));
  });
  const code = new Uint8Array(CODE_BITS);
  const mask = new Uint8Array(CODE_BITS);
  const n = aligned.length;
  for (let bit = 0; bit < CODE_BITS; bit++) {
    let seen = 0;
    let ones = 0;
    for (const frame of aligned) {
      if (frame.mask[bit] === 1) {
        seen += 1;
        ones += frame.code[bit] as number;
      }
    }
    if (2 * seen > n && 2 * ones !== seen) {
      mask[bit] = 1;
      code[bit] = 2 * ones > seen ? 1 : 0;
    }
  }
  return { code: { code, mask }, shifts, reference };
}
