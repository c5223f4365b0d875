/**
 * How far the whole eye moved between two frames of a capture, from the image itself rather than from the
 * two frames' limbus fits. The limbus is rigid: the pupil's reflex does not move it, so a ring around it
 * (the outer iris, the limbus edge, the sclera next to it and whatever lid crosses it) looks the same in
 * both frames, shifted by the eye's motion. Each frame's own limbus fit can be off by a few pixels where a
 * lid was found in one frame and lost in the other; a shift read from those fits then slides the whole
 * rubber sheet and makes a live iris look fixed on the cornea (texture-motion.ts).
 *
 * The ring is sampled in the first frame around its limbus fit and found in the second by the best
 * normalised correlation over whole-pixel shifts around the difference of the two fits, refined to a
 * fraction of a pixel by a parabola through the peak's neighbours. Saturated glints are left out.
 *
 *   const { dx, dy } = limbusShift(rest, constricted);
 */
import { bilinearGrey } from '../grey-sampling.ts';
import { parabolicPeakOffset } from '../segmentation/rays.ts';
import { SPECULAR_THRESHOLD } from '../segmentation/specular.ts';
import type { EyeSegmentation } from '../segmentation/types.ts';
import type { GreyImage } from '../types.ts';

interface RegistrationFrame {
  image: GreyImage;
  segmentation: Pick<EyeSegmentation, 'irisEllipse'>;
}

/** The ring, in multiples of the limbus radius: the outer iris moves little with the pupil (1 - rho). */
const RING_INNER = 0.9;
const RING_OUTER = 1.15;
const RING_RADII = 10;
const RING_ANGLES = 180;
/** Whole-pixel shifts searched either side of the difference of the two limbus fits. */
export const SEARCH_PX = 6;

/** The second frame's eye position less the first's (pixels). */
export function limbusShift(first: RegistrationFrame, second: RegistrationFrame): { dx: number; dy: number } {
  const e = first.segmentation.irisEllipse;
  const f = second.segmentation.irisEllipse;
  const xs: number[] = [];
  const ys: number[] = [];
  const ref: number[] = [];
  for (let k = 0; k < RING_RADII; k++) {
    const s = RING_INNER + ((RING_OUTER - RING_INNER) * k) / (RING_RADII - 1);
    for (let j = 0; j < RING_ANGLES; j++) {
      const t = (2 * Math.PI * j) / RING_ANGLES;
      const u = s * e.a * Math.cos(t);
      const v = s * e.b * Math.sin(t);
      const x = e.cx + u * Math.cos(e.theta) - v * Math.sin(e.theta);
      const y = e.cy + u * Math.sin(e.theta) + v * Math.cos(e.theta);
      if (!inside(first.image, x, y)) continue;
      const g = bilinearGrey(first.image, x, y);
      if (g >= SPECULAR_THRESHOLD) continue;
      xs.push(x);
      ys.push(y);
      ref.push(g);
    }
  }
  const x0 = Math.round(f.cx - e.cx);
  const y0 = Math.round(f.cy - e.cy);
  const side = 2 * SEARCH_PX + 1;
  const score = new Float64Array(side * side);
  let best = -1;
  for (let j = 0; j < side; j++) {
    for (let i = 0; i < side; i++) {
      const k = j * side + i;
      score[k] = correlation(second.image, xs, ys, ref, x0 + i - SEARCH_PX, y0 + j - SEARCH_PX);
      if (best < 0 || (score[k] as number) > (score[best] as number)) best = k;
    }
  }
  const bi = best % side;
  const bj = (best - bi) / side;
  const row = score.subarray(bj * side, (bj + 1) * side);
  const column = Float64Array.from({ length: side }, (_, j) => score[j * side + bi] as number);
  return {
    dx: x0 + bi - SEARCH_PX + parabolicPeakOffset(row, bi),
    dy: y0 + bj - SEARCH_PX + parabolicPeakOffset(column, bj),
  };
}

function inside({ width, height }: GreyImage, x: number, y: number): boolean {
  return x >= 0 && y >= 0 && x <= width - 1 && y <= height - 1;
}

/** Normalised correlation of the ring's grey levels with the second frame's at the ring moved by (dx, dy). */
function correlation(
  image: GreyImage,
  xs: readonly number[],
  ys: readonly number[],
  ref: readonly number[],
  dx: number,
  dy: number,
): number {
  let n = 0;
  let sa = 0;
  let sb = 0;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let k = 0; k < xs.length; k++) {
    const x = (xs[k] as number) + dx;
    const y = (ys[k] as number) + dy;
    if (!inside(image, x, y)) continue;
    const b = bilinearGrey(image, x, y);
    if (b >= SPECULAR_THRESHOLD) continue;
    const a = ref[k] as number;
    n++;
    sa += a;
    sb += b;
    sab += a * b;
    saa += a * a;
    sbb += b * b;
  }
  if (n < 2) return Number.NEGATIVE_INFINITY;
  const cov = sab - (sa * sb) / n;
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  return cov / Math.sqrt(va * vb + 1e-12);
}
