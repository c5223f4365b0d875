/**
 * The shapes every stage of the iris pipeline agrees on. Sizes follow open-iris: a 128 x 512 rubber-sheet
 * image (radial x angular), sampled on 16 x 256 probe points by 2 Gabor filters giving real and imaginary
 * bits: 16 x 256 x 2 x 2 = 16,384 code bits and as many mask bits.
 */

/** An 8-bit greyscale image, row-major. */
export interface GreyImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Circle {
  /** Centre, in pixels of the input image. */
  x: number;
  y: number;
  /** Radius in pixels (the mean radius for a non-circular boundary). */
  r: number;
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
