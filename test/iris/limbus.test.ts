/**
 * Limbus fit: cases from the synthetic dev set where the single-hypothesis search used to lock onto the
 * wrong ring (a texture ring or a ring outside the iris) while the pupil was right. The iris centre error
 * plus the radius error must now stay within 5 px.
 */
import { describe, expect, it } from 'vitest';
import { segmentEye } from '../../iris/segmentation/index.ts';
import { generateEye, identityOf, sessionOf } from '../../iris/synth/generate.ts';

const SEED = 'final2-2026-11-22';

describe('limbus hypotheses', () => {
  // [identity, session]: id0019_s2 (was 32 px off centre, +19 px radius), id0134_s0 (-51 px radius),
  // id0058_s2 (10 px off centre).
  const cases: Array<[number, number]> = [
    [19, 2],
    [134, 0],
    [58, 2],
  ];
  for (const [id, s] of cases) {
    it(`fits the limbus of id${String(id).padStart(4, '0')}_s${s} within 5 px`, () => {
      const identity = identityOf(SEED, id);
      const { image, truth } = generateEye({ identity, session: sessionOf(SEED, identity, s) });
      const seg = segmentEye(image);
      const err =
        Math.hypot(seg.iris.x - truth.iris.x, seg.iris.y - truth.iris.y) +
        Math.abs(seg.iris.r - truth.iris.r);
      expect(err).toBeLessThan(5);
    });
  }
});
