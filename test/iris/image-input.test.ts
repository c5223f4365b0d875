import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeGreyImage, MAX_IMAGE_BYTES, readGreyImage } from '../../iris/image-input.ts';
import { OPEN_IRIS_SAMPLE_EYE } from '../support/shared-data.ts';

const png = readFileSync(OPEN_IRIS_SAMPLE_EYE);

describe('image input', () => {
  it('decodes the open-iris sample to a 640 x 480 greyscale frame', async () => {
    const image = await readGreyImage(OPEN_IRIS_SAMPLE_EYE);
    expect({ width: image.width, height: image.height, length: image.data.length }).toEqual({
      width: 640,
      height: 480,
      length: 640 * 480,
    });
    // sharp expands a grey PNG to three equal channels; the frame must be exactly the first one.
    const rgb = await sharp(png).raw().toBuffer();
    expect(image.data.every((value, i) => value === rgb[3 * i])).toBe(true);
  });

  it('accepts JPEG and converts colour to grey', async () => {
    const jpeg = await sharp(png).jpeg({ quality: 95 }).toBuffer();
    expect((await decodeGreyImage(jpeg)).data.length).toBe(640 * 480);
    const colour = await sharp(png).toColourspace('srgb').png().toBuffer();
    expect((await sharp(colour).metadata()).channels).toBe(3);
    expect((await decodeGreyImage(colour)).data.length).toBe(640 * 480);
  });

  it('refuses other formats, other sizes, garbage, truncation, oversize and missing files', async () => {
    const webp = await sharp(png).webp().toBuffer();
    const small = await sharp(png).resize(320, 240).png().toBuffer();
    const cases: [() => Promise<unknown>, string][] = [
      [() => decodeGreyImage(webp), 'unsupported_image_format'],
      [() => decodeGreyImage(small), 'wrong_image_size'],
      [() => decodeGreyImage(new TextEncoder().encode('not an image at all')), 'unreadable_image'],
      [() => decodeGreyImage(png.subarray(0, png.length / 2)), 'unreadable_image'],
      [() => decodeGreyImage(new Uint8Array(MAX_IMAGE_BYTES + 1)), 'image_too_large'],
      [() => readGreyImage(join(tmpdir(), 'no-such-eye.png')), 'unreadable_image'],
    ];
    for (const [attempt, code] of cases) await expect(attempt()).rejects.toMatchObject({ code });
  });

  it('refuses a decompression bomb before decoding it', async () => {
    const bomb = await sharp({ create: { width: 8000, height: 8000, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const dir = mkdtempSync(join(tmpdir(), 'irisgate-bomb-'));
    writeFileSync(join(dir, 'bomb.png'), bomb);
    await expect(readGreyImage(join(dir, 'bomb.png'))).rejects.toMatchObject({ code: 'unreadable_image' });
  });
});
