/**
 * Image shapes the iris pipeline's stages share. The rubber-sheet image and the iris code, which the
 * models in models/ consume and produce too, are in protocol/iris-code-layout.ts.
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
