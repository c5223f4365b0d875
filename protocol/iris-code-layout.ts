/**
 * The rubber-sheet image an iris code is computed from, and the layout of an iris code, as open-iris
 * defines them. Sizes: a 128 x 512 rubber sheet (radial x angular), sampled on 16 x 256 probe points by
 * 2 Gabor filters giving real and imaginary bits.
 *
 * The iris code: a boolean array of shape (16, 256, 2, 2) with axes
 * (radial row, angular column, filter, real/imaginary), in C order. Bit i of `code` and of `mask` is the
 * element at index ((row * 256 + column) * 2 + filter) * 2 + part. Both arrays hold one 0/1 value per byte.
 */
export const CODE_ROWS = 16;
export const CODE_COLUMNS = 256;
export const CODE_FILTERS = 2;
export const CODE_PARTS = 2;
export const CODE_BITS = CODE_ROWS * CODE_COLUMNS * CODE_FILTERS * CODE_PARTS;

export interface IrisCode {
  /** 16,384 values of 0 or 1. */
  code: Uint8Array;
  /** 16,384 values of 0 or 1; 1 = the bit is usable. */
  mask: Uint8Array;
}

/** The bits of a code its mask marks usable. */
export function usableBits(code: IrisCode): number {
  let ones = 0;
  for (const bit of code.mask) ones += bit;
  return ones;
}

export function codeBitIndex(row: number, column: number, filter: number, part: number): number {
  return ((row * CODE_COLUMNS + column) * CODE_FILTERS + filter) * CODE_PARTS + part;
}

export const NORMALIZED_HEIGHT = 128;
export const NORMALIZED_WIDTH = 512;

/**
 * The rubber-sheet image: row 0 lies on the pupil boundary, row 127 on the iris boundary; column c is the
 * angle 2*pi*c/512 measured from the image's +x axis towards +y (clockwise on screen), after correcting
 * the eye's in-plane orientation.
 */
export interface NormalizedIris {
  /** 128 x 512 intensities in [0, 1], row-major. */
  pixels: Float32Array;
  /** 128 x 512, 1 where the sample is unoccluded iris (not eyelid, eyelash or reflection). */
  mask: Uint8Array;
}
