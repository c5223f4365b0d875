/**
 * In-plane eye orientation.
 *
 * open-iris takes the principal axis of the eyeball (eye opening) region. Here the eye opening is known
 * only through the two lid parabolas fitted inside the iris; their intersections approximate the eye
 * corners, and the corner-to-corner line gives the eye axis. The estimate is used only when both lids
 * were found, they intersect on both sides of the iris at a plausible distance (1.2 to 5 iris radii),
 * and the axis is within +-25 degrees of horizontal; otherwise the orientation is 0 and flagged
 * unreliable (the matcher's +-15 column shift covers +-10.5 degrees of residual roll).
 */
import type { Parabola } from './eyelids.ts';
import type { Ellipse } from './geometry.ts';

export interface Orientation {
  angle: number;
  reliable: boolean;
  corners: [{ x: number; y: number }, { x: number; y: number }] | null;
}

export function estimateOrientation(
  upper: Parabola | null,
  lower: Parabola | null,
  iris: Ellipse,
): Orientation {
  const none: Orientation = { angle: 0, reliable: false, corners: null };
  if (!upper || !lower) return none;
  // Both parabolas are expressed around the same x0 (the iris centre column).
  const x0 = upper.x0;
  const lowerAt = (x: number): number => {
    const d = x - lower.x0;
    return lower.c0 + lower.c1 * d + lower.c2 * d * d;
  };
  if (Math.abs(lower.x0 - x0) > 1e-6) return none;
  // Intersections: a d^2 + b d + c = 0 with d = x - x0.
  const a = upper.c2 - lower.c2;
  const b = upper.c1 - lower.c1;
  const c = upper.c0 - lower.c0;
  const disc = b * b - 4 * a * c;
  if (Math.abs(a) < 1e-12 || disc <= 0) return none;
  const sq = Math.sqrt(disc);
  const d1 = (-b - sq) / (2 * a);
  const d2 = (-b + sq) / (2 * a);
  const left = Math.min(d1, d2);
  const right = Math.max(d1, d2);
  const ri = (iris.a + iris.b) / 2;
  if (left > -1.2 * ri || right < 1.2 * ri || left < -5 * ri || right > 5 * ri) return none;
  const pL = { x: x0 + left, y: lowerAt(x0 + left) };
  const pR = { x: x0 + right, y: lowerAt(x0 + right) };
  const angle = Math.atan2(pR.y - pL.y, pR.x - pL.x);
  if (Math.abs(angle) > (25 * Math.PI) / 180) return none;
  return { angle, reliable: true, corners: [pL, pR] };
}
