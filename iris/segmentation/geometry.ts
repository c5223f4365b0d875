/**
 * Geometry helpers: robust circle and ellipse fits to boundary points, and ellipse evaluation.
 *
 * Circle: RANSAC over 3-point circles, then weighted Gauss-Newton on the geometric residuals (Tukey
 * weights). Ellipse: the numerically stable direct least-squares conic fit (Halir and Flusser's form of
 * Fitzgibbon's method), iteratively reweighted on Sampson distances.
 */

import { seededRandom } from '../seeded-random.ts';
import type { Circle } from '../types.ts';
import { median } from './image-ops.ts';

/** An ellipse: centre, semi-axes a >= b, and the major axis angle (radians, from +x towards +y). */
export interface Ellipse {
  cx: number;
  cy: number;
  a: number;
  b: number;
  theta: number;
}

/** Mean radius circle of an ellipse. */
export function ellipseToCircle(e: Ellipse): Circle {
  return { x: e.cx, y: e.cy, r: (e.a + e.b) / 2 };
}

/** Wraps an angle difference into [-pi, pi). */
export function wrapAngle(d: number): number {
  return d - 2 * Math.PI * Math.floor((d + Math.PI) / (2 * Math.PI));
}

/** Distance from the ellipse centre to its boundary in image direction `phi`. */
export function ellipseRadiusAt(e: Ellipse, phi: number): number {
  const psi = phi - e.theta;
  const c = Math.cos(psi) / e.a;
  const s = Math.sin(psi) / e.b;
  return 1 / Math.sqrt(c * c + s * s);
}

/**
 * Moment-based eccentricity as open-iris defines it: ((mu20 - mu02)^2 + 4 mu11^2) / (mu20 + mu02)^2, which
 * for a filled ellipse is ((a^2 - b^2) / (a^2 + b^2))^2: 0 for a circle, 1 for a line.
 */
export function momentEccentricity(e: Ellipse): number {
  const a2 = e.a * e.a;
  const b2 = e.b * e.b;
  const r = (a2 - b2) / (a2 + b2);
  return r * r;
}

/** Is (x, y) inside the ellipse (scaled by `scale`)? */
export function insideEllipse(e: Ellipse, x: number, y: number, scale = 1): boolean {
  const dx = x - e.cx;
  const dy = y - e.cy;
  const c = Math.cos(e.theta);
  const s = Math.sin(e.theta);
  const u = (dx * c + dy * s) / (e.a * scale);
  const v = (-dx * s + dy * c) / (e.b * scale);
  return u * u + v * v <= 1;
}

// ---------------------------------------------------------------- circles

/** The weighted mean of the points and the weights' sum (weights default to 1); null if that sum is <= 0. */
function weightedCentroid(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  w?: ArrayLike<number>,
): { x: number; y: number; weight: number } | null {
  let sw = 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < xs.length; i++) {
    const wi = w ? (w[i] as number) : 1;
    sw += wi;
    mx += wi * (xs[i] as number);
    my += wi * (ys[i] as number);
  }
  return sw > 0 ? { x: mx / sw, y: my / sw, weight: sw } : null;
}

/** Weighted algebraic (Kasa) circle fit. */
export function fitCircleAlgebraic(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  w?: ArrayLike<number>,
): Circle | null {
  const n = xs.length;
  const centroid = weightedCentroid(xs, ys, w);
  if (!centroid) return null;
  const { x: mx, y: my, weight: sw } = centroid;
  let suu = 0;
  let svv = 0;
  let suv = 0;
  let suuu = 0;
  let svvv = 0;
  let suvv = 0;
  let svuu = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? (w[i] as number) : 1;
    const u = (xs[i] as number) - mx;
    const v = (ys[i] as number) - my;
    suu += wi * u * u;
    svv += wi * v * v;
    suv += wi * u * v;
    suuu += wi * u * u * u;
    svvv += wi * v * v * v;
    suvv += wi * u * v * v;
    svuu += wi * v * u * u;
  }
  const det = suu * svv - suv * suv;
  if (Math.abs(det) < 1e-9) return null;
  const b1 = 0.5 * (suuu + suvv);
  const b2 = 0.5 * (svvv + svuu);
  const uc = (b1 * svv - b2 * suv) / det;
  const vc = (b2 * suu - b1 * suv) / det;
  const r = Math.sqrt(uc * uc + vc * vc + (suu + svv) / sw);
  return { x: uc + mx, y: vc + my, r };
}

function circleFrom3(x1: number, y1: number, x2: number, y2: number, x3: number, y3: number): Circle | null {
  const ax = x2 - x1;
  const ay = y2 - y1;
  const bx = x3 - x1;
  const by = y3 - y1;
  const d = 2 * (ax * by - ay * bx);
  if (Math.abs(d) < 1e-9) return null;
  const a2 = ax * ax + ay * ay;
  const b2 = bx * bx + by * by;
  const ux = (by * a2 - ay * b2) / d;
  const uy = (ax * b2 - bx * a2) / d;
  return { x: x1 + ux, y: y1 + uy, r: Math.sqrt(ux * ux + uy * uy) };
}

/** Weighted Gauss-Newton refinement of a circle on geometric residuals with Tukey reweighting. */
export function refineCircle(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  w: ArrayLike<number>,
  init: Circle,
  tukeyC: number,
  iterations = 8,
): { circle: Circle; weights: Float64Array; rms: number } {
  const n = xs.length;
  let { x: cx, y: cy, r } = init;
  const rw = new Float64Array(n);
  const res = new Float64Array(n);
  let rms = 0;
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < n; i++) {
      const dx = (xs[i] as number) - cx;
      const dy = (ys[i] as number) - cy;
      res[i] = Math.sqrt(dx * dx + dy * dy) - r;
    }
    const scale = Math.max(tukeyC, 4.5 * 1.4826 * median(Array.from(res, Math.abs)));
    for (let i = 0; i < n; i++) {
      const t = (res[i] as number) / scale;
      rw[i] = Math.abs(t) < 1 ? (w[i] as number) * (1 - t * t) * (1 - t * t) : 0;
    }
    // Normal equations J^T W J d = -J^T W r.
    let a00 = 0;
    let a01 = 0;
    let a02 = 0;
    let a11 = 0;
    let a12 = 0;
    let a22 = 0;
    let g0 = 0;
    let g1 = 0;
    let g2 = 0;
    let sw = 0;
    let sr = 0;
    for (let i = 0; i < n; i++) {
      const wi = rw[i] as number;
      if (wi === 0) continue;
      const dx = (xs[i] as number) - cx;
      const dy = (ys[i] as number) - cy;
      const d = Math.sqrt(dx * dx + dy * dy) || 1e-9;
      const j0 = -dx / d;
      const j1 = -dy / d;
      const ri = res[i] as number;
      a00 += wi * j0 * j0;
      a01 += wi * j0 * j1;
      a02 -= wi * j0;
      a11 += wi * j1 * j1;
      a12 -= wi * j1;
      a22 += wi;
      g0 += wi * j0 * ri;
      g1 += wi * j1 * ri;
      g2 -= wi * ri;
      sw += wi;
      sr += wi * ri * ri;
    }
    rms = sw > 0 ? Math.sqrt(sr / sw) : Number.POSITIVE_INFINITY;
    const delta = solve3(a00, a01, a02, a11, a12, a22, -g0, -g1, -g2);
    if (!delta) break;
    cx += delta[0];
    cy += delta[1];
    r += delta[2];
    if (Math.abs(delta[0]) + Math.abs(delta[1]) + Math.abs(delta[2]) < 1e-3) break;
  }
  return { circle: { x: cx, y: cy, r: Math.abs(r) }, weights: rw, rms };
}

/** Solves a symmetric 3x3 system; null when singular. */
function solve3(
  a00: number,
  a01: number,
  a02: number,
  a11: number,
  a12: number,
  a22: number,
  b0: number,
  b1: number,
  b2: number,
): [number, number, number] | null {
  const c00 = a11 * a22 - a12 * a12;
  const c01 = a02 * a12 - a01 * a22;
  const c02 = a01 * a12 - a02 * a11;
  const det = a00 * c00 + a01 * c01 + a02 * c02;
  if (Math.abs(det) < 1e-12) return null;
  const c11 = a00 * a22 - a02 * a02;
  const c12 = a01 * a02 - a00 * a12;
  const c22 = a00 * a11 - a01 * a01;
  return [
    (c00 * b0 + c01 * b1 + c02 * b2) / det,
    (c01 * b0 + c11 * b1 + c12 * b2) / det,
    (c02 * b0 + c12 * b1 + c22 * b2) / det,
  ];
}

export interface RobustCircleResult {
  circle: Circle;
  /** Final per-point weights (0 = outlier). */
  weights: Float64Array;
  inlierFraction: number;
  rms: number;
}

/**
 * RANSAC (deterministic seed) over point triples, scored by weighted inlier count within `tolerance`,
 * with an optional radius range; then Tukey-weighted geometric refinement.
 */
export function ransacCircle(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  w: ArrayLike<number>,
  tolerance: number,
  opts: { minR?: number; maxR?: number; iterations?: number; seed?: number } = {},
): RobustCircleResult | null {
  const n = xs.length;
  if (n < 3) return null;
  const rand = seededRandom(opts.seed ?? 12345);
  const minR = opts.minR ?? 0;
  const maxR = opts.maxR ?? Number.POSITIVE_INFINITY;
  const iterations = opts.iterations ?? 150;
  let best: Circle | null = null;
  let bestScore = -1;
  for (let it = 0; it < iterations; it++) {
    const i = Math.floor(rand() * n);
    const j = Math.floor(rand() * n);
    const k = Math.floor(rand() * n);
    if (i === j || j === k || i === k) continue;
    const c = circleFrom3(
      xs[i] as number,
      ys[i] as number,
      xs[j] as number,
      ys[j] as number,
      xs[k] as number,
      ys[k] as number,
    );
    if (!c || c.r < minR || c.r > maxR) continue;
    let score = 0;
    for (let m = 0; m < n; m++) {
      const dx = (xs[m] as number) - c.x;
      const dy = (ys[m] as number) - c.y;
      const e = Math.abs(Math.sqrt(dx * dx + dy * dy) - c.r);
      if (e < tolerance) score += (w[m] as number) * (1 - (e / tolerance) ** 2);
    }
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  if (!best) {
    best = fitCircleAlgebraic(xs, ys, w);
    if (!best) return null;
  }
  const { circle, weights, rms } = refineCircle(xs, ys, w, best, tolerance);
  let inl = 0;
  for (let m = 0; m < n; m++) if ((weights[m] as number) > 0) inl++;
  return { circle, weights, inlierFraction: inl / n, rms };
}

// ---------------------------------------------------------------- ellipses

/** Conic coefficients [A, B, C, D, E, F] of A x^2 + B xy + C y^2 + D x + E y + F = 0. */
type Conic = [number, number, number, number, number, number];

/** Weighted direct least-squares ellipse fit (Halir-Flusser). Null when degenerate or not an ellipse. */
export function fitEllipseDirect(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  w?: ArrayLike<number>,
): Ellipse | null {
  const n = xs.length;
  if (n < 6) return null;
  // Normalise for conditioning.
  const centroid = weightedCentroid(xs, ys, w);
  if (!centroid) return null;
  const { x: mx, y: my, weight: sw } = centroid;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? (w[i] as number) : 1;
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    ss += wi * (dx * dx + dy * dy);
  }
  const s = Math.sqrt(ss / sw / 2) || 1;
  // Scatter matrices S1 (quadratic), S2 (mixed), S3 (linear).
  const S1 = new Float64Array(9);
  const S2 = new Float64Array(9);
  const S3 = new Float64Array(9);
  for (let i = 0; i < n; i++) {
    const wi = w ? (w[i] as number) : 1;
    if (wi === 0) continue;
    const x = ((xs[i] as number) - mx) / s;
    const y = ((ys[i] as number) - my) / s;
    const d1 = [x * x, x * y, y * y];
    const d2 = [x, y, 1];
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) {
        S1[r * 3 + c] = (S1[r * 3 + c] as number) + wi * (d1[r] as number) * (d1[c] as number);
        S2[r * 3 + c] = (S2[r * 3 + c] as number) + wi * (d1[r] as number) * (d2[c] as number);
        S3[r * 3 + c] = (S3[r * 3 + c] as number) + wi * (d2[r] as number) * (d2[c] as number);
      }
    }
  }
  const S3i = invert3(S3);
  if (!S3i) return null;
  // T = -S3^-1 S2^T
  const T = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let acc = 0;
      for (let k = 0; k < 3; k++) acc += (S3i[r * 3 + k] as number) * (S2[c * 3 + k] as number);
      T[r * 3 + c] = -acc;
    }
  }
  // M = S1 + S2 T
  const M = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let acc = S1[r * 3 + c] as number;
      for (let k = 0; k < 3; k++) acc += (S2[r * 3 + k] as number) * (T[k * 3 + c] as number);
      M[r * 3 + c] = acc;
    }
  }
  // M' = C1^-1 M with C1^-1 rows [M2 / 2, -M1, M0 / 2].
  const Mp = new Float64Array([
    (M[6] as number) / 2,
    (M[7] as number) / 2,
    (M[8] as number) / 2,
    -(M[3] as number),
    -(M[4] as number),
    -(M[5] as number),
    (M[0] as number) / 2,
    (M[1] as number) / 2,
    (M[2] as number) / 2,
  ]);
  const vecs = eigenvectors3(Mp);
  let best: number[] | null = null;
  let bestCond = 0;
  for (const v of vecs) {
    const norm = Math.hypot(v[0] as number, v[1] as number, v[2] as number);
    if (norm === 0) continue;
    const a = (v[0] as number) / norm;
    const b = (v[1] as number) / norm;
    const c = (v[2] as number) / norm;
    const cond = 4 * a * c - b * b;
    if (cond > bestCond) {
      bestCond = cond;
      best = [a, b, c];
    }
  }
  if (!best) return null;
  const a2 = [0, 0, 0];
  for (let r = 0; r < 3; r++) {
    let acc = 0;
    for (let k = 0; k < 3; k++) acc += (T[r * 3 + k] as number) * (best[k] as number);
    a2[r] = acc;
  }
  const conic: Conic = [
    best[0] as number,
    best[1] as number,
    best[2] as number,
    a2[0] as number,
    a2[1] as number,
    a2[2] as number,
  ];
  const e = conicToEllipse(conic);
  if (!e) return null;
  return { cx: e.cx * s + mx, cy: e.cy * s + my, a: e.a * s, b: e.b * s, theta: e.theta };
}

function invert3(m: Float64Array): Float64Array | null {
  const [a, b, c, d, e, f, g, h, i] = m as unknown as number[];
  const A = (e as number) * (i as number) - (f as number) * (h as number);
  const B = -((d as number) * (i as number) - (f as number) * (g as number));
  const C = (d as number) * (h as number) - (e as number) * (g as number);
  const det = (a as number) * A + (b as number) * B + (c as number) * C;
  if (Math.abs(det) < 1e-12) return null;
  const out = new Float64Array([
    A,
    -((b as number) * (i as number) - (c as number) * (h as number)),
    (b as number) * (f as number) - (c as number) * (e as number),
    B,
    (a as number) * (i as number) - (c as number) * (g as number),
    -((a as number) * (f as number) - (c as number) * (d as number)),
    C,
    -((a as number) * (h as number) - (b as number) * (g as number)),
    (a as number) * (e as number) - (b as number) * (d as number),
  ]);
  for (let k = 0; k < 9; k++) out[k] = (out[k] as number) / det;
  return out;
}

/** Real eigenvectors of a general 3x3 matrix (row-major), from the characteristic cubic. */
function eigenvectors3(m: Float64Array): number[][] {
  const [a, b, c, d, e, f, g, h, i] = Array.from(m) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // lambda^3 + p2 lambda^2 + p1 lambda + p0 = 0
  const tr = a + e + i;
  const minors = a * e - b * d + a * i - c * g + e * i - f * h;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  const roots = solveCubic(-tr, minors, -det);
  const out: number[][] = [];
  for (const l of roots) {
    const r0 = [a - l, b, c];
    const r1 = [d, e - l, f];
    const r2 = [g, h, i - l];
    const cands = [cross(r0, r1), cross(r0, r2), cross(r1, r2)];
    let bestV = cands[0] as number[];
    let bestN = 0;
    for (const v of cands) {
      const nrm = Math.hypot(v[0] as number, v[1] as number, v[2] as number);
      if (nrm > bestN) {
        bestN = nrm;
        bestV = v;
      }
    }
    if (bestN > 0) out.push(bestV);
  }
  return out;
}

function cross(u: number[], v: number[]): number[] {
  const [u0, u1, u2] = u as [number, number, number];
  const [v0, v1, v2] = v as [number, number, number];
  return [u1 * v2 - u2 * v1, u2 * v0 - u0 * v2, u0 * v1 - u1 * v0];
}

/** Real roots of x^3 + a x^2 + b x + c. */
function solveCubic(a: number, b: number, c: number): number[] {
  const q = (a * a - 3 * b) / 9;
  const r = (2 * a * a * a - 9 * a * b + 27 * c) / 54;
  const q3 = q * q * q;
  if (r * r < q3) {
    const t = Math.acos(Math.max(-1, Math.min(1, r / Math.sqrt(q3))));
    const sq = -2 * Math.sqrt(q);
    return [
      sq * Math.cos(t / 3) - a / 3,
      sq * Math.cos((t + 2 * Math.PI) / 3) - a / 3,
      sq * Math.cos((t - 2 * Math.PI) / 3) - a / 3,
    ];
  }
  const A = -Math.sign(r) * Math.cbrt(Math.abs(r) + Math.sqrt(r * r - q3));
  const B = A === 0 ? 0 : q / A;
  return [A + B - a / 3];
}

/** Conic coefficients to centre / axes / angle; null when the conic is not a real ellipse. */
export function conicToEllipse(k: Conic): Ellipse | null {
  let [A, B, C, D, E, F] = k;
  const den = 4 * A * C - B * B;
  if (den <= 0) return null;
  const x0 = (B * E - 2 * C * D) / den;
  const y0 = (B * D - 2 * A * E) / den;
  let F0 = A * x0 * x0 + B * x0 * y0 + C * y0 * y0 + D * x0 + E * y0 + F;
  if (A + C < 0) {
    A = -A;
    B = -B;
    C = -C;
    F0 = -F0;
  }
  if (F0 >= 0) return null;
  const mid = (A + C) / 2;
  const rad = Math.sqrt(((A - C) / 2) ** 2 + (B / 2) ** 2);
  const lSmall = mid - rad;
  const lBig = mid + rad;
  if (lSmall <= 0) return null;
  const a = Math.sqrt(-F0 / lSmall);
  const b = Math.sqrt(-F0 / lBig);
  // Eigenvector of the smaller eigenvalue = major axis direction.
  let vx: number;
  let vy: number;
  if (Math.abs(B) > 1e-12) {
    vx = B / 2;
    vy = lSmall - A;
    const ux = lSmall - C;
    const uy = B / 2;
    if (Math.hypot(ux, uy) > Math.hypot(vx, vy)) {
      vx = ux;
      vy = uy;
    }
  } else if (A <= C) {
    vx = 1;
    vy = 0;
  } else {
    vx = 0;
    vy = 1;
  }
  let theta = Math.atan2(vy, vx);
  if (theta > Math.PI / 2) theta -= Math.PI;
  if (theta <= -Math.PI / 2) theta += Math.PI;
  return { cx: x0, cy: y0, a, b, theta };
}

/** Approximate geometric distance from a point to an ellipse (radial along the centre ray). */
export function ellipseRadialResidual(e: Ellipse, x: number, y: number): number {
  const dx = x - e.cx;
  const dy = y - e.cy;
  const d = Math.sqrt(dx * dx + dy * dy);
  return d - ellipseRadiusAt(e, Math.atan2(dy, dx));
}

/**
 * Iteratively reweighted ellipse fit: starts from `initWeights` (e.g. a circle RANSAC's inliers) and
 * reweights on radial residuals with Tukey's biweight.
 */
export function robustEllipse(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  initWeights: ArrayLike<number>,
  tukeyC: number,
  iterations = 4,
): { ellipse: Ellipse; weights: Float64Array; rms: number } | null {
  const n = xs.length;
  const w = Float64Array.from(initWeights as ArrayLike<number>);
  let e = fitEllipseDirect(xs, ys, w);
  if (!e) return null;
  let rms = 0;
  for (let it = 0; it < iterations; it++) {
    const res = new Float64Array(n);
    for (let i = 0; i < n; i++) res[i] = ellipseRadialResidual(e, xs[i] as number, ys[i] as number);
    const scale = Math.max(tukeyC, 4.5 * 1.4826 * median(Array.from(res, Math.abs)));
    let sw = 0;
    let sr = 0;
    for (let i = 0; i < n; i++) {
      const t = (res[i] as number) / scale;
      const wi = Math.abs(t) < 1 ? ((initWeights[i] as number) > 0 ? (1 - t * t) ** 2 : 0) : 0;
      w[i] = wi;
      sw += wi;
      sr += wi * (res[i] as number) ** 2;
    }
    rms = sw > 0 ? Math.sqrt(sr / sw) : Number.POSITIVE_INFINITY;
    const next = fitEllipseDirect(xs, ys, w);
    if (!next) break;
    e = next;
  }
  return { ellipse: e, weights: w, rms };
}

/** A fast inside test for many points (cos/sin precomputed). */
export function ellipseTester(e: Ellipse, scale = 1): (x: number, y: number) => boolean {
  const c = Math.cos(e.theta);
  const s = Math.sin(e.theta);
  const ia = 1 / (e.a * scale);
  const ib = 1 / (e.b * scale);
  const { cx, cy } = e;
  return (x: number, y: number): boolean => {
    const dx = x - cx;
    const dy = y - cy;
    const u = (dx * c + dy * s) * ia;
    const v = (-dx * s + dy * c) * ib;
    return u * u + v * v <= 1;
  };
}
