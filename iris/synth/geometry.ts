/**
 * Eye geometry of one capture. The eye is modelled on a "frontal" plane (what a camera on the optical axis
 * would see): a circular iris and an elliptical pupil, offset from it, both rotated by the head roll. Off-axis
 * gaze then foreshortens that plane by cos(offAxis) along the gaze direction about the iris centre, turning
 * both boundaries into ellipses. The texture lives on the frontal plane, so it follows the foreshortening
 * exactly as the real iris surface would.
 */
import type { Ellipse, IdentityParams, Point, SessionParams } from './types.ts';

const DEG = Math.PI / 180;

/** A 2x2 matrix [[a, b], [c, d]]. */
export interface Mat2 {
  a: number;
  b: number;
  c: number;
  d: number;
}

function mul(m: Mat2, n: Mat2): Mat2 {
  return {
    a: m.a * n.a + m.b * n.c,
    b: m.a * n.b + m.b * n.d,
    c: m.c * n.a + m.d * n.c,
    d: m.c * n.b + m.d * n.d,
  };
}

function inverse(m: Mat2): Mat2 {
  const det = m.a * m.d - m.b * m.c;
  return { a: m.d / det, b: -m.b / det, c: -m.c / det, d: m.a / det };
}

function rotation(angle: number): Mat2 {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return { a: c, b: -s, c: s, d: c };
}

/** R(angle) diag(sx, sy) R(-angle): scales by sx along direction angle and by sy across it. */
function axisScale(angle: number, sx: number, sy: number): Mat2 {
  return mul(mul(rotation(angle), { a: sx, b: 0, c: 0, d: sy }), rotation(-angle));
}

/** The ellipse {centre + M u : |u| = 1}. */
export function ellipseFromMatrix(centre: Point, m: Mat2): Ellipse {
  // Axes from the eigen-decomposition of M M^T.
  const p = m.a * m.a + m.b * m.b;
  const q = m.a * m.c + m.b * m.d;
  const r = m.c * m.c + m.d * m.d;
  const mid = (p + r) / 2;
  const rad = Math.sqrt(((p - r) / 2) ** 2 + q * q);
  const a = Math.sqrt(mid + rad);
  const b = Math.sqrt(Math.max(mid - rad, 0));
  let angle = 0.5 * Math.atan2(2 * q, p - r);
  if (angle <= -Math.PI / 2) angle += Math.PI;
  return { x: centre.x, y: centre.y, r: (a + b) / 2, a, b, angleDeg: angle / DEG };
}

/** Everything the renderer and the truth need about where the eye is. */
export interface EyeGeometry {
  /** Iris centre (image and frontal plane), the eye-frame origin. */
  centre: Point;
  /** Head roll, radians; cos and sin cached. */
  rotation: number;
  cosRot: number;
  sinRot: number;
  /** Frontal iris radius and mean pupil radius. */
  irisRadius: number;
  pupilRadius: number;
  /** Frontal pupil centre, and the inverse of the frontal pupil shape matrix. */
  pupilCentre: Point;
  pupilInv: Mat2;
  /** Foreshortening about the centre (frontal -> image) and its inverse. */
  gaze: Mat2;
  gazeInv: Mat2;
  /** Both boundaries in the image. */
  pupil: Ellipse;
  iris: Ellipse;
  /** Radial non-linearity of the stretch this capture (0 = linear rubber sheet). */
  warp: number;
}

/** Computes the geometry of a capture. */
export function computeGeometry(identity: IdentityParams, session: SessionParams): EyeGeometry {
  const rot = session.rotationDeg * DEG;
  const cosRot = Math.cos(rot);
  const sinRot = Math.sin(rot);
  const ri = session.irisRadius;
  const rp = session.dilation * ri;
  const centre = session.centre;
  // Pupil centre: the identity's offset (iris radii) plus this capture's shift, in the eye frame.
  const du = identity.pupilOffset.x * ri + session.pupilShift.x;
  const dv = identity.pupilOffset.y * ri + session.pupilShift.y;
  const pupilCentre = { x: centre.x + du * cosRot - dv * sinRot, y: centre.y + du * sinRot + dv * cosRot };
  const q = identity.pupilAspect;
  const pupilShape = axisScale(identity.pupilAxisDeg * DEG + rot, rp / Math.sqrt(q), rp * Math.sqrt(q));
  const gaze = axisScale(session.gaze.directionDeg * DEG, Math.cos(session.gaze.offAxisDeg * DEG), 1);
  const pupilImageCentre = {
    x: centre.x + gaze.a * (pupilCentre.x - centre.x) + gaze.b * (pupilCentre.y - centre.y),
    y: centre.y + gaze.c * (pupilCentre.x - centre.x) + gaze.d * (pupilCentre.y - centre.y),
  };
  return {
    centre,
    rotation: rot,
    cosRot,
    sinRot,
    irisRadius: ri,
    pupilRadius: rp,
    pupilCentre,
    pupilInv: inverse(pupilShape),
    gaze,
    gazeInv: inverse(gaze),
    pupil: ellipseFromMatrix(pupilImageCentre, mul(gaze, pupilShape)),
    iris: ellipseFromMatrix(centre, { a: gaze.a * ri, b: gaze.b * ri, c: gaze.c * ri, d: gaze.d * ri }),
    warp: identity.radialWarp * (session.dilation - identity.dilationMean),
  };
}

/** Polar coordinates on the frontal rubber sheet: theta in (-pi, pi] (image frame, before un-rotating) and rho. */
export interface SheetPoint {
  theta: number;
  rho: number;
}

/**
 * Inverts the rubber sheet at image point (x, y): finds (theta, rho) with point(theta, rho) = (x, y) on the
 * frontal plane by fixed-point iteration (converges in a few steps since the centres are close). rho < 0 is
 * inside the pupil, rho > 1 outside the iris. Writes into `out` to avoid allocation.
 */
export function invertSheet(
  g: EyeGeometry,
  x: number,
  y: number,
  rhoGuess: number,
  out: SheetPoint,
): SheetPoint {
  const ex = x - g.centre.x;
  const ey = y - g.centre.y;
  const fx = g.centre.x + g.gazeInv.a * ex + g.gazeInv.b * ey;
  const fy = g.centre.y + g.gazeInv.c * ex + g.gazeInv.d * ey;
  const px = g.pupilCentre.x;
  const py = g.pupilCentre.y;
  const dcx = g.centre.x - px;
  const dcy = g.centre.y - py;
  const inv = g.pupilInv;
  const ri = g.irisRadius;
  let rho = rhoGuess;
  let ux = 1;
  let uy = 0;
  for (let k = 0; k < 4; k++) {
    const dx = fx - (px + rho * dcx);
    const dy = fy - (py + rho * dcy);
    const len = Math.sqrt(dx * dx + dy * dy);
    if (len < 1e-9) {
      rho = -1;
      break;
    }
    ux = dx / len;
    uy = dy / len;
    const sx = inv.a * ux + inv.b * uy;
    const sy = inv.c * ux + inv.d * uy;
    const rp = 1 / Math.sqrt(sx * sx + sy * sy);
    const next = (len - rp) / (ri - rp);
    const settled = Math.abs(next - rho) < 1e-4;
    rho = next < -1 ? -1 : next;
    if (settled) break;
  }
  out.theta = Math.atan2(uy, ux);
  out.rho = rho;
  return out;
}

/** Whether (x, y) lies inside an image ellipse, with the ellipse's orientation cached by the caller. */
export function insideEllipse(e: Ellipse, cos: number, sin: number, x: number, y: number): boolean {
  const dx = x - e.x;
  const dy = y - e.y;
  const p = (dx * cos + dy * sin) / e.a;
  const q = (-dx * sin + dy * cos) / e.b;
  return p * p + q * q <= 1;
}

/** Image coordinates of an eye-frame point. */
export function fromEyeFrame(g: EyeGeometry, u: number, v: number): Point {
  return { x: g.centre.x + u * g.cosRot - v * g.sinRot, y: g.centre.y + u * g.sinRot + v * g.cosRot };
}
