/**
 * Something over the limbus: a sticker or printed film lying across the iris's outer edge (a ring over the
 * outer iris is the strongest Sybil patch: the segmentation takes its inner edge for the limbus, so the
 * patch falls outside the iris it measures and is never masked) puts texture where a living eye has
 * smooth sclera.
 *
 * On rays in the two lateral sectors (+-40 degrees about the eye's axis, where the lids leave sclera on
 * both sides), the band-pass magnitude |fine - coarse| of the frame (a ~1 px blur, a 3x3 grey opening and
 * closing that removes eyelashes, a 3x3 mean; less a further ~3.7 px blur: sensor noise, lashes and smooth
 * shading drop out) is sampled just beyond the fitted limbus (1.12-1.35 of the iris radius, 6 px clear of
 * the lids, no glints) and in the middle of the iris (35-85% of the way out from the pupil boundary). A
 * side is textured beyond when the band's median over the iris's median reaches 1 (`band`) and so does
 * its 30th percentile over rays of the per-ray medians, over 0.65 of the iris's median (`rays`): thick
 * lashes or a lid corner drooping over part of the band raise the first, not the second, while a film that
 * shrinks the limbus fit has to lie over most of the side. A side's ratio is the smaller of the two, the
 * frame's the larger over the sides with at least MIN_SIDE_SAMPLES samples in each region.
 *
 * Measured on the tuning seed fusion-tune-v1, ids 0-599 x 2 sessions (1,194 decidable live captures):
 * median 0.21, 99th percentile 0.57, highest with a correct limbus fit 0.95; one at 1.0 or more (its
 * limbus fit was 191 px against a true 108). Patches, ids 0-149 x 2: random 28 of 271 measured at 1.0 or
 * more, printed 14 of 275, other-iris 7 of 298; arcs of 30-40%, ids 0-99 x 2: 20 of 195; lenses 11 of 290.
 * (By `band` alone: 32, 16, 8, 22 and 12 of the same; and pad-eval-v1's live capture 95, whose upper lid
 * droops with its lashes over the band beside the eye's corner, was refused at 1.50; its `rays` is 0.93.)
 * The four ring patches that passed as Sybils in patch-eval-v1 (stop 16) score 1.31-3.32, open-iris's real
 * sample eye 0.66. About 13 ms per 640 x 480 frame on a 2-core development machine.
 * Not caught: a ring over the middle of the iris whose outer edge the segmentation takes for the limbus
 * (the iris beyond it is textured, but less than the ring it is compared with).
 */

import { ellipseRadiusAt } from '../segmentation/geometry.ts';
import { binomialBlur, boxBlur, median, openClose3, quantile } from '../segmentation/image-ops.ts';
import type { EyeSegmentation } from '../segmentation/types.ts';
import type { GreyImage } from '../types.ts';
import { betweenLids } from './features.ts';

/** The detector's reason for a frame whose limbus is covered. */
export const LIMBUS_COVERED_REASON = 'limbus_covered';
/** A frame whose ratio reaches this is refused. */
export const LIMBUS_COVER_LIMIT = 1.0;
/** Samples a side needs in each region to count. */
const MIN_SIDE_SAMPLES = 120;
/** `rays`: the RAY_QUANTILE quantile of the medians of rays with MIN_RAY_SAMPLES, over RAY_SHARE_LIMIT. */
const RAY_QUANTILE = 0.3;
const RAY_SHARE_LIMIT = 0.65;
const MIN_RAY_SAMPLES = 5;

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
  /** The smaller of `band` and `rays` (NaN when undecidable). */
  ratio: number;
  /** Median band-pass beyond the limbus over the median inside the iris (NaN when undecidable). */
  band: number;
  /** The RAY_QUANTILE quantile of the per-ray medians beyond, over the median inside, over RAY_SHARE_LIMIT
   * (NaN when undecidable or no ray has MIN_RAY_SAMPLES). */
  rays: number;
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
  const empty = { ratio: Number.NaN, band: Number.NaN, rays: Number.NaN, beyondSamples: 0, insideSamples: 0 };
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
    const rayMedians: number[] = [];
    const inside: number[] = [];
    for (let a = -HALF_SECTOR_DEG; a <= HALF_SECTOR_DEG; a += ANGLE_STEP_DEG) {
      const phi = seg.orientation + (centreDeg + a) * DEG;
      const c = Math.cos(phi);
      const s = Math.sin(phi);
      const ri = ellipseRadiusAt(ie, phi);
      const ray: number[] = [];
      for (let f = BEYOND[0]; f <= BEYOND[1]; f += STEP_PX / ri)
        sample(ie.cx + c * f * ri, ie.cy + s * f * ri, ray);
      beyond.push(...ray);
      if (ray.length >= MIN_RAY_SAMPLES) rayMedians.push(median(ray));
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
    const samples = { beyondSamples: beyond.length, insideSamples: inside.length };
    if (!decidable || !(level > 0)) return { ...empty, ...samples };
    const band = median(beyond) / level;
    const rays = quantile(rayMedians, RAY_QUANTILE) / level / RAY_SHARE_LIMIT;
    return { ratio: Math.min(band, rays), band, rays, ...samples };
  };
  const right = side(0);
  const left = side(180);
  const ratios = [right.ratio, left.ratio].filter((r) => !Number.isNaN(r));
  return { ratio: ratios.length > 0 ? Math.max(...ratios) : Number.NaN, sides: { right, left } };
}
