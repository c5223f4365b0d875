/**
 * Eyelash (and other thin dark occluder) mask inside the visible iris.
 *
 * Each iris pixel is compared with the mean of the iris pixels around it (a masked box mean, so pupil,
 * sclera and skin do not bias it): lashes are thin and much darker than their surroundings. The threshold
 * adapts to the iris texture: a robust spread (median absolute deviation) of the same differences over
 * the whole iris.
 */
import type { FloatImage } from './image-ops.ts';

export interface Roi {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * `region` (full image, 1 = visible iris) selects the pixels considered. Returns a full-image mask and the
 * number of flagged pixels.
 */
export function eyelashMask(
  img: FloatImage,
  region: Uint8Array,
  roi: Roi,
  radius: number,
): { mask: Uint8Array; count: number; threshold: number } {
  const W = img.width;
  const { x0, y0, x1, y1 } = roi;
  const rw = x1 - x0 + 1;
  const rh = y1 - y0 + 1;
  const mask = new Uint8Array(img.width * img.height);
  if (rw <= 2 || rh <= 2) return { mask, count: 0, threshold: 0 };
  // Integral images (over the ROI) of values and counts of region pixels.
  const iw = rw + 1;
  const sumI = new Float64Array(iw * (rh + 1));
  const cntI = new Int32Array(iw * (rh + 1));
  for (let y = 0; y < rh; y++) {
    let rs = 0;
    let rc = 0;
    const src = (y + y0) * W + x0;
    for (let x = 0; x < rw; x++) {
      if (region[src + x] === 1) {
        rs += img.data[src + x] as number;
        rc++;
      }
      const o = (y + 1) * iw + x + 1;
      sumI[o] = (sumI[o - iw] as number) + rs;
      cntI[o] = (cntI[o - iw] as number) + rc;
    }
  }
  const diffs = new Float32Array(rw * rh);
  const sampled: number[] = [];
  for (let y = 0; y < rh; y++) {
    const ya = Math.max(0, y - radius);
    const yb = Math.min(rh, y + radius + 1);
    for (let x = 0; x < rw; x++) {
      const gi = (y + y0) * W + x0 + x;
      if (region[gi] !== 1) continue;
      const xa = Math.max(0, x - radius);
      const xb = Math.min(rw, x + radius + 1);
      const s =
        (sumI[yb * iw + xb] as number) -
        (sumI[ya * iw + xb] as number) -
        (sumI[yb * iw + xa] as number) +
        (sumI[ya * iw + xa] as number);
      const c =
        (cntI[yb * iw + xb] as number) -
        (cntI[ya * iw + xb] as number) -
        (cntI[yb * iw + xa] as number) +
        (cntI[ya * iw + xa] as number);
      const d = s / c - (img.data[gi] as number);
      diffs[y * rw + x] = d;
      if (((x * 7 + y * 13) & 7) === 0) sampled.push(d);
    }
  }
  if (sampled.length < 16) return { mask, count: 0, threshold: 0 };
  const sorted = Float32Array.from(sampled).sort();
  const med = sorted[sorted.length >> 1] as number;
  const dev = sorted.map((v) => Math.abs(v - med)).sort();
  const mad = 1.4826 * (dev[dev.length >> 1] as number);
  const threshold = Math.max(10, med + 3.5 * mad);
  let count = 0;
  for (let y = 0; y < rh; y++) {
    for (let x = 0; x < rw; x++) {
      const gi = (y + y0) * W + x0 + x;
      if (region[gi] !== 1) continue;
      if ((diffs[y * rw + x] as number) > threshold) {
        mask[gi] = 1;
        count++;
      }
    }
  }
  return { mask, count, threshold };
}
