/**
 * Eyelashes: thin, tapering, curved dark strokes (quadratic Bezier curves) rooted along the lid margins. Upper
 * lashes mostly sweep up and outwards, curling away from the eye, while a share droops down over the sclera
 * and iris; lower lashes are fewer, shorter and point down. The strokes are rasterised into a coverage
 * (alpha) map that the renderer blends towards the lash grey level.
 */

import { lidAt } from './eyelids.ts';
import { type EyeGeometry, fromEyeFrame } from './geometry.ts';
import type { Rng } from './random.ts';
import type { IdentityParams, Point, Quadratic, SessionParams } from './types.ts';

const DEG = Math.PI / 180;

function rotate(x: number, y: number, angle: number): Point {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return { x: x * c - y * s, y: x * s + y * c };
}

/** Draws one tapering stroke along a quadratic Bezier curve (image coordinates) into `alpha` (max-combined). */
function stroke(
  alpha: Float32Array,
  width: number,
  height: number,
  p0: Point,
  p1: Point,
  p2: Point,
  halfWidth: number,
  opacity: number,
): void {
  const length = Math.hypot(p1.x - p0.x, p1.y - p0.y) + Math.hypot(p2.x - p1.x, p2.y - p1.y);
  const steps = Math.max(2, Math.ceil(length / 0.7));
  for (let k = 0; k <= steps; k++) {
    const t = k / steps;
    const a = (1 - t) * (1 - t);
    const b = 2 * t * (1 - t);
    const c = t * t;
    const x = a * p0.x + b * p1.x + c * p2.x;
    const y = a * p0.y + b * p1.y + c * p2.y;
    const w = halfWidth * (1 - 0.75 * t);
    const reach = w + 0.5;
    const reach2 = reach * reach;
    const xa = Math.max(0, Math.ceil(x - reach));
    const xb = Math.min(width - 1, Math.floor(x + reach));
    const ya = Math.max(0, Math.ceil(y - reach));
    const yb = Math.min(height - 1, Math.floor(y + reach));
    for (let py = ya; py <= yb; py++) {
      const dy = py - y;
      for (let px = xa; px <= xb; px++) {
        const dx = px - x;
        const d2 = dx * dx + dy * dy;
        if (d2 >= reach2) continue;
        let cov = reach - Math.sqrt(d2);
        if (cov > 1) cov = 1;
        cov *= opacity;
        const i = py * width + px;
        if (cov > (alpha[i] as number)) alpha[i] = cov;
      }
    }
  }
}

/** Rasterises all eyelashes of a capture into a width x height coverage map. */
export function drawEyelashes(
  rng: Rng,
  identity: IdentityParams,
  session: SessionParams,
  g: EyeGeometry,
  width: number,
  height: number,
): Float32Array {
  const alpha = new Float32Array(width * height);
  const ri = g.irisRadius;
  const { upper, lower, nasalCorner, temporalCorner } = session.eyelids;
  const uMin = Math.min(nasalCorner.x, temporalCorner.x);
  const uMax = Math.max(nasalCorner.x, temporalCorner.x);
  const lengthScale = identity.lashes.length * ri;

  /** One lash rooted at fraction t of the lid (0 = left corner) with the given lean, length and curl. */
  const lash = (
    lid: Quadratic,
    isUpper: boolean,
    droop: boolean,
    t: number,
    lean: number,
    length: number,
    curl: number,
  ) => {
    const u = uMin + t * (uMax - uMin);
    const slope = lid.c1 + 2 * lid.c2 * u;
    const norm = Math.hypot(1, slope);
    // Outward normal: up (v < 0) for the upper lid, down for the lower one.
    const nx = isUpper ? slope / norm : -slope / norm;
    const ny = isUpper ? -1 / norm : 1 / norm;
    const root = { x: u, y: lidAt(lid, u) + (isUpper ? -1 : 1) * rng.uniform(0, 2) };
    // Drooping lashes hang into the eye (against the normal); rotations are clockwise on screen.
    const dir = droop ? rotate(-nx, -ny, -lean) : rotate(nx, ny, isUpper ? lean : -lean);
    const bend = rotate(dir.x, dir.y, curl);
    const p1 = { x: root.x + 0.5 * length * dir.x, y: root.y + 0.5 * length * dir.y };
    const p2 = { x: p1.x + 0.5 * length * bend.x, y: p1.y + 0.5 * length * bend.y };
    const halfWidth = isUpper ? rng.uniform(0.5, 1.3) : rng.uniform(0.35, 0.8);
    const opacity = rng.uniform(0.6, 1);
    stroke(
      alpha,
      width,
      height,
      fromEyeFrame(g, root.x, root.y),
      fromEyeFrame(g, p1.x, p1.y),
      fromEyeFrame(g, p2.x, p2.y),
      halfWidth,
      opacity,
    );
  };

  // Upper lashes grow in clumps that share a root region, a lean and a length.
  let remaining = session.lashes.upper;
  while (remaining > 0) {
    const size = Math.min(remaining, rng.int(1, 5));
    remaining -= size;
    const t = rng.uniform(0.05, 0.95);
    const side = 2 * t - 1; // -1 at the left corner, +1 at the right one; lashes lean towards the nearer corner
    const droop = rng.chance(session.lashes.droop);
    const lean = droop
      ? (side * 20 + rng.normal(0, 25)) * DEG
      : (side * rng.uniform(10, 50) + rng.normal(0, 15)) * DEG;
    const length =
      lengthScale * (droop ? rng.uniform(0.08, 0.4) : rng.uniform(0.2, 0.6)) * (1 - 0.4 * side * side);
    const curlSign = side >= 0 ? 1 : -1;
    // Upright lashes mostly fan further out (sometimes curl back up); drooping ones curl outwards.
    const curl = droop ? -curlSign * rng.uniform(10, 50) * DEG : curlSign * rng.uniform(-30, 70) * DEG;
    for (let k = 0; k < size; k++) {
      lash(
        upper,
        true,
        droop,
        Math.min(0.97, Math.max(0.03, t + rng.normal(0, 0.012))),
        lean + rng.normal(0, 6) * DEG,
        length * rng.uniform(0.8, 1.1),
        curl + rng.normal(0, 8) * DEG,
      );
    }
  }
  // Lower lashes: single, short, pointing down and outwards.
  for (let k = 0; k < session.lashes.lower; k++) {
    const t = rng.uniform(0.08, 0.92);
    const side = 2 * t - 1;
    const curlSign = side >= 0 ? 1 : -1;
    lash(
      lower,
      false,
      false,
      t,
      (side * rng.uniform(10, 45) + rng.normal(0, 12)) * DEG,
      lengthScale * rng.uniform(0.05, 0.18),
      -curlSign * rng.uniform(0, 30) * DEG,
    );
  }
  return alpha;
}

/**
 * Faint conjunctival blood vessels: a few thin wandering strokes on the sclera running from the eye corners
 * towards the iris, returned as a darkening map (0 = none). Their shape comes from `rng` (the identity's).
 */
export function drawVessels(
  rng: Rng,
  session: SessionParams,
  g: EyeGeometry,
  width: number,
  height: number,
): Float32Array {
  const alpha = new Float32Array(width * height);
  const ri = g.irisRadius;
  const { nasalCorner, temporalCorner } = session.eyelids;
  const count = rng.int(0, 10);
  for (let k = 0; k < count; k++) {
    const corner = rng.chance(0.6) ? nasalCorner : temporalCorner;
    const towards = -Math.sign(corner.x);
    // Start part-way from the corner, wander towards the limbus in 2 to 4 curved segments.
    let x = corner.x * rng.uniform(0.55, 0.9);
    let y = rng.uniform(-0.45, 0.45) * ri;
    let heading = (towards > 0 ? 0 : Math.PI) + rng.normal(0, 0.5);
    const darkness = rng.uniform(0.03, 0.12);
    let halfWidth = rng.uniform(0.4, 1.0);
    for (let seg = rng.int(2, 4); seg > 0; seg--) {
      const len = rng.uniform(0.15, 0.4) * ri;
      const turn = rng.normal(0, 0.5);
      const p0 = { x, y };
      const p1 = { x: x + 0.5 * len * Math.cos(heading), y: y + 0.5 * len * Math.sin(heading) };
      heading += turn;
      const p2 = { x: p1.x + 0.5 * len * Math.cos(heading), y: p1.y + 0.5 * len * Math.sin(heading) };
      stroke(
        alpha,
        width,
        height,
        fromEyeFrame(g, p0.x, p0.y),
        fromEyeFrame(g, p1.x, p1.y),
        fromEyeFrame(g, p2.x, p2.y),
        halfWidth,
        darkness,
      );
      x = p2.x;
      y = p2.y;
      halfWidth *= 0.8;
      if (Math.abs(x) < 1.05 * ri) break;
    }
  }
  return alpha;
}
