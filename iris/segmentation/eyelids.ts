/**
 * Upper and lower eyelid margins inside the iris.
 *
 * On vertical profiles through the iris (columns across 90% of its width), the upper lid is the strongest
 * bright-to-dark step going down (skin above, iris or pupil below) and the lower lid the strongest
 * dark-to-bright step. Bands around the pupil and limbus boundaries are left out (their own steps have
 * the same polarity), and a step must reach a fraction of the limbus contrast to count. The column points
 * are fitted with a RANSAC parabola y = c0 + c1 (x - x0) + c2 (x - x0)^2 (image frame, x0 = iris centre);
 * too few consistent points means the lid does not cross the iris. A fit must then separate skin from iris
 * all along its length (confirmLid), or, for the upper lid, hide the limbus beyond it (limbusBeyond):
 * a dense lash line can cover the skin just above the margin. An upper lid found only on weaker steps must
 * hide the limbus in any case.
 */

import { seededRandom } from '../seeded-random.ts';
import type { Ellipse } from './geometry.ts';
import { ellipseRadiusAt, insideEllipse } from './geometry.ts';
import { type FloatImage, median } from './image-ops.ts';

/** A parabola y = c0 + c1 (x - x0) + c2 (x - x0)^2 in image pixels. */
export interface Parabola {
  x0: number;
  c0: number;
  c1: number;
  c2: number;
}

export function parabolaY(p: Parabola, x: number): number {
  const d = x - p.x0;
  return p.c0 + p.c1 * d + p.c2 * d * d;
}

export interface EyelidFit {
  /** null when the lid was not found crossing the iris (treated as not occluding). */
  parabola: Parabola | null;
  /** Column points used and how many supported the fit. */
  points: number;
  inliers: number;
  /** Median step (grey levels) of the inliers. */
  strength: number;
}

export interface Eyelids {
  upper: EyelidFit;
  lower: EyelidFit;
}

/**
 * The step a column's lid point must show, as a share of the limbus step. The upper lid's lash line and
 * shadow darken the skin just above its margin, so an upper lid low over the iris often steps down by half
 * the limbus contrast or less (synthetic eyes whose upper lid hides over 10% of the upper iris: with strong
 * steps alone a fifth of those lids were missed, and their skin and lashes counted as iris). When the strong
 * steps find no upper lid, a weak pass adds the columns' weaker steps; shading across an iris lines up into
 * such weak "lids" too, so that fit must also hide the limbus beyond it (limbusBeyond).
 */
const STRONG_STEP_SHARE = 0.6;
const WEAK_STEP_SHARE = 0.4;
/** The median skin-to-iris difference, as a share of the limbus step, that confirms a fitted lid. */
const CONFIRM_STEP_SHARE = 0.3;
/** Limbus samples (limbusBeyond): all round, at least this many beyond the lid and on the flanks. */
const LIMBUS_SAMPLES = 180;
const MIN_LIMBUS_BEYOND = 8;
/** Beyond a true lid the limbus step is gone: below this share of the flanks' step. */
const HIDDEN_LIMBUS_SHARE = 0.5;

/**
 * `limbusStep` is the typical dark-to-bright step at the limbus (grey levels over the same derivative
 * span), used to set the minimum step a lid must show.
 */
export function findEyelids(
  img: FloatImage,
  specular: Uint8Array,
  pupil: Ellipse,
  iris: Ellipse,
  limbusStep: number,
): Eyelids {
  const ri = (iris.a + iris.b) / 2;
  const half = Math.max(2, Math.round(ri * 0.025));
  const strongStep = Math.max(8, STRONG_STEP_SHARE * limbusStep);
  const upperStep = Math.max(8, WEAK_STEP_SHARE * limbusStep);
  const confirmStep = Math.max(4, CONFIRM_STEP_SHARE * limbusStep);
  const cols = 48;
  const upX: number[] = [];
  const upY: number[] = [];
  const upW: number[] = [];
  const loX: number[] = [];
  const loY: number[] = [];
  const loW: number[] = [];
  const w = img.width;
  const h = img.height;
  // The pupil edge itself gives a step over the derivative span and the blur around it.
  const pupilBand = Math.max(2, 0.1 * ((pupil.a + pupil.b) / 2)) + half + 1;
  const limbusBand = Math.max(2, 0.06 * ri);
  const lowerStart = pupil.cy + 0.6 * Math.min(pupil.a, pupil.b);
  const colValues = new Float32Array(Math.ceil(2.4 * ri) + 8);
  const colBad = new Uint8Array(colValues.length);
  for (let c = 0; c < cols; c++) {
    const x = Math.round(iris.cx + ri * 0.9 * (-1 + (2 * (c + 0.5)) / cols));
    if (x < 1 || x >= w - 1) continue;
    // Column segment from the top to the bottom of the iris.
    const yTop = Math.max(0, Math.floor(iris.cy - ri * 1.02));
    const yBot = Math.min(h - 1, Math.ceil(iris.cy + ri * 1.02));
    const n = yBot - yTop + 1;
    if (n < 4 * half + 2) continue;
    for (let i = 0; i < n; i++) {
      const y = yTop + i;
      // Average three neighbouring columns to calm the texture.
      const row = y * w;
      colValues[i] =
        ((img.data[row + x - 1] as number) +
          (img.data[row + x] as number) +
          (img.data[row + x + 1] as number)) /
        3;
      colBad[i] = specular[row + x] as number;
    }
    let bestUp = -1;
    let bestUpStep = 0;
    let bestLo = -1;
    let bestLoStep = 0;
    for (let i = half; i < n - half; i++) {
      const y = yTop + i;
      if (!insideEllipse(iris, x, y)) continue;
      if (colBad[i - half] === 1 || colBad[i + half] === 1 || colBad[i] === 1) continue;
      const dx = x - iris.cx;
      const dy = y - iris.cy;
      const rIris = ellipseRadiusAt(iris, Math.atan2(dy, dx));
      if (rIris - Math.hypot(dx, dy) < limbusBand) continue;
      const px = x - pupil.cx;
      const py = y - pupil.cy;
      const rPupil = ellipseRadiusAt(pupil, Math.atan2(py, px));
      if (Math.abs(Math.hypot(px, py) - rPupil) < pupilBand) continue;
      const d = (colValues[i + half] as number) - (colValues[i - half] as number);
      if (y < pupil.cy) {
        if (-d > bestUpStep) {
          bestUpStep = -d;
          bestUp = y;
        }
      } else if (y > lowerStart && d > bestLoStep) {
        // The lower lid does not rise above the lower part of the pupil in an open eye; steps higher up
        // are lighting (the shadow of the upper lid ends there) or texture.
        bestLoStep = d;
        bestLo = y;
      }
    }
    if (bestUp >= 0 && bestUpStep >= upperStep) {
      upX.push(x);
      upY.push(bestUp);
      upW.push(bestUpStep);
    }
    if (bestLo >= 0 && bestLoStep >= strongStep) {
      loX.push(x);
      loY.push(bestLo);
      loW.push(bestLoStep);
    }
  }
  const tol = Math.max(2, 0.035 * ri);
  const strong = upW.map((_, k) => k).filter((k) => (upW[k] as number) >= strongStep);
  const pick = (values: number[]) => strong.map((k) => values[k] as number);
  // The limbus measured hidden beyond the fit, or brighter skin beyond it (confirmLid). A fit of the weak
  // pass (the columns' weaker steps join in) must not show the limbus beyond it either.
  const isUpperLid = (fit: EyelidFit, weak: boolean): boolean => {
    if (!fit.parabola) return false;
    const beyond = limbusBeyond(img, iris, fit.parabola, confirmStep);
    if (beyond === 'hidden') return true;
    if (weak && beyond === 'visible') return false;
    return confirmLid(img, iris, fit, 1, confirmStep).parabola !== null;
  };
  const strongFit = fitLid(pick(upX), pick(upY), pick(upW), iris.cx, ri, tol, 1);
  let upper: EyelidFit = isUpperLid(strongFit, false) ? strongFit : unfound(strongFit);
  if (!upper.parabola && strong.length < upX.length) {
    const weakFit = fitLid(upX, upY, upW, iris.cx, ri, tol, 1);
    if (isUpperLid(weakFit, true)) upper = weakFit;
  }
  const lower = fitLid(loX, loY, loW, iris.cx, ri, tol, -1);
  return { upper, lower: confirmLid(img, iris, lower, -1, confirmStep) };
}

/**
 * A lid must separate two different regions all along its length: beyond it (skin) the image is
 * brighter than on the iris side, by `step` at the median. Iris texture can line up into a parabola by
 * chance, but the bands on either side of it then look alike. Compares bands 3-8% of the iris radius
 * either side of the curve at 24 places across the iris.
 */
function confirmLid(img: FloatImage, iris: Ellipse, fit: EyelidFit, sign: number, step: number): EyelidFit {
  const p = fit.parabola;
  if (!p) return fit;
  const ri = (iris.a + iris.b) / 2;
  const diffs: number[] = [];
  const near = Math.max(2, 0.03 * ri);
  const far = Math.max(5, 0.08 * ri);
  for (let k = 0; k < 24; k++) {
    const x = Math.round(iris.cx + ri * 0.85 * (-1 + (2 * (k + 0.5)) / 24));
    if (x < 0 || x >= img.width) continue;
    const y0 = parabolaY(p, x);
    let outside = 0;
    let inside = 0;
    let n = 0;
    for (let d = near; d <= far; d += 1) {
      const yo = Math.round(y0 - sign * d);
      const yi = Math.round(y0 + sign * d);
      if (yo < 0 || yi < 0 || yo >= img.height || yi >= img.height) continue;
      // Only where the iris side is inside the iris.
      if (!insideEllipse(iris, x, yi)) continue;
      outside += img.data[yo * img.width + x] as number;
      inside += img.data[yi * img.width + x] as number;
      n++;
    }
    if (n > 0) diffs.push((outside - inside) / n);
  }
  if (diffs.length < 6) return fit;
  diffs.sort((a, b) => a - b);
  const med = diffs[diffs.length >> 1] as number;
  const positive = diffs.filter((d) => d > 0).length / diffs.length;
  return med >= step && positive >= 0.7 ? fit : unfound(fit);
}

/** The fit's counts, without a lid. */
function unfound(fit: EyelidFit): EyelidFit {
  return { parabola: null, points: fit.points, inliers: fit.inliers, strength: 0 };
}

/**
 * Whatever lies beyond an upper lid is hidden, the iris's own edge included: along the limbus above the
 * curve the step from iris to sclera is gone (skin on both sides). Shading across an iris (brighter above than
 * below) can line up into a "lid" across it, beyond which the limbus still shows its full step. Compares
 * the median limbus step beyond the curve with the step on the near side's flanks (within 30 degrees of
 * the horizontal). 'unknown' when it cannot tell: too little of the limbus beyond the curve, or flanks that
 * do not step by `step` themselves (an iris boundary fitted off the limbus).
 */
function limbusBeyond(
  img: FloatImage,
  iris: Ellipse,
  p: Parabola,
  step: number,
): 'hidden' | 'visible' | 'unknown' {
  const ri = (iris.a + iris.b) / 2;
  const margin = Math.max(3, 0.04 * ri);
  const beyond: number[] = [];
  const flanks: number[] = [];
  for (let k = 0; k < LIMBUS_SAMPLES; k++) {
    const phi = (2 * Math.PI * k) / LIMBUS_SAMPLES;
    const r = ellipseRadiusAt(iris, phi);
    const c = Math.cos(phi);
    const s = Math.sin(phi);
    // Below the curve (the near side) when positive.
    const side = iris.cy + r * s - parabolaY(p, iris.cx + r * c);
    const flank = Math.abs(s) < 0.5;
    if (side > -margin && !(side > margin && flank)) continue;
    let inner = 0;
    let outer = 0;
    let n = 0;
    for (let f = 0.03; f <= 0.0601; f += 0.01) {
      const xi = Math.round(iris.cx + r * (1 - f) * c);
      const yi = Math.round(iris.cy + r * (1 - f) * s);
      const xo = Math.round(iris.cx + r * (1 + f) * c);
      const yo = Math.round(iris.cy + r * (1 + f) * s);
      if (xi < 0 || yi < 0 || xo < 0 || yo < 0) continue;
      if (xi >= img.width || xo >= img.width || yi >= img.height || yo >= img.height) continue;
      inner += img.data[yi * img.width + xi] as number;
      outer += img.data[yo * img.width + xo] as number;
      n++;
    }
    if (n === 0) continue;
    (side > margin ? flanks : beyond).push((outer - inner) / n);
  }
  if (beyond.length < MIN_LIMBUS_BEYOND || flanks.length < MIN_LIMBUS_BEYOND) return 'unknown';
  const visible = median(flanks);
  if (visible < step) return 'unknown';
  return median(beyond) < HIDDEN_LIMBUS_SHARE * visible ? 'hidden' : 'visible';
}

/**
 * Largest curvature against the lid's own (times the iris radius) a lid fit may show. Real lid margins
 * through the eye corners curve at about 0.1-0.3 / r_iris the right way; flat lids fit with a little noise.
 */
const WRONG_CURVATURE = 0.03;

/** RANSAC parabola through column points; `sign` 1 for the upper lid (opens downwards on screen: c2 >= 0). */
function fitLid(
  xs: number[],
  ys: number[],
  ws: number[],
  x0: number,
  ri: number,
  tol: number,
  sign: number,
): EyelidFit {
  const n = xs.length;
  const none: EyelidFit = { parabola: null, points: n, inliers: 0, strength: 0 };
  if (n < 5) return none;
  const rand = seededRandom(777 + sign);
  let best: [number, number, number] | null = null;
  let bestScore = 0;
  const maxCurv = 0.5 / ri;
  const minCurv = WRONG_CURVATURE / ri;
  for (let it = 0; it < 150; it++) {
    const i = Math.floor(rand() * n);
    const j = Math.floor(rand() * n);
    const k = Math.floor(rand() * n);
    if (i === j || j === k || i === k) continue;
    const p = solveParabola(
      [xs[i] as number, xs[j] as number, xs[k] as number],
      [ys[i] as number, ys[j] as number, ys[k] as number],
      x0,
    );
    if (!p) continue;
    // Lids curve away from the eye's centre (they meet at the corners): c2 has the lid's sign, up to the
    // noise of a nearly flat lid. Steps curving the other way are the pupil's or the limbus's own arcs, or
    // texture and shading lined up along them.
    if (sign * p[2] < -minCurv || Math.abs(p[2]) > maxCurv || Math.abs(p[1]) > 0.4) continue;
    let score = 0;
    for (let m = 0; m < n; m++) {
      const d = (xs[m] as number) - x0;
      const e = Math.abs(p[0] + p[1] * d + p[2] * d * d - (ys[m] as number));
      if (e < tol) score += (ws[m] as number) * (1 - (e / tol) ** 2);
    }
    if (score > bestScore) {
      bestScore = score;
      best = p;
    }
  }
  if (!best) return none;
  // Weighted least squares on the inliers.
  const inX: number[] = [];
  const inY: number[] = [];
  const inW: number[] = [];
  for (let m = 0; m < n; m++) {
    const d = (xs[m] as number) - x0;
    const e = Math.abs(best[0] + best[1] * d + best[2] * d * d - (ys[m] as number));
    if (e < tol) {
      inX.push(xs[m] as number);
      inY.push(ys[m] as number);
      inW.push(ws[m] as number);
    }
  }
  const minInliers = Math.max(6, Math.ceil(0.25 * 48));
  if (inX.length < minInliers) return { parabola: null, points: n, inliers: inX.length, strength: 0 };
  const span = Math.max(...inX) - Math.min(...inX);
  if (span < 0.5 * ri) return { parabola: null, points: n, inliers: inX.length, strength: 0 };
  const ls = leastSquaresParabola(inX, inY, inW, x0);
  const p = ls && sign * ls[2] >= -minCurv ? ls : best;
  const sorted = [...inW].sort((a, b) => a - b);
  return {
    parabola: { x0, c0: p[0], c1: p[1], c2: p[2] },
    points: n,
    inliers: inX.length,
    strength: sorted[Math.floor(sorted.length / 2)] as number,
  };
}

function solveParabola(xs: number[], ys: number[], x0: number): [number, number, number] | null {
  return leastSquaresParabola(xs, ys, [1, 1, 1], x0);
}

function leastSquaresParabola(
  xs: number[],
  ys: number[],
  ws: number[],
  x0: number,
): [number, number, number] | null {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  for (let i = 0; i < xs.length; i++) {
    const w = ws[i] as number;
    const d = (xs[i] as number) - x0;
    const y = ys[i] as number;
    const d2 = d * d;
    s0 += w;
    s1 += w * d;
    s2 += w * d2;
    s3 += w * d2 * d;
    s4 += w * d2 * d2;
    t0 += w * y;
    t1 += w * y * d;
    t2 += w * y * d2;
  }
  // [s0 s1 s2; s1 s2 s3; s2 s3 s4] c = [t0 t1 t2]
  const det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2);
  if (Math.abs(det) < 1e-9) return null;
  const c0 = (t0 * (s2 * s4 - s3 * s3) - s1 * (t1 * s4 - s3 * t2) + s2 * (t1 * s3 - s2 * t2)) / det;
  const c1 = (s0 * (t1 * s4 - t2 * s3) - t0 * (s1 * s4 - s3 * s2) + s2 * (s1 * t2 - t1 * s2)) / det;
  const c2 = (s0 * (s2 * t2 - s3 * t1) - s1 * (s1 * t2 - t1 * s2) + t0 * (s1 * s3 - s2 * s2)) / det;
  return [c0, c1, c2];
}
