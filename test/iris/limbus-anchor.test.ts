/**
 * The limbus-anchor check (iris/pad/limbus-anchor.ts) on synthetic reflex captures of train:pad's seed: a
 * live eye's texture stands still at its fitted limbus; a smooth ring the grey of the sclera, painted over
 * the outer iris and the limbus in both frames (a sticker on the cornea), makes the segmentation fit its
 * inner edge, and the texture there moves with the pupil; two frames whose limbus fits disagree are refused
 * too.
 */
import { describe, expect, it } from 'vitest';
import { renderReflexExtremes, syntheticSchedule } from '../../iris/attacks/reflex-capture.ts';
import {
  EDGE_MOTION_LIMIT_PX,
  LIMBUS_DRIFT_LIMIT,
  LIMBUS_MISFIT_REASON,
  limbusAnchored,
} from '../../iris/pad/limbus-anchor.ts';
import { motionReasons, textureMotion } from '../../iris/pad/texture-motion.ts';
import { segmentEye } from '../../iris/segmentation/index.ts';
import type { EyeSegmentation } from '../../iris/segmentation/types.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';
import { hashSeed } from '../../iris/synth/random.ts';
import type { GreyImage } from '../../iris/types.ts';

const SEED = 'pad-train-v1';

function livePair(id: number): [GreyImage, GreyImage] {
  const identity = identityOf(SEED, id);
  const session = sessionOf(SEED, identity, 0);
  const [rest, constricted] = renderReflexExtremes(
    { identity, session, label: 'live', seed: hashSeed(SEED, 'presentation', id, 0) },
    syntheticSchedule(hashSeed(SEED, 'stimulus', id, 0)),
  );
  return [rest.image, constricted.image];
}

const framed = (image: GreyImage) => ({ image, segmentation: segmentEye(image) });

/** A smooth ring from `inner` to `outer` iris radii about the fitted limbus, at the sclera's grey. */
function paintRing(image: GreyImage, seg: EyeSegmentation, inner: number, outer: number): GreyImage {
  const { x, y, r } = seg.iris;
  const sclera: number[] = [];
  for (const side of [-1, 1]) {
    for (let d = 1.4 * r; d < 1.5 * r; d++)
      sclera.push(image.data[Math.round(y) * image.width + Math.round(x + side * d)] as number);
  }
  sclera.sort((a, b) => a - b);
  const grey = sclera[sclera.length >> 1] as number;
  const data = image.data.slice();
  for (let py = 0; py < image.height; py++) {
    for (let px = 0; px < image.width; px++) {
      const d = Math.hypot(px - x, py - y) / r;
      if (d >= inner && d <= outer) data[py * image.width + px] = grey;
    }
  }
  return { ...image, data };
}

describe('limbusAnchor', () => {
  it('finds a live iris standing still at its fitted limbus', () => {
    for (const id of [0, 1]) {
      const [rest, constricted] = livePair(id);
      const motion = textureMotion(framed(rest), framed(constricted));
      expect(Math.abs(motion.kappa), `identity ${id}`).toBeLessThan(0.1);
      expect(motion.edgeMotionPx).toBeLessThan(EDGE_MOTION_LIMIT_PX / 2);
      expect(motion.limbusDrift).toBeLessThan(0.01);
      expect(limbusAnchored(motion)).toBe(true);
      expect(motionReasons(motion)).toEqual([]);
    }
  }, 60_000);

  it('refuses a sclera-grey ring over the limbus: the fit shrinks and the texture at it moves', () => {
    const [rest, constricted] = livePair(0);
    const truth = segmentEye(rest);
    // The ring is on the cornea: the same image points in both frames (the eye hardly moves between them).
    const ringed = [rest, constricted].map((image) => framed(paintRing(image, truth, 0.82, 1.3)));
    const [a, b] = ringed as [ReturnType<typeof framed>, ReturnType<typeof framed>];
    expect(a.segmentation.iris.r / truth.iris.r).toBeLessThan(0.88);
    const motion = textureMotion(a, b);
    expect(motion.fixedShare).toBeLessThan(0.15);
    expect(motion.edgeMotionPx).toBeGreaterThanOrEqual(EDGE_MOTION_LIMIT_PX);
    expect(limbusAnchored(motion)).toBe(false);
    expect(motionReasons(motion)).toEqual([LIMBUS_MISFIT_REASON]);
  }, 60_000);

  it('refuses two frames whose limbus fits disagree', () => {
    const [rest, constricted] = livePair(1);
    const b = framed(constricted);
    const s = 1 - 1.5 * LIMBUS_DRIFT_LIMIT;
    const { irisEllipse: e, iris } = b.segmentation;
    const shrunk = {
      ...b.segmentation,
      irisEllipse: { ...e, a: e.a * s, b: e.b * s },
      iris: { ...iris, r: iris.r * s },
    };
    const motion = textureMotion(framed(rest), { image: constricted, segmentation: shrunk });
    expect(motion.limbusDrift).toBeCloseTo(1.5 * LIMBUS_DRIFT_LIMIT, 3);
    expect(motionReasons(motion)).toContain(LIMBUS_MISFIT_REASON);
  }, 60_000);

  it('lets an undecidable capture through and refuses at the limits', () => {
    expect(limbusAnchored({ edgeMotionPx: Number.NaN, limbusDrift: 0 })).toBe(true);
    expect(limbusAnchored({ edgeMotionPx: -3, limbusDrift: 0 })).toBe(true);
    expect(limbusAnchored({ edgeMotionPx: EDGE_MOTION_LIMIT_PX - 0.01, limbusDrift: 0 })).toBe(true);
    expect(limbusAnchored({ edgeMotionPx: EDGE_MOTION_LIMIT_PX, limbusDrift: 0 })).toBe(false);
    expect(limbusAnchored({ edgeMotionPx: 0, limbusDrift: LIMBUS_DRIFT_LIMIT })).toBe(false);
    expect(limbusAnchored({ edgeMotionPx: 0, limbusDrift: Number.NaN })).toBe(true);
  });
});
