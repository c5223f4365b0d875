/**
 * The two rubber sheets the multi-frame checks compare (texture-motion.ts, limbus-anchor.ts): what of a
 * frame's iris can take part, and the radial band-pass its texture is compared by.
 */
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH, type NormalizedIris } from '../../protocol/iris-code-layout.ts';
import { parabolaY } from '../segmentation/eyelids.ts';
import { dilateSquare } from '../segmentation/image-ops.ts';
import { specularMask } from '../segmentation/specular.ts';
import type { EyeSegmentation } from '../segmentation/types.ts';
import type { GreyImage } from '../types.ts';

const H = NORMALIZED_HEIGHT;
const W = NORMALIZED_WIDTH;
/** The sheets are compared in blocks of this many rows and columns. */
export const MOTION_BLOCK_ROWS = 16;
export const MOTION_BLOCK_COLUMNS = 32;
/** A block takes part when this share of its samples is usable in both frames. */
const MIN_BLOCK_USABLE = 0.5;
export const MIN_BLOCK_SAMPLES = MIN_BLOCK_USABLE * MOTION_BLOCK_ROWS * MOTION_BLOCK_COLUMNS;
/** Glints and lashes are left out with this margin (pixels) around them, the lid margins with LID_MARGIN_PX. */
const GLINT_MARGIN_PX = 8;
const LASH_MARGIN_PX = 6;
const LID_MARGIN_PX = 10;
/** Lashes droop over the iris below the upper lid: more of it is left out there. */
const UPPER_LID_MARGIN_PX = 30;
/** Radial band-pass: a 3 x 3 mean, less the mean over this many rows either side. */
const RADIAL_HALF_WINDOW = 6;

export interface MotionFrame {
  image: GreyImage;
  segmentation: EyeSegmentation;
}

/**
 * The frame's usable iris less what lies on the cornea or the lids in every eye: a margin around its
 * glints, its lashes and its lid margins (the lids, their lashes and shadows do not stretch with the pupil).
 */
export function usableMask({ image, segmentation }: MotionFrame): Uint8Array {
  const { width: w, height: h, masks, eyelids } = segmentation;
  const glints = specularMask(image, GLINT_MARGIN_PX).mask;
  const lashes = dilateSquare(masks.eyelash, w, h, LASH_MARGIN_PX);
  const out = new Uint8Array(w * h);
  for (let x = 0; x < w; x++) {
    const top = eyelids.upper ? parabolaY(eyelids.upper, x) + UPPER_LID_MARGIN_PX : Number.NEGATIVE_INFINITY;
    const bottom = eyelids.lower ? parabolaY(eyelids.lower, x) - LID_MARGIN_PX : Number.POSITIVE_INFINITY;
    for (let y = Math.max(0, Math.ceil(top)); y < Math.min(h, bottom); y++) {
      const i = y * w + x;
      out[i] = (masks.iris[i] as number) & (1 - (glints[i] as number)) & (1 - (lashes[i] as number));
    }
  }
  return out;
}

/** A 3 x 3 mean of the usable samples, less the mean of that over RADIAL_HALF_WINDOW rows either side. */
export function radialBandPass(sheet: NormalizedIris, mask: Uint8Array): Float32Array {
  const { pixels } = sheet;
  const smooth = new Float32Array(H * W);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      let sum = 0;
      let n = 0;
      for (let rr = Math.max(0, r - 1); rr <= Math.min(H - 1, r + 1); rr++) {
        for (let dc = -1; dc <= 1; dc++) {
          const i = rr * W + ((c + dc + W) % W);
          if (mask[i]) {
            sum += pixels[i] as number;
            n++;
          }
        }
      }
      smooth[r * W + c] = n > 0 ? sum / n : 0;
    }
  }
  const out = new Float32Array(H * W);
  for (let c = 0; c < W; c++) {
    for (let r = 0; r < H; r++) {
      let sum = 0;
      let n = 0;
      for (
        let rr = Math.max(0, r - RADIAL_HALF_WINDOW);
        rr <= Math.min(H - 1, r + RADIAL_HALF_WINDOW);
        rr++
      ) {
        const i = rr * W + c;
        if (mask[i]) {
          sum += smooth[i] as number;
          n++;
        }
      }
      out[r * W + c] = n > 0 ? (smooth[r * W + c] as number) - sum / n : 0;
    }
  }
  return out;
}

/**
 * Over block (br, bc) of two band-passed sheets: the number of samples set in `mask`, and the normalised
 * correlation of `a` with `b` over them.
 */
export function blockCorrelation(
  a: Float32Array,
  b: Float32Array,
  mask: Uint8Array,
  br: number,
  bc: number,
): { n: number; correlation: number } {
  let n = 0;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let r = br * MOTION_BLOCK_ROWS; r < (br + 1) * MOTION_BLOCK_ROWS; r++) {
    for (let c = bc * MOTION_BLOCK_COLUMNS; c < (bc + 1) * MOTION_BLOCK_COLUMNS; c++) {
      const i = r * W + c;
      if (!mask[i]) continue;
      const va = a[i] as number;
      const vb = b[i] as number;
      n++;
      sab += va * vb;
      saa += va * va;
      sbb += vb * vb;
    }
  }
  return { n, correlation: sab / Math.sqrt(saa * sbb + 1e-12) };
}
