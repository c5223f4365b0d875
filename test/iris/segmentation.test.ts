/**
 * Classical segmentation: geometry on open-iris's sample eye against open-iris's own output, accuracy on
 * the synthetic generator's ground truth, and the refusals (no eye, closed eye).
 */
import { describe, expect, it } from 'vitest';
import { readGreyImage } from '../../iris/image-input.ts';
import { segmentEye } from '../../iris/segmentation/index.ts';
import { lidThroughCorners } from '../../iris/synth/eyelids.ts';
import { generateEye, identityOf, sessionOf } from '../../iris/synth/generate.ts';
import type { GreyImage } from '../../iris/types.ts';
import { IrisgateError } from '../../protocol/errors.ts';
import { OPEN_IRIS_SAMPLE_EYE } from '../support/shared-data.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof IrisgateError) return e.code;
    throw e;
  }
  return undefined;
}

describe('segmentEye on the open-iris sample', () => {
  it('finds the pupil and iris where open-iris does', async () => {
    const image = await readGreyImage(OPEN_IRIS_SAMPLE_EYE);
    const seg = segmentEye(image);
    // open-iris 1.9.7: iris centre (324.7, 233.9), pupil centre (328.8, 233.4), diameter ratio 0.543,
    // iris bounding box 239 x 235 px.
    expect(Math.hypot(seg.eyeCenters.iris.x - 324.7, seg.eyeCenters.iris.y - 233.9)).toBeLessThan(3);
    expect(Math.hypot(seg.eyeCenters.pupil.x - 328.8, seg.eyeCenters.pupil.y - 233.4)).toBeLessThan(3);
    const ratio =
      Math.max(seg.pupilEllipse.a, seg.pupilEllipse.b) / Math.max(seg.irisEllipse.a, seg.irisEllipse.b);
    expect(Math.abs(ratio - 0.543)).toBeLessThan(0.03);
    expect(Math.abs(seg.iris.r - 118)).toBeLessThan(4);
    expect(seg.offgaze).toBeLessThan(0.05);
    // The upper lid crosses the top of the iris; the usable mask is most of the annulus.
    expect(seg.eyelids.upper).not.toBeNull();
    expect(seg.diagnostics.visiblePixels / seg.diagnostics.annulusPixels).toBeGreaterThan(0.6);
    expect(seg.masks.iris.length).toBe(image.width * image.height);
  });
});

describe('segmentEye on synthetic eyes', () => {
  it('recovers the ground-truth boundaries', () => {
    const seed = 'segmentation-test';
    const centre: number[] = [];
    const radius: number[] = [];
    let failures = 0;
    for (let k = 0; k < 16; k++) {
      const identity = identityOf(seed, k);
      const { image, truth } = generateEye({ identity, session: sessionOf(seed, identity, 0) });
      try {
        const seg = segmentEye(image);
        centre.push(
          Math.hypot(seg.pupil.x - truth.pupil.x, seg.pupil.y - truth.pupil.y),
          Math.hypot(seg.iris.x - truth.iris.x, seg.iris.y - truth.iris.y),
        );
        radius.push(Math.abs(seg.pupil.r - truth.pupil.r), Math.abs(seg.iris.r - truth.iris.r));
      } catch (e) {
        if (!(e instanceof IrisgateError)) throw e;
        failures++;
      }
    }
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1] as number;
    expect(failures).toBeLessThanOrEqual(1);
    expect(med(centre)).toBeLessThan(1);
    expect(med(radius)).toBeLessThan(1);
    // At most one boundary in 16 eyes off by more than 5 px.
    expect(centre.filter((e) => e > 5).length).toBeLessThanOrEqual(2);
  });
});

describe('segmentEye on eyes that once went wrong', () => {
  // Captures of the patch-eval-v1 seed whose boundaries were found wrong while passing every gate, so the
  // same person failed to match themself.
  it.each([
    // A dark iris: the pupil was fitted on the limbus (r 105 for a true 64) and the "iris" outside it.
    { capture: '144/0', id: 144, session: 0, why: 'the real pupil is a dark core inside the fitted one' },
    // A faint limbus (r 118) outvoted by the rings of the eye opening: the limbus was put at r 182.
    {
      capture: '52/0',
      id: 52,
      session: 0,
      why: 'the innermost ring where texture meets smooth sclera is tried',
    },
    {
      capture: '6/1',
      id: 6,
      session: 1,
      why: 'the innermost ring where texture meets smooth sclera is tried',
    },
  ])('patch-eval-v1 capture $capture: $why', ({ id, session }) => {
    const identity = identityOf('patch-eval-v1', id);
    const { image, truth } = generateEye({
      identity,
      session: sessionOf('patch-eval-v1', identity, session),
    });
    const seg = segmentEye(image);
    expect(Math.abs(seg.pupil.r - truth.pupil.r)).toBeLessThan(2);
    expect(Math.abs(seg.iris.r - truth.iris.r)).toBeLessThan(4);
    expect(Math.hypot(seg.iris.x - truth.iris.x, seg.iris.y - truth.iris.y)).toBeLessThan(4);
  });
});

describe('segmentEye refusals', () => {
  it('no eye in a uniform image', () => {
    const image: GreyImage = { width: 640, height: 480, data: new Uint8Array(640 * 480).fill(128) };
    expect(codeOf(() => segmentEye(image))).toBe('no_eye_found');
  });

  it('no eye in random noise', () => {
    let s = 12345;
    const data = new Uint8Array(640 * 480);
    for (let i = 0; i < data.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      data[i] = s >>> 24;
    }
    expect(codeOf(() => segmentEye({ width: 640, height: 480, data }))).toBe('no_eye_found');
  });

  it('a closed eye (lids meeting through the eye corners)', () => {
    for (const id of [3, 5]) {
      const identity = identityOf('errs', id);
      const session = structuredClone(sessionOf('errs', identity, 0));
      const lid = lidThroughCorners(0, session.eyelids.nasalCorner, session.eyelids.temporalCorner);
      session.eyelids.upper = lid;
      session.eyelids.lower = { ...lid };
      const { image } = generateEye({ identity, session });
      expect(codeOf(() => segmentEye(image))).toBe('eye_closed');
    }
  });

  it('rejects a malformed image', () => {
    expect(codeOf(() => segmentEye({ width: 10, height: 10, data: new Uint8Array(100) }))).toBe(
      'invalid_argument',
    );
  });
});
