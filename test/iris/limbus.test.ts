/**
 * Limbus fit: cases from the synthetic dev set where the single-hypothesis search used to lock onto the
 * wrong ring (a texture ring or a ring outside the iris) while the pupil was right. The iris centre error
 * plus the radius error must now stay within 5 px. And a pupil whose fit came out elliptical (something dark
 * against it: a patch, a lash) must not force its shape on a round limbus.
 */
import { describe, expect, it } from 'vitest';
import { binomialBlur } from '../../iris/segmentation/image-ops.ts';
import { segmentEye } from '../../iris/segmentation/index.ts';
import { findIris } from '../../iris/segmentation/iris-boundary.ts';
import { specularMask } from '../../iris/segmentation/specular.ts';
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

describe('limbus under a distorted pupil fit', () => {
  it('fits a round limbus round although the pupil fit is elliptical', () => {
    for (const id of [0, 1, 2]) {
      const identity = identityOf(SEED, id);
      const { image, truth } = generateEye({ identity, session: sessionOf(SEED, identity, 0) });
      expect(truth.iris.b / truth.iris.a).toBeGreaterThan(0.97);
      // The true pupil, stretched to axes in a ratio of 0.87 at 40 degrees (the shape the search would copy).
      const r = truth.pupil.r;
      const pupil = { cx: truth.pupil.x, cy: truth.pupil.y, a: 1.04 * r, b: 0.905 * r, theta: -0.7 };
      const fit = findIris(
        binomialBlur(image.data, image.width, image.height),
        specularMask(image, 2).mask,
        pupil,
        0.75 * Math.min(image.width, image.height),
      );
      if (!fit) throw new Error(`no limbus for id ${id}`);
      const e = fit.ellipse;
      expect(e.b / e.a, `id ${id}`).toBeGreaterThan(0.97);
      expect(Math.hypot(e.cx - truth.iris.x, e.cy - truth.iris.y), `id ${id}`).toBeLessThan(3);
      expect(Math.abs(e.a - truth.iris.r), `id ${id}`).toBeLessThan(3);
    }
  });
});
