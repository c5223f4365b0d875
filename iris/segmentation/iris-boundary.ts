/**
 * Iris outer boundary (limbus).
 *
 * The iris is searched as a scaled copy of the pupil's outline (same centre to start with; the pupil's
 * ellipse shape is kept only when it is clearly elliptical, i.e. for off-axis gaze), so the search is
 * one-dimensional in the scale s = iris radius / pupil radius.
 *
 * Pass 1 (integro-differential): on rays in the lateral sectors (eyelids cover the top and bottom), the
 * dark-to-bright radial derivative is summed over rays for every scale; each step is weighted by how
 * iris-like its inner side is, so the sclera-to-skin step at the eye corners does not compete. The best
 * scale gives a first radius.
 * Pass 2: on each ray the strongest step within +-22% of that radius is taken, and the points are fitted
 * with a RANSAC circle (in the pupil-shaped frame) and Tukey-weighted refinement.
 * Pass 3: the same, re-centred on the pass-2 fit, with more rays (lower sector included) in a +-10% window.
 */
import type { Ellipse } from './geometry.ts';
import { ellipseRadiusAt, ransacCircle } from './geometry.ts';
import type { FloatImage } from './image-ops.ts';
import { median } from './image-ops.ts';
import { allocProfile, parabolicPeakOffset, sampleRay } from './rays.ts';
import type { BoundarySupport } from './types.ts';

/** The iris (limbus) ellipse; its edgeStrength is the median step at the accepted points. */
export interface IrisFit extends BoundarySupport {
  ellipse: Ellipse;
  /** Median iris intensity just outside the pupil. */
  irisLevel: number;
  /** Sum-of-steps peak of pass 1, per ray. */
  peakResponse: number;
}

/** Anisotropic frame shared by the pupil and the iris: unit shape of the pupil outline. */
interface Shape {
  cx: number;
  cy: number;
  /** Ratio b/a kept for the frame (1 = circular). */
  k: number;
  theta: number;
}

/** Unit-shape radius in image direction phi (1 along the major axis). */
function shapeRadius(shape: Shape, phi: number): number {
  if (shape.k === 1) return 1;
  return ellipseRadiusAt({ cx: 0, cy: 0, a: 1, b: shape.k, theta: shape.theta }, phi);
}

function toCanonical(shape: Shape, x: number, y: number): [number, number] {
  const dx = x - shape.cx;
  const dy = y - shape.cy;
  if (shape.k === 1) return [dx, dy];
  const c = Math.cos(shape.theta);
  const s = Math.sin(shape.theta);
  const u = dx * c + dy * s;
  const v = (-dx * s + dy * c) / shape.k;
  return [u * c - v * s, u * s + v * c];
}

function fromCanonical(shape: Shape, u0: number, v0: number): [number, number] {
  if (shape.k === 1) return [shape.cx + u0, shape.cy + v0];
  const c = Math.cos(shape.theta);
  const s = Math.sin(shape.theta);
  const u = u0 * c + v0 * s;
  const v = (-u0 * s + v0 * c) * shape.k;
  return [shape.cx + u * c - v * s, shape.cy + u * s + v * c];
}

function inSectors(phi: number, sectors: ReadonlyArray<readonly [number, number]>): boolean {
  let p = phi % (2 * Math.PI);
  if (p < 0) p += 2 * Math.PI;
  for (const [a, b] of sectors) {
    const lo = ((a % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
    const span = b - a;
    let d = p - lo;
    if (d < 0) d += 2 * Math.PI;
    if (d <= span) return true;
  }
  return false;
}

const DEG = Math.PI / 180;
/** Lateral sectors (image angles, +y down): right and left of the pupil. */
const LATERAL: ReadonlyArray<readonly [number, number]> = [
  [-45 * DEG, 45 * DEG],
  [135 * DEG, 225 * DEG],
];
/** Pass 3: lateral plus the lower sector. */
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [-55 * DEG, 125 * DEG],
  [125 * DEG, 235 * DEG],
];

/**
 * Finds the limbus around `pupil`. `maxRadius` bounds the iris radius in pixels. Returns null when no
 * consistent boundary is found.
 */
export function findIris(
  img: FloatImage,
  specular: Uint8Array,
  pupil: Ellipse,
  maxRadius: number,
  minRatio = 0.1,
  maxRatio = 0.8,
): IrisFit | null {
  const circular: Shape = { cx: pupil.cx, cy: pupil.cy, k: 1, theta: pupil.theta };
  const shapes = [circular];
  // An elliptical pupil (off-axis gaze) shapes the search; but something dark against the pupil (a patch,
  // a lash) can distort its fit, so the circular search competes with it. Each shape's best competes with
  // the score its own search ranked it by (alternatives to its strongest peak discounted); ties go to the
  // pupil's shape.
  if (pupil.b / pupil.a < ELLIPTICAL_PUPIL) shapes.unshift({ ...circular, k: pupil.b / pupil.a });
  let best: ShapeSearch | null = null;
  for (const shape of shapes) {
    const rp = shape.k === 1 ? (pupil.a + pupil.b) / 2 : pupil.a;
    const found = searchShape(img, specular, shape, rp, maxRadius, minRatio, maxRatio);
    if (found && (!best || found.score > best.score)) best = found;
  }
  if (!best) return null;
  const { fit, shape } = best;
  return {
    ellipse: {
      cx: fit.cx,
      cy: fit.cy,
      a: fit.rho,
      b: fit.rho * shape.k,
      theta: shape.k === 1 ? 0 : shape.theta,
    },
    xs: fit.xs,
    ys: fit.ys,
    weights: fit.weights,
    inlierFraction: fit.inlierFraction,
    rms: fit.rms,
    edgeStrength: fit.edgeStrength,
    irisLevel: best.irisLevel,
    peakResponse: best.peakResponse,
  };
}

/** A pupil whose fitted axes are in a smaller ratio than this is taken as elliptical (off-axis gaze). */
const ELLIPTICAL_PUPIL = 0.88;

/** The best limbus fit found with one search shape, and its score as that search ranked it. */
interface ShapeSearch {
  shape: Shape;
  fit: RayFit;
  score: number;
  irisLevel: number;
  peakResponse: number;
}

/** Passes 1-3 in the frame of `shape`, whose major-axis radius at the pupil is `rp`. */
function searchShape(
  img: FloatImage,
  specular: Uint8Array,
  shape: Shape,
  rp: number,
  maxRadius: number,
  minRatio: number,
  maxRatio: number,
): ShapeSearch | null {
  const sMin = 1 / maxRatio;
  const sMax = Math.max(sMin + 0.5, Math.min(1 / minRatio, maxRadius / rp));

  // Iris level: median intensity just outside the pupil.
  const levels: number[] = [];
  for (let k = 0; k < 32; k++) {
    const phi = (2 * Math.PI * k) / 32;
    if (!inSectors(phi, WIDE)) continue;
    const r = rp * shapeRadius(shape, phi);
    for (const f of [1.15, 1.25]) {
      const x = Math.round(shape.cx + Math.cos(phi) * r * f);
      const y = Math.round(shape.cy + Math.sin(phi) * r * f);
      if (x < 0 || y < 0 || x >= img.width || y >= img.height) continue;
      if (specular[y * img.width + x] === 1) continue;
      levels.push(img.data[y * img.width + x] as number);
    }
  }
  if (levels.length < 4) return null;
  const irisLevel = median(levels);

  // ---- pass 1: integro-differential over the scale along lateral rays.
  const rays1 = 48;
  const stepPx = Math.max(0.75, (rp * (sMax - sMin)) / 360);
  const n = Math.max(16, Math.ceil((rp * (sMax - sMin)) / stepPx));
  const half = Math.max(1, Math.round(Math.max(1.5, rp * 0.03) / stepPx));
  const prof = allocProfile(n);
  const acc = new Float64Array(n);
  const tex = new Float64Array(n);
  const cum = new Float64Array(n);
  const win = Math.max(4, Math.round((0.12 * rp * 2) / stepPx));
  const score = new Float64Array(n);
  const drop = new Float64Array(n);
  let used = 0;
  for (let k = 0; k < rays1; k++) {
    const phi = (2 * Math.PI * (k + 0.5)) / rays1;
    if (!inSectors(phi, LATERAL)) continue;
    const e = rp * shapeRadius(shape, phi);
    const ux = Math.cos(phi) * e;
    const uy = Math.sin(phi) * e;
    if (sampleRay(img, specular, shape.cx, shape.cy, ux, uy, sMin, sMax, n, half, prof) < n / 4) continue;
    used++;
    // Each ray votes with its steps relative to its own strongest one, so a few very strong unrelated
    // edges (text, frame borders, eye corners) cannot outvote a boundary that every ray agrees on.
    let rayMax = 8;
    for (let i = 0; i < n; i++) {
      const d = prof.deriv[i] as number;
      if (d <= 0) {
        score[i] = 0;
        continue;
      }
      const v = d * irisSideWeight(prof.values, i, half, n, irisLevel);
      score[i] = v;
      if (v > rayMax) rayMax = v;
    }
    // Texture vote: the iris is textured, the sclera beyond the limbus is smooth. Roughness = mean
    // absolute difference of neighbouring samples, inside vs outside a window on each side.
    cum[0] = 0;
    for (let i = 1; i < n; i++) {
      cum[i] = (cum[i - 1] as number) + Math.abs((prof.values[i] as number) - (prof.values[i - 1] as number));
    }
    for (let i = win + 1; i < n - win; i++) {
      if (prof.invalid[i] === 1) continue;
      const rin = ((cum[i] as number) - (cum[i - win] as number)) / win;
      const rout = ((cum[i + win] as number) - (cum[i] as number)) / win;
      tex[i] = Math.max(0, (rin - rout) / (rin + rout + 0.5));
    }
    // Each step votes; a step from texture into smooth surroundings (iris to sclera) counts double.
    for (let i = 0; i < n; i++) {
      acc[i] = (acc[i] as number) + ((score[i] as number) / rayMax) ** 2 * (0.5 + (tex[i] as number));
      drop[i] = (drop[i] as number) + (tex[i] as number);
      tex[i] = 0;
    }
  }
  if (used < 6) return null;
  for (let i = 0; i < n; i++) drop[i] = (drop[i] as number) / used;
  // Light smoothing of the accumulator; the few strongest separated peaks are radius hypotheses.
  const sm = new Float64Array(n);
  for (let i = 1; i < n - 1; i++) {
    sm[i] = 0.25 * (acc[i - 1] as number) + 0.5 * (acc[i] as number) + 0.25 * (acc[i + 1] as number);
  }
  const peaks = scalePeaks(sm, drop, Math.max(2, Math.round((0.25 * (n - 1)) / (sMax - sMin))));
  if (peaks.length === 0) return null;
  const bestV = sm[peaks[0] as number] as number;
  let best: { fit: RayFit; score: number } | null = null;
  for (const pi of peaks) {
    const v = sm[pi] as number;
    if (v < HYPOTHESIS_FLOOR * bestV) break;
    const s1 = sMin + ((sMax - sMin) * pi) / (n - 1);
    // ---- pass 2: per-ray edges near s1 from the pupil centre, circle fit in the pupil-shaped frame.
    const fit2 = raysAndFit(img, specular, shape, rp, s1 * 0.78, s1 * 1.22, 64, LATERAL, irisLevel);
    if (!fit2) continue;
    // ---- pass 3: re-centred, narrower window, more sectors.
    const shape3: Shape = { ...shape, cx: fit2.cx, cy: fit2.cy };
    const fits = [raysAndFit(img, specular, shape3, fit2.rho, 0.9, 1.1, 96, WIDE, irisLevel) ?? fit2];
    // Lateral-only variant: a lower lid crossing the lower sector can drag the centre.
    const lat = raysAndFit(img, specular, shape3, fit2.rho, 0.9, 1.1, 96, LATERAL, irisLevel);
    if (lat) fits.push(lat);
    for (const fit3 of fits) {
      // Alternatives to the strongest pass-1 peak's wide fit must be clearly better.
      const sc: number = hypothesisScore(shape, fit3, v / bestV) / (best ? HYPOTHESIS_MARGIN : 1);
      if (!best || sc > best.score) best = { fit: fit3, score: sc };
    }
  }
  if (!best) return null;
  return { shape, fit: best.fit, score: best.score, irisLevel, peakResponse: bestV / used };
}

/** Pass-1 peaks below this fraction of the strongest one are not tried as radius hypotheses. */
const HYPOTHESIS_FLOOR = 0.35;
const MAX_HYPOTHESES = 3;
/** Score factor an alternative hypothesis needs over the default one. */
const HYPOTHESIS_MARGIN = 1.5;

/**
 * A pass-1 peak where the rays go, on average, from texture into smooth surroundings by at least this much
 * (the texture vote, in [0, 1]) may be the limbus. In the two of 600 synthetic captures where the limbus
 * was outvoted it scores 0.20 and 0.24; rings of the eye opening can score as much, which is why only
 * the innermost such peak is added, and it still has to win the hypothesis score.
 */
const LIMBUS_TEXTURE_DROP = 0.18;

/**
 * Indices of the strongest local maxima of `v`, at least `sep` samples apart, strongest first; then the
 * innermost peak above the hypothesis floor whose texture drop (`drop`) looks like a limbus, if it is
 * not among them: a faint limbus can be outvoted by the rings of the eye opening around it.
 */
function scalePeaks(v: Float64Array, drop: Float64Array, sep: number): number[] {
  const cand: number[] = [];
  for (let i = 1; i < v.length - 1; i++) {
    const x = v[i] as number;
    if (x > 0 && x >= (v[i - 1] as number) && x >= (v[i + 1] as number)) cand.push(i);
  }
  cand.sort((a, b) => (v[b] as number) - (v[a] as number));
  const out: number[] = [];
  for (const i of cand) {
    if (out.every((j) => Math.abs(j - i) >= sep)) out.push(i);
    if (out.length >= MAX_HYPOTHESES) break;
  }
  const floor = HYPOTHESIS_FLOOR * (v[out[0] ?? 0] as number);
  const inner = cand
    .filter((i) => (v[i] as number) >= floor && (drop[i] as number) >= LIMBUS_TEXTURE_DROP)
    .reduce((m, i) => Math.min(m, i), Number.POSITIVE_INFINITY);
  if (Number.isFinite(inner) && out.every((j) => Math.abs(j - inner) >= sep)) out.push(inner);
  return out;
}

/**
 * Plausibility of a limbus hypothesis: support around the visible boundary (inlier fraction of the wide
 * pass), fit residual, the pass-1 vote, the iris centre staying near the pupil centre, and the boundary
 * being iris-to-sclera (brighter outside than the iris) rather than a texture ring inside the iris.
 */
function hypothesisScore(shape: Shape, fit: RayFit, vote: number): number {
  const off = Math.hypot(fit.cx - shape.cx, fit.cy - shape.cy) / fit.rho;
  const prior = Math.exp(-0.5 * (Math.max(0, off - 0.05) / 0.06) ** 2);
  const resid = 1 / (1 + (fit.rms / Math.max(1.5, 0.02 * fit.rho)) ** 2);
  return fit.inlierFraction * resid * prior * (0.5 + 0.5 * vote);
}

/**
 * Weight of a dark-to-bright step at i: 1 when its inner side is at most iris-bright (the iris, or the
 * darkened rim of the iris), falling as the inner side gets brighter than the iris (sclera to skin).
 */
function irisSideWeight(values: Float32Array, i: number, half: number, n: number, irisLevel: number): number {
  const inner = values[Math.max(0, i - 2 * half)] as number;
  if (inner <= irisLevel + 4) return 1;
  const outer = values[Math.min(n - 1, i + 2 * half)] as number;
  const span = outer - irisLevel;
  if (span <= 1) return 0;
  const w = (outer - inner) / span;
  return w <= 0 ? 0 : w >= 1 ? 1 : w;
}

interface RayFit extends BoundarySupport {
  cx: number;
  cy: number;
  /** Radius along the major axis of the shape. */
  rho: number;
}

function raysAndFit(
  img: FloatImage,
  specular: Uint8Array,
  shape: Shape,
  rho: number,
  lo: number,
  hi: number,
  rays: number,
  sectors: ReadonlyArray<readonly [number, number]>,
  irisLevel: number,
): RayFit | null {
  const n = Math.max(16, Math.min(200, Math.ceil(rho * (hi - lo) * 1.5)));
  const half = Math.max(1, Math.round((Math.max(1.5, rho * 0.025) * (n - 1)) / (rho * (hi - lo))));
  const prof = allocProfile(n);
  const xs: number[] = [];
  const ys: number[] = [];
  const ws: number[] = [];
  const qs: number[] = [];
  const vs: number[] = [];
  let cast = 0;
  for (let k = 0; k < rays; k++) {
    const phi = (2 * Math.PI * (k + 0.5)) / rays;
    if (!inSectors(phi, sectors)) continue;
    cast++;
    const e = rho * shapeRadius(shape, phi);
    const ux = Math.cos(phi) * e;
    const uy = Math.sin(phi) * e;
    if (sampleRay(img, specular, shape.cx, shape.cy, ux, uy, lo, hi, n, half, prof) < n / 2) continue;
    let best = -1;
    let bestScore = 0;
    let bestStep = 0;
    for (let i = half; i < n - half; i++) {
      const d = prof.deriv[i] as number;
      if (d <= 0) continue;
      const sc = d * irisSideWeight(prof.values, i, half, n, irisLevel);
      if (sc > bestScore) {
        bestScore = sc;
        best = i;
        bestStep = d;
      }
    }
    if (best < 0 || bestStep < 2) continue;
    const off = parabolicPeakOffset(prof.deriv, best);
    const s = lo + ((hi - lo) * (best + off)) / (n - 1);
    const x = shape.cx + ux * s;
    const y = shape.cy + uy * s;
    xs.push(x);
    ys.push(y);
    ws.push(bestScore);
    const [u, v] = toCanonical(shape, x, y);
    qs.push(u);
    vs.push(v);
  }
  if (xs.length < 8) return null;
  const maxW = Math.max(...ws);
  const wn = ws.map((v) => Math.sqrt(v / maxW));
  const tol = Math.max(1.5, 0.03 * rho);
  const circ = ransacCircle(qs, vs, wn, tol, { minR: rho * lo, maxR: rho * hi * 1.05, iterations: 200 });
  if (!circ) return null;
  const [cx, cy] = fromCanonical(shape, circ.circle.x, circ.circle.y);
  let inl = 0;
  const strengths: number[] = [];
  for (let i = 0; i < circ.weights.length; i++) {
    if ((circ.weights[i] as number) > 0) {
      inl++;
      strengths.push(ws[i] as number);
    }
  }
  return {
    cx,
    cy,
    rho: circ.circle.r,
    xs: Float64Array.from(xs),
    ys: Float64Array.from(ys),
    weights: circ.weights,
    inlierFraction: inl / Math.max(1, cast),
    rms: circ.rms,
    edgeStrength: strengths.length > 0 ? median(strengths) : 0,
  };
}
