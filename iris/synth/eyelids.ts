/**
 * Eyelids: the upper and lower lid margins are parabolas v = c0 + c1 u + c2 u^2 in the eye frame (u along the
 * rotated horizontal, v down), both passing through the two eye corners; the eye is open between them. A lid is
 * placed by its height c0 above/below the iris centre, which is solved so that the lid hides a target share of
 * the iris annulus. The same annulus measure gives the truth's visible iris fraction.
 */
import { type EyeGeometry, insideEllipse } from './geometry.ts';
import type { Point, Quadratic } from './types.ts';

const DEG = Math.PI / 180;

/** The parabola through two corners (u1 < 0 < u2 or the reverse) with value c0 at u = 0. */
export function lidThroughCorners(c0: number, a: Point, b: Point): Quadratic {
  // a.y - c0 = c1 a.x + c2 a.x^2, b.y - c0 = c1 b.x + c2 b.x^2.
  const det = a.x * b.x * b.x - b.x * a.x * a.x;
  const ya = a.y - c0;
  const yb = b.y - c0;
  const c1 = (ya * b.x * b.x - yb * a.x * a.x) / det;
  const c2 = (a.x * yb - b.x * ya) / det;
  return { c0, c1, c2 };
}

export function lidAt(q: Quadratic, u: number): number {
  return q.c0 + q.c1 * u + q.c2 * u * u;
}

/** Points of the iris annulus (inside the iris ellipse, outside the pupil ellipse) on a grid, in the eye frame. */
export interface AnnulusSamples {
  u: Float32Array;
  v: Float32Array;
  count: number;
}

/** Samples the annulus on a square grid of `step` pixels (pixel centres when step = 1). */
export function annulusSamples(g: EyeGeometry, step: number): AnnulusSamples {
  const iris = g.iris;
  const pupil = g.pupil;
  const ic = Math.cos(iris.angleDeg * DEG);
  const is = Math.sin(iris.angleDeg * DEG);
  const pc = Math.cos(pupil.angleDeg * DEG);
  const ps = Math.sin(pupil.angleDeg * DEG);
  const x0 = Math.floor(iris.x - iris.a - 1);
  const y0 = Math.floor(iris.y - iris.a - 1);
  const x1 = Math.ceil(iris.x + iris.a + 1);
  const y1 = Math.ceil(iris.y + iris.a + 1);
  const nx = Math.floor((x1 - x0) / step) + 1;
  const ny = Math.floor((y1 - y0) / step) + 1;
  const u = new Float32Array(nx * ny);
  const v = new Float32Array(nx * ny);
  let count = 0;
  for (let j = 0; j < ny; j++) {
    const y = y0 + j * step;
    for (let i = 0; i < nx; i++) {
      const x = x0 + i * step;
      if (!insideEllipse(iris, ic, is, x, y) || insideEllipse(pupil, pc, ps, x, y)) continue;
      const dx = x - g.centre.x;
      const dy = y - g.centre.y;
      u[count] = dx * g.cosRot + dy * g.sinRot;
      v[count] = -dx * g.sinRot + dy * g.cosRot;
      count++;
    }
  }
  return { u, v, count };
}

export interface Occlusion {
  /** Share hidden by the upper lid, by the lower lid, and visible between them. */
  upper: number;
  lower: number;
  visible: number;
}

export function measureOcclusion(s: AnnulusSamples, upper: Quadratic, lower: Quadratic): Occlusion {
  let up = 0;
  let low = 0;
  let vis = 0;
  for (let i = 0; i < s.count; i++) {
    const u = s.u[i] as number;
    const v = s.v[i] as number;
    const above = v < lidAt(upper, u);
    const below = v > lidAt(lower, u);
    if (above) up++;
    if (below) low++;
    if (!above && !below) vis++;
  }
  const n = Math.max(1, s.count);
  return { upper: up / n, lower: low / n, visible: vis / n };
}

/** Share of annulus samples hidden by one lid (upper: above it; lower: below it). */
function hiddenBy(s: AnnulusSamples, lid: Quadratic, upper: boolean): number {
  let hidden = 0;
  for (let i = 0; i < s.count; i++) {
    const edge = lidAt(lid, s.u[i] as number);
    const v = s.v[i] as number;
    if (upper ? v < edge : v > edge) hidden++;
  }
  return hidden / Math.max(1, s.count);
}

/**
 * The lid (through the corners) hiding `target` of the annulus; with target 0 the lid clears the iris by
 * `gap` pixels beyond the lowest height that hides nothing. Bisection on c0 (the hidden share is monotone in c0).
 */
export function solveLid(
  s: AnnulusSamples,
  nasal: Point,
  temporal: Point,
  upper: boolean,
  target: number,
  gap: number,
  reach: number,
): Quadratic {
  // c0 runs from "far from the iris" (nothing hidden) to "at the centre" (about half hidden).
  let free = upper ? -reach : reach;
  let covered = 0;
  const hidden = (c0: number) => hiddenBy(s, lidThroughCorners(c0, nasal, temporal), upper);
  if (target <= 0) {
    for (let k = 0; k < 30; k++) {
      const mid = (free + covered) / 2;
      if (hidden(mid) > 0) covered = mid;
      else free = mid;
    }
    return lidThroughCorners(upper ? free - gap : free + gap, nasal, temporal);
  }
  for (let k = 0; k < 30; k++) {
    const mid = (free + covered) / 2;
    if (hidden(mid) >= target) covered = mid;
    else free = mid;
  }
  return lidThroughCorners(free, nasal, temporal);
}
