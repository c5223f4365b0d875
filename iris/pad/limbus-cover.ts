/**
 * Something over the limbus: a sticker or printed film lying across the iris's outer edge (a ring over the
 * outer iris is the strongest Sybil patch: the segmentation takes its inner edge for the limbus, so the
 * patch falls outside the iris it measures and is never masked) puts texture where a living eye has
 * smooth sclera.
 *
 * On rays in the two lateral sectors (+-40 degrees about the eye's axis, where the lids leave sclera on
 * both sides), the band-pass magnitude |fine - coarse| of the frame (a ~1 px blur, a 3x3 grey opening and
 * closing that removes eyelashes, a 3x3 mean; less a further ~3.7 px blur: sensor noise, lashes and smooth
 * shading drop out) is sampled just beyond the fitted limbus (1.12-1.35 of the
 * iris radius, 6 px clear of the lids, no glints) and in the middle of the iris (35-85% of the way out
 * from the pupil boundary). A side's ratio is the median beyond over the median inside; the frame's is the
 * larger over the sides with at least MIN_SIDE_SAMPLES samples in each region.
 *
 * Measured on the tuning seed fusion-tune-v1 (ids 0-599, 1,199 segmented live captures): median 0.21,
 * 99th percentile 0.64; the highest with a correct limbus fit 0.89, and one capture at 1.0 or more (its
 * limbus fit was 191 px against a true 108). Arc patches of 30-40% (ids 0-99): 35 of 193 at 1.0 or more;
 * patches of every shape and 5-40%, ids 0-149: random 33/257, printed 22/270, other-iris 9/297; lenses 7/293.
 * The four ring patches that passed as Sybils in patch-eval-v1 (stop 16) score 1.31-3.32, open-iris's real
 * sample eye 0.66. About 13 ms per 640 x 480 frame on a 2-core development machine.
 * Not caught: a ring over the middle of the iris whose outer edge the segmentation takes for the limbus
 * (the iris beyond it is textured, but less than the ring it is compared with).
 */

import { ellipseRadiusAt } from '../segmentation/geometry.ts';
import { binomialBlur, boxBlur, median, openClose3 } from '../segmentation/image-ops.ts';
import type { EyeSegmentation } from '../segmentation/types.ts';
import type { GreyImage } from '../types.ts';
import { betweenLids } from './features.ts';

/** The detector's reason for a frame whose limbus is covered. */
export const LIMBUS_COVERED_REASON = 'limbus_covered';
/** A frame whose ratio reaches this is refused. */
export const LIMBUS_COVER_LIMIT = 1.0;
/** Samples a side needs in each region to count. */
const MIN_SIDE_SAMPLES = 120;

const DEG = Math.PI / 180;
const HALF_SECTOR_DEG = 40;
const ANGLE_STEP_DEG = 2;
/** Radial sampling step, pixels. */
const STEP_PX = 1.5;
const BEYOND = [1.12, 1.35] as const;
const INSIDE = [0.35, 0.85] as const;
/** Distance kept from either lid margin, pixels (on top of betweenLids's own 3). */
const LID_CLEARANCE_PX = 6;
/** Box radius of the coarse blur, applied twice (sigma about 3.7 px on top of the fine one). */
const COARSE_RADIUS = 4;

export interface LimbusCoverSide {
  /** Median band-pass beyond the limbus over the median inside the iris (NaN when undecidable). */
  ratio: number;
  beyondSamples: number;
  insideSamples: number;
}

export interface LimbusCover {
  /** The larger decidable side's ratio; NaN when neither side is decidable. */
  ratio: number;
  sides: { right: LimbusCoverSide; left: LimbusCoverSide };
}

/** Whether a frame with this limbus-cover ratio counts as covered (an undecidable frame, NaN, does not). */
export function limbusCovered(ratio: number): boolean {
  return ratio >= LIMBUS_COVER_LIMIT;
}

export function limbusCover(image: GreyImage, seg: EyeSegmentation): LimbusCover {
  const ie = seg.irisEllipse;
  const pe = seg.pupilEllipse;
  // Only the window around the iris is filtered; the coarse blur's reach is added as a margin.
  const margin = 3 * COARSE_RADIUS + 4;
  const reach = BEYOND[1] * Math.max(ie.a, ie.b) + margin;
  const x0 = Math.max(0, Math.floor(ie.cx - reach));
  const y0 = Math.max(0, Math.floor(ie.cy - reach));
  const x1 = Math.min(image.width, Math.ceil(ie.cx + reach));
  const y1 = Math.min(image.height, Math.ceil(ie.cy + reach));
  const w = x1 - x0;
  const h = y1 - y0;
  const empty = { ratio: Number.NaN, beyondSamples: 0, insideSamples: 0 };
  if (w < 8 || h < 8) return { ratio: Number.NaN, sides: { right: empty, left: empty } };
  const crop = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    crop.set(image.data.subarray((y0 + y) * image.width + x0, (y0 + y) * image.width + x1), y * w);
  const fine = boxBlur(openClose3(binomialBlur(crop, w, h)), 1);
  const coarse = boxBlur(boxBlur(fine, COARSE_RADIUS), COARSE_RADIUS);
  const sample = (x: number, y: number, into: number[]): void => {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < x0 || yi < y0 || xi >= x1 || yi >= y1) return;
    if (seg.masks.specular[yi * image.width + xi] === 1) return;
    if (!betweenLids(seg, xi, yi - LID_CLEARANCE_PX) || !betweenLids(seg, xi, yi + LID_CLEARANCE_PX)) return;
    const i = (yi - y0) * w + (xi - x0);
    into.push(Math.abs((fine.data[i] as number) - (coarse.data[i] as number)));
  };
  const side = (centreDeg: number): LimbusCoverSide => {
    const beyond: number[] = [];
    const inside: number[] = [];
    for (let a = -HALF_SECTOR_DEG; a <= HALF_SECTOR_DEG; a += ANGLE_STEP_DEG) {
      const phi = seg.orientation + (centreDeg + a) * DEG;
      const c = Math.cos(phi);
      const s = Math.sin(phi);
      const ri = ellipseRadiusAt(ie, phi);
      for (let f = BEYOND[0]; f <= BEYOND[1]; f += STEP_PX / ri)
        sample(ie.cx + c * f * ri, ie.cy + s * f * ri, beyond);
      // From the pupil boundary to the limbus along the same direction.
      const rp = ellipseRadiusAt(pe, phi);
      const [px, py] = [pe.cx + c * rp, pe.cy + s * rp];
      const [qx, qy] = [ie.cx + c * ri, ie.cy + s * ri];
      const span = Math.hypot(qx - px, qy - py);
      if (span < 4) continue;
      for (let t = INSIDE[0]; t <= INSIDE[1]; t += STEP_PX / span)
        sample(px + t * (qx - px), py + t * (qy - py), inside);
    }
    const decidable = beyond.length >= MIN_SIDE_SAMPLES && inside.length >= MIN_SIDE_SAMPLES;
    const level = median(inside);
    return {
      ratio: decidable && level > 0 ? median(beyond) / level : Number.NaN,
      beyondSamples: beyond.length,
      insideSamples: inside.length,
    };
  };
  const right = side(0);
  const left = side(180);
  const ratios = [right.ratio, left.ratio].filter((r) => !Number.isNaN(r));
  return { ratio: ratios.length > 0 ? Math.max(...ratios) : Number.NaN, sides: { right, left } };
}
