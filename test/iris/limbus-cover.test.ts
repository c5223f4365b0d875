/**
 * The covered-limbus check (iris/pad/limbus-cover.ts): smooth sclera beside a living eye's limbus, texture
 * there when a ring of film lies across it, lashes over part of the band not taken for it, nothing decided
 * where the lids leave no sclera, and the
 * detector refusing such a frame with its reason (and the held-out suite, which scores measured features,
 * doing the same).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderAttack, renderLive } from '../../iris/attacks/render-attack.ts';
import { readGreyImage } from '../../iris/image-input.ts';
import { createPadDetector, type PadDetector } from '../../iris/pad/detector.ts';
import {
  LIMBUS_COVER_LIMIT,
  LIMBUS_COVERED_REASON,
  limbusCover,
  limbusCovered,
} from '../../iris/pad/limbus-cover.ts';
import { run as measurePresentation } from '../../iris/pad/training-task.ts';
import { segmentEye } from '../../iris/segmentation/index.ts';
import type { EyeSegmentation } from '../../iris/segmentation/types.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';
import type { GreyImage } from '../../iris/types.ts';
import { scoreWithShippedModels } from '../attacks/suite.ts';
import { OPEN_IRIS_SAMPLE_EYE } from '../support/shared-data.ts';

const SEED = 'limbus-cover-test';

function eye(id: number) {
  const identity = identityOf(SEED, id);
  return { identity, session: sessionOf(SEED, identity, 0) };
}

/** A ring of random-texture film over the outer iris and the limbus, 40% of the visible iris. */
function ring(id: number) {
  return renderAttack({ kind: 'patch-random', ...eye(id), seed: id, patchShape: 'arc', patchFraction: 0.4 });
}

/**
 * Dark vertical strokes, 4 px wide every 8 px, like lashes hanging over the sclera, across the band beyond
 * the fitted limbus (1.08-1.4 of its radius) on the right side's rays from 42 degrees above the eye's
 * axis to 2 degrees below it.
 */
function withStrokesBeyondLimbus(image: GreyImage, seg: EyeSegmentation): GreyImage {
  const { cx, cy, a } = seg.irisEllipse;
  const data = image.data.slice();
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const r = Math.hypot(x - cx, y - cy) / a;
      const deg = ((Math.atan2(y - cy, x - cx) - seg.orientation) * 180) / Math.PI;
      if (r > 1.08 && r < 1.4 && deg > -42 && deg < 2 && x % 8 < 4) {
        data[y * image.width + x] = Math.max(0, (data[y * image.width + x] as number) - 70);
      }
    }
  }
  return { ...image, data };
}

let detector: PadDetector;
beforeAll(async () => {
  detector = await createPadDetector();
});
afterAll(() => detector.release());

describe('limbusCover', () => {
  it('finds smooth sclera beside living eyes', () => {
    for (const id of [0, 1, 2, 3, 4, 5]) {
      const { identity, session } = eye(id);
      const { image } = renderLive(identity, session);
      const cover = limbusCover(image, segmentEye(image));
      expect(cover.ratio, `live ${id}`).toBeLessThan(0.6 * LIMBUS_COVER_LIMIT);
      expect(limbusCovered(cover.ratio)).toBe(false);
    }
  });

  it("finds smooth sclera beside open-iris's real sample eye", async () => {
    const image = await readGreyImage(OPEN_IRIS_SAMPLE_EYE);
    const cover = limbusCover(image, segmentEye(image));
    expect(cover.sides.right.ratio).toBeLessThan(LIMBUS_COVER_LIMIT);
    expect(cover.sides.left.ratio).toBeLessThan(LIMBUS_COVER_LIMIT);
    expect(limbusCovered(cover.ratio)).toBe(false);
  });

  it('finds texture beyond the limbus when a ring made the segmentation take its inner edge', () => {
    for (const id of [24, 31]) {
      const capture = ring(id);
      expect(capture.truth.patch?.crossesLimbus).toBe(true);
      const seg = segmentEye(capture.image);
      // The mechanism: the fitted limbus is the ring's inner edge, well inside the true one.
      expect(seg.irisEllipse.a, `ring ${id}`).toBeLessThan(capture.truth.iris.a - 10);
      const cover = limbusCover(capture.image, seg);
      expect(cover.ratio, `ring ${id}`).toBeGreaterThanOrEqual(1.2 * LIMBUS_COVER_LIMIT);
      expect(limbusCovered(cover.ratio)).toBe(true);
    }
  });

  it('is not fooled by lashes or a lid corner over some of the rays beyond the limbus', () => {
    for (const id of [1, 5]) {
      const { identity, session } = eye(id);
      const { image } = renderLive(identity, session);
      const seg = segmentEye(image);
      const cover = limbusCover(withStrokesBeyondLimbus(image, seg), seg);
      // Strokes 4 px wide every 8 px over the upper half of the right side's band: its median is textured...
      expect(cover.sides.right.band, `live ${id}`).toBeGreaterThanOrEqual(LIMBUS_COVER_LIMIT);
      // ...but most of its rays are not.
      expect(cover.sides.right.rays, `live ${id}`).toBeLessThan(0.7 * LIMBUS_COVER_LIMIT);
      expect(limbusCovered(cover.ratio)).toBe(false);
    }
  });

  it('decides nothing where the lids leave no sclera beside the iris', () => {
    const { identity, session } = eye(0);
    const { image } = renderLive(identity, session);
    const seg = segmentEye(image);
    const cy = seg.irisEllipse.cy;
    // Lids 4 px above and below the iris centre: every sample is within their clearance.
    const closing = {
      ...seg,
      eyelids: {
        upper: { x0: seg.irisEllipse.cx, c0: cy - 4, c1: 0, c2: 0 },
        lower: { x0: seg.irisEllipse.cx, c0: cy + 4, c1: 0, c2: 0 },
      },
    };
    const cover = limbusCover(image, closing);
    expect(cover.ratio).toBeNaN();
    expect(cover.sides.right.beyondSamples).toBe(0);
    expect(limbusCovered(cover.ratio)).toBe(false);
  });
});

describe('the detector on a covered limbus', () => {
  it('refuses the frame with limbus_covered and scores it 0', async () => {
    const verdict = await detector.assess(ring(31).image);
    expect(verdict.live).toBe(false);
    expect(verdict.reasons).toContain(LIMBUS_COVERED_REASON);
    expect(verdict.score).toBe(0);
  });

  it('leaves live frames without the reason', async () => {
    const { identity, session } = eye(1);
    const verdict = await detector.assess(renderLive(identity, session).image);
    expect(verdict.reasons).not.toContain(LIMBUS_COVERED_REASON);
  });
});

describe('the held-out suite on a covered limbus', () => {
  it('scores a measured frame 0 once its limbus counts as covered, as the detector does', async () => {
    const live = await measurePresentation({ seed: SEED, identity: 1, session: 0, label: 'live' });
    if (!live.ok) throw new Error(`live frame refused: ${live.code}`);
    expect(live.limbusCover).toBeLessThan(LIMBUS_COVER_LIMIT);
    const { samples } = await scoreWithShippedModels([live, { ...live, limbusCover: LIMBUS_COVER_LIMIT }]);
    expect(samples[0]?.score).toBeGreaterThan(0);
    expect(samples[1]?.score).toBe(0);
  });
});
