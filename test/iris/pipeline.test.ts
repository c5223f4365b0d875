/**
 * The whole pipeline and its command line on open-iris's own sample eye: the geometry open-iris found,
 * a template that matches open-iris's template of the same image, and refusals with stable codes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGreyImage } from '../../iris/image-input.ts';
import { matchIrisCodes } from '../../iris/matcher.ts';
import { createIrisPipeline, type IrisPipeline } from '../../iris/pipeline.ts';
import type { GreyImage } from '../../iris/types.ts';
import { decodeIrisTemplate } from '../../protocol/iris-template.ts';
import { irisgateOk } from '../support/cli.ts';
import { OPEN_IRIS_EXPECTED_OUTPUT, OPEN_IRIS_SAMPLE_EYE } from '../support/shared-data.ts';

const openIris = JSON.parse(readFileSync(OPEN_IRIS_EXPECTED_OUTPUT, 'utf8'));

let pipeline: IrisPipeline;
let sample: GreyImage;
beforeAll(async () => {
  pipeline = await createIrisPipeline();
  sample = await readGreyImage(OPEN_IRIS_SAMPLE_EYE);
});
afterAll(() => pipeline.release());

async function greyFrom(transform: (image: Sharp) => Sharp): Promise<GreyImage> {
  const png = await transform(sharp(readFileSync(OPEN_IRIS_SAMPLE_EYE)))
    .greyscale()
    .png()
    .toBuffer();
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

describe('iris pipeline on the open-iris sample eye', () => {
  it("finds open-iris's geometry: centres within 3 px, pupil/iris diameter ratio within 0.03", async () => {
    const { geometry, quality } = await pipeline.encode(sample);
    expect(Math.hypot(geometry.iris.x - 324.7, geometry.iris.y - 233.9)).toBeLessThan(3);
    expect(Math.hypot(geometry.pupil.x - 328.8, geometry.pupil.y - 233.4)).toBeLessThan(3);
    expect(Math.abs(quality.pupilIrisRatio - 0.543)).toBeLessThan(0.03);
    expect(quality.usableBits).toBeGreaterThan(4096);
  });

  it("produces a template that matches open-iris's template of the same image", async () => {
    const ours = (await pipeline.encode(sample)).code;
    const theirs = decodeIrisTemplate(openIris.iris_template);
    const match = matchIrisCodes(ours, theirs);
    // Same eye, independently segmented and normalised: far below the 0.345 uniqueness threshold.
    expect(match.hdRaw).toBeLessThan(0.2);
    expect(match.commonBits).toBeGreaterThan(8000);
  });

  it('refuses a frame with no eye, and a blurred eye, with their codes', async () => {
    const blank = { width: 640, height: 480, data: new Uint8Array(640 * 480).fill(128) };
    await expect(pipeline.encode(blank)).rejects.toMatchObject({ code: 'no_eye_found' });
    const blurred = await greyFrom((image) => image.blur(2));
    await expect(pipeline.encode(blurred)).rejects.toMatchObject({ code: 'blurred' });
  });
});

describe('irisgate iris encode / match', () => {
  it('encodes every file, reporting per file errors, and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'irisgate-encode-'));
    const notImage = join(dir, 'notes.txt');
    writeFileSync(notImage, 'not an eye');
    const { stdout } = await irisgateOk(['iris', 'encode', OPEN_IRIS_SAMPLE_EYE, notImage, '--jsonl']);
    const [eye, bad] = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(Object.keys(eye)).toEqual(['file', 'template', 'geometry', 'quality']);
    expect(Object.keys(eye.template)).toEqual(['iris_codes', 'mask_codes', 'iris_code_version']);
    expect(eye.geometry.pupil).toEqual({
      x: expect.any(Number),
      y: expect.any(Number),
      r: expect.any(Number),
    });
    expect(bad).toEqual({ file: notImage, error: { code: 'unreadable_image', message: expect.any(String) } });

    const ours = join(dir, 'ours.json');
    writeFileSync(ours, JSON.stringify(eye));
    const theirs = join(dir, 'theirs.json');
    writeFileSync(theirs, JSON.stringify(openIris.iris_template));
    const match = JSON.parse((await irisgateOk(['iris', 'match', ours, theirs])).stdout);
    expect(Object.keys(match)).toEqual(['hd', 'hdRaw', 'rotation', 'commonBits']);
    expect(match.hdRaw).toBeLessThan(0.2);
  });
});
