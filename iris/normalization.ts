/**
 * Rubber-sheet (Daugman) normalisation to 128 radial x 512 angular samples, as open-iris's
 * LinearNormalization: column c is the image angle phi = orientation + 2 pi c / 512 (from +x towards +y);
 * the pupil point P(phi) and the iris point I(phi) are where that direction from each boundary's own
 * centre meets the boundary ellipse; row r samples P + (r / 127) (I - P), so row 0 lies on the pupil
 * boundary and row 127 on the iris boundary.
 *
 * Interpolation: bilinear by default (open-iris rounds to the nearest pixel). At about 2.3 samples per
 * radial pixel for a typical iris, nearest-neighbour repeats rows and adds staircase steps that the Gabor
 * filters pick up as texture; bilinear does not. 'nearest' is available for comparisons with open-iris.
 * The mask is always looked up at the nearest pixel of the segmentation's usable-iris mask (inside the
 * annulus, between the eyelids, not eyelash, not specular); samples outside the image are masked.
 * Intensities are scaled to [0, 1] (grey / 255); masked samples still carry the image value there (0
 * outside the image), as open-iris.
 */
import { IrisgateError } from '../protocol/errors.ts';
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH, type NormalizedIris } from '../protocol/iris-code-layout.ts';
import { bilinearGrey } from './grey-sampling.ts';
import type { Ellipse } from './segmentation/geometry.ts';
import { ellipseRadiusAt } from './segmentation/geometry.ts';
import type { EyeSegmentation } from './segmentation/types.ts';
import type { GreyImage } from './types.ts';

export type Interpolation = 'bilinear' | 'nearest';

export interface NormalizationOptions {
  interpolation?: Interpolation;
}

/** Boundary geometry the rubber sheet needs: the two ellipses and the orientation (radians). */
export interface RubberSheetGeometry {
  pupil: Ellipse;
  iris: Ellipse;
  orientation: number;
}

/** Normalises the segmented iris of `image`. */
export function normalizeIris(
  image: GreyImage,
  seg: EyeSegmentation,
  options: NormalizationOptions = {},
): NormalizedIris {
  if (image.width !== seg.width || image.height !== seg.height) {
    throw new IrisgateError(
      'invalid_argument',
      `segmentation is for ${seg.width}x${seg.height}, image is ${image.width}x${image.height}`,
    );
  }
  return rubberSheet(
    image,
    { pupil: seg.pupilEllipse, iris: seg.irisEllipse, orientation: seg.orientation },
    seg.masks.iris,
    options,
  );
}

/**
 * The rubber-sheet map for explicit geometry. `mask` (full image, 1 = usable) may be null, in which case
 * every in-image sample is usable.
 */
export function rubberSheet(
  image: GreyImage,
  geometry: RubberSheetGeometry,
  mask: Uint8Array | null,
  options: NormalizationOptions = {},
): NormalizedIris {
  const { width: w, height: h, data } = image;
  const nearest = options.interpolation === 'nearest';
  const H = NORMALIZED_HEIGHT;
  const W = NORMALIZED_WIDTH;
  const pixels = new Float32Array(H * W);
  const outMask = new Uint8Array(H * W);
  const { pupil, iris, orientation } = geometry;
  const inv255 = 1 / 255;
  for (let c = 0; c < W; c++) {
    const phi = orientation + (2 * Math.PI * c) / W;
    const cos = Math.cos(phi);
    const sin = Math.sin(phi);
    const rp = ellipseRadiusAt(pupil, phi);
    const ri = ellipseRadiusAt(iris, phi);
    const px = pupil.cx + rp * cos;
    const py = pupil.cy + rp * sin;
    const dx = iris.cx + ri * cos - px;
    const dy = iris.cy + ri * sin - py;
    for (let r = 0; r < H; r++) {
      const t = r / (H - 1);
      const x = px + t * dx;
      const y = py + t * dy;
      const o = r * W + c;
      const xi = Math.round(x);
      const yi = Math.round(y);
      if (xi < 0 || yi < 0 || xi >= w || yi >= h) {
        pixels[o] = 0;
        continue;
      }
      if (nearest) {
        pixels[o] = (data[yi * w + xi] as number) * inv255;
      } else {
        pixels[o] = bilinearGrey(image, x, y) * inv255;
      }
      outMask[o] = mask === null ? 1 : (mask[yi * w + xi] as number);
    }
  }
  return { pixels, mask: outMask };
}

/** Number of usable (mask = 1) samples. */
export function usableSamples(n: NormalizedIris): number {
  let k = 0;
  for (let i = 0; i < n.mask.length; i++) k += n.mask[i] as number;
  return k;
}
