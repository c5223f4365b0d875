/**
 * Eye orientation from the eye opening (sclera beside the limbus, bounded by the lid margins): open-iris's
 * sample eye against open-iris's own estimate, a rotated copy of it, and synthetic eyes against the
 * generator's head roll.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readGreyImage } from '../../iris/image-input.ts';
import { segmentEye } from '../../iris/segmentation/index.ts';
import { generateEye, identityOf, sessionOf } from '../../iris/synth/generate.ts';
import type { GreyImage } from '../../iris/types.ts';
import { OPEN_IRIS_SAMPLE_EYE } from '../support/shared-data.ts';

const DEG = Math.PI / 180;

async function rotated(image: GreyImage, degrees: number): Promise<GreyImage> {
  const { data, info } = await sharp(Buffer.from(image.data), {
    raw: { width: image.width, height: image.height, channels: 1 },
  })
    .rotate(degrees, { background: { r: 128, g: 128, b: 128 } })
    .extract({ left: 0, top: 0, width: image.width, height: image.height })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  void info;
  return { width: image.width, height: image.height, data: new Uint8Array(data) };
}

describe('eye orientation on the open-iris sample', () => {
  it('agrees with open-iris (-0.085 rad) and follows a rotation of the image', async () => {
    const image = await readGreyImage(OPEN_IRIS_SAMPLE_EYE);
    const seg = segmentEye(image);
    expect(seg.orientationReliable).toBe(true);
    expect(Math.abs(seg.orientation - -0.085)).toBeLessThan(0.05);
    const turned = segmentEye(await rotated(image, 8));
    expect(turned.orientationReliable).toBe(true);
    expect(Math.abs(turned.orientation - seg.orientation - 8 * DEG)).toBeLessThan(2.5 * DEG);
  });
});

describe('eye orientation on synthetic eyes', () => {
  it('is mostly estimated and close to the head roll', () => {
    const seed = 'orientation-test';
    const errors: number[] = [];
    let reliable = 0;
    const n = 30;
    for (let k = 0; k < n; k++) {
      const identity = identityOf(seed, k);
      const { image, truth } = generateEye({ identity, session: sessionOf(seed, identity, 0) });
      const seg = segmentEye(image);
      if (!seg.orientationReliable) continue;
      reliable++;
      errors.push(Math.abs(seg.orientation / DEG - truth.rotationDeg));
    }
    expect(reliable / n).toBeGreaterThan(0.5);
    errors.sort((a, b) => a - b);
    // The synthetic eye corners sit at identity-specific heights (up to ~8 degrees off the roll axis).
    expect(errors.reduce((a, b) => a + b, 0) / errors.length).toBeLessThan(4.5);
  });
});
