/**
 * The eye's motion between two frames of a reflex capture (iris/pad/limbus-registration.ts), read from the
 * image around the limbus rather than from each frame's own limbus fit, and what it means for the
 * texture-motion check. The captures are train:pad's (seed pad-train-v1), rendered as the suite renders
 * them; the eye's motion is made by moving the second frame's pixels.
 */
import { describe, expect, it } from 'vitest';
import { renderReflexExtremes, syntheticSchedule } from '../../iris/attacks/reflex-capture.ts';
import type { PresentationLabel } from '../../iris/attacks/render-attack.ts';
import { limbusShift, SEARCH_PX } from '../../iris/pad/limbus-registration.ts';
import { movesWithPupil, textureMotion } from '../../iris/pad/texture-motion.ts';
import { segmentEye } from '../../iris/segmentation/index.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';
import { hashSeed } from '../../iris/synth/random.ts';
import type { GreyImage } from '../../iris/types.ts';

const SEED = 'pad-train-v1';

/** The image with its content moved by whole pixels (dx right, dy down), the border repeated. */
function translated(image: GreyImage, dx: number, dy: number): GreyImage {
  const { width: w, height: h, data } = image;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - dy));
    for (let x = 0; x < w; x++)
      out[y * w + x] = data[sy * w + Math.min(w - 1, Math.max(0, x - dx))] as number;
  }
  return { ...image, data: out };
}

/** The frame at rest and the most constricted frame of a capture, the second moved by (dx, dy). */
function capture(identity: number, label: PresentationLabel, dx = 0, dy = 0) {
  const id = identityOf(SEED, identity);
  const presentation = {
    identity: id,
    session: sessionOf(SEED, id, 0),
    label,
    seed: hashSeed(SEED, 'presentation', identity, 0),
  };
  const [rest, constricted] = renderReflexExtremes(
    presentation,
    syntheticSchedule(hashSeed(SEED, 'stimulus', identity, 0)),
  );
  const moved = translated(constricted.image, dx, dy);
  return [
    { image: rest.image, segmentation: segmentEye(rest.image) },
    { image: moved, segmentation: segmentEye(moved) },
  ] as const;
}

describe('limbusShift', () => {
  it("reads the eye's motion between the frames to a fraction of a pixel", () => {
    for (const [identity, dx, dy] of [
      [0, 0, 0],
      [1, 3, -2],
      [2, -5, 4],
    ] as const) {
      const [rest, constricted] = capture(identity, 'live', dx, dy);
      const shift = limbusShift(rest, constricted);
      expect(Math.abs(shift.dx - dx), `identity ${identity}`).toBeLessThan(0.25);
      expect(Math.abs(shift.dy - dy), `identity ${identity}`).toBeLessThan(0.25);
    }
  }, 60_000);

  it('is not led astray by a limbus fit a few pixels off, up to SEARCH_PX', () => {
    const [rest, constricted] = capture(0, 'live', 2, 1);
    for (const off of [-4, 4, SEARCH_PX]) {
      const { irisEllipse } = constricted.segmentation;
      const misfit = {
        ...constricted,
        segmentation: {
          ...constricted.segmentation,
          irisEllipse: { ...irisEllipse, cy: irisEllipse.cy + off },
        },
      };
      const shift = limbusShift(rest, misfit);
      expect(Math.abs(shift.dx - 2), `fit off by ${off} px`).toBeLessThan(0.25);
      expect(Math.abs(shift.dy - 1), `fit off by ${off} px`).toBeLessThan(0.25);
    }
  }, 60_000);
});

describe('textureMotion with the eye moving between frames', () => {
  it('keeps a live iris that moved, or whose constricted limbus fit is 4 px off, moving with its pupil', () => {
    const [rest, constricted] = capture(1, 'live', -3, 2);
    expect(textureMotion(rest, constricted).fixedShare).toBeLessThan(0.05);
    // A lower lid lost in the constricted frame drew its limbus fit up by about that much (pad-eval-v1's
    // identity 59); the fits' difference then slid the whole rubber sheet onto the "cornea" side.
    const { irisEllipse } = constricted.segmentation;
    const misfit = {
      ...constricted,
      segmentation: { ...constricted.segmentation, irisEllipse: { ...irisEllipse, cy: irisEllipse.cy - 4 } },
    };
    const motion = textureMotion(rest, misfit);
    expect(motion.fixedShare).toBeLessThan(0.05);
    expect(movesWithPupil(motion)).toBe(true);
  }, 60_000);

  it('still finds a textured lens that moved with the eye staying on the cornea', () => {
    const [rest, constricted] = capture(1, 'lens', 4, 3);
    const motion = textureMotion(rest, constricted);
    expect(motion.fixedShare).toBeGreaterThan(0.5);
    expect(movesWithPupil(motion)).toBe(false);
  }, 60_000);
});
