/**
 * Image input: a PNG or JPEG file or buffer -> the 8-bit greyscale 640 x 480 frame the pipeline expects.
 * Anything else is refused with a stable code before any pixel is looked at.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { IrisgateError } from '../protocol/errors.ts';
import type { GreyImage } from './types.ts';

export const FRAME_WIDTH = 640;
export const FRAME_HEIGHT = 480;
/** A PNG or JPEG of a 640 x 480 greyscale frame is far below this; anything larger is not a frame. */
export const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
const ACCEPTED_FORMATS = new Set(['png', 'jpeg']);

/**
 * Encodes a frame as an 8-bit greyscale PNG (colour type 0). sharp writes RGB unless told the image is
 * black and white.
 */
export function encodeGreyPng({ width, height, data }: GreyImage): Promise<Buffer> {
  return sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
    raw: { width, height, channels: 1 },
  })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}

/** Decodes PNG/JPEG bytes to 8-bit greyscale; colour images are converted (luma). */
export async function decodeGreyImage(bytes: Uint8Array): Promise<GreyImage> {
  if (bytes.byteLength > MAX_IMAGE_BYTES) {
    throw new IrisgateError(
      'image_too_large',
      `image is ${bytes.byteLength} bytes, at most ${MAX_IMAGE_BYTES}`,
    );
  }
  let format: string | undefined;
  let width: number | undefined;
  let height: number | undefined;
  try {
    // limitInputPixels guards against decompression bombs: a frame is 640 x 480.
    ({ format, width, height } = await sharp(bytes, {
      limitInputPixels: FRAME_WIDTH * FRAME_HEIGHT * 4,
    }).metadata());
  } catch (cause) {
    throw new IrisgateError('unreadable_image', `not a decodable image: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (!format || !ACCEPTED_FORMATS.has(format)) {
    throw new IrisgateError(
      'unsupported_image_format',
      `image format ${format ?? 'unknown'}; PNG or JPEG expected`,
    );
  }
  if (width !== FRAME_WIDTH || height !== FRAME_HEIGHT) {
    throw new IrisgateError(
      'wrong_image_size',
      `image is ${width}x${height}, expected ${FRAME_WIDTH}x${FRAME_HEIGHT}`,
    );
  }
  try {
    const { data, info } = await sharp(bytes).greyscale().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1) throw new Error(`decoded to ${info.channels} channels`);
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (cause) {
    throw new IrisgateError('unreadable_image', `image data is corrupt: ${(cause as Error).message}`, {
      cause,
    });
  }
}

export async function readGreyImage(path: string): Promise<GreyImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new IrisgateError('unreadable_image', `cannot read ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return decodeGreyImage(bytes);
}
