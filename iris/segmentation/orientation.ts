/**
 * In-plane eye orientation.
 *
 * Two estimates, as open-iris's moment-of-area idea adapted to a model-free segmentation:
 *
 *  - Eye opening (main): on the downsampled image, the sclera is grown outwards from both sides of the
 *    limbus (pixels close to the grey level found just beside the iris, stopped by strong edges: the dark
 *    lash and lid margins, lid creases); columns whose region runs into the search window's top or bottom
 *    (leaks into skin of the same brightness) are dropped. The opening is that sclera plus the visible iris
 *    between them, and its orientation the principal axis of its second central moments. An opening that
 *    is too round (moment eccentricity below 0.1), too small, or present on one side of the iris only is
 *    not used.
 *  - Lid corners (fallback): where the two lid parabolas fitted inside the iris meet, the corner-to-corner
 *    line approximates the eye axis; used only when both lids were found, they intersect on both sides of
 *    the iris at a plausible distance (1.2 to 5 iris radii), and the axis is within +-25 degrees.
 *
 * Otherwise the orientation is 0 and flagged unreliable (the matcher's +-15 column shift covers
 * +-21 degrees of residual roll; the duplicate search's pre-rolls +-65: iris/matcher.ts UNIQUENESS_ROLLS).
 */
import type { Parabola } from './eyelids.ts';
import type { Ellipse } from './geometry.ts';
import type { FloatImage } from './image-ops.ts';

export interface Orientation {
  angle: number;
  reliable: boolean;
  corners: [{ x: number; y: number }, { x: number; y: number }] | null;
  /** Which estimate gave the angle. */
  source: 'opening' | 'corners' | 'none';
  /** Moment eccentricity of the eye opening (0 = round), NaN when not segmented. */
  eccentricity: number;
}

const MAX_ANGLE = (25 * Math.PI) / 180;
/** open-iris's MomentOfArea default: below this eccentricity the opening is too round to orient. */
const MIN_ECCENTRICITY = 0.1;

export function estimateOrientation(
  upper: Parabola | null,
  lower: Parabola | null,
  iris: Ellipse,
  opening?: { image: FloatImage; factor: number; pupil: Ellipse },
): Orientation {
  if (opening) {
    const o = openingOrientation(opening.image, opening.factor, iris, opening.pupil, upper, lower);
    if (o) return o;
  }
  return cornerOrientation(upper, lower, iris);
}

/** Eye axis through the corners where the lid parabolas meet (see the header). */
export function cornerOrientation(
  upper: Parabola | null,
  lower: Parabola | null,
  iris: Ellipse,
): Orientation {
  const none: Orientation = {
    angle: 0,
    reliable: false,
    corners: null,
    source: 'none',
    eccentricity: Number.NaN,
  };
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
  if (Math.abs(angle) > MAX_ANGLE) return none;
  return { angle, reliable: true, corners: [pL, pR], source: 'corners', eccentricity: Number.NaN };
}

export interface OpeningMask {
  /** Window in downsampled pixels and its mask (1 = sclera, 2 = iris). */
  x0: number;
  y0: number;
  w: number;
  h: number;
  mask: Uint8Array;
}

/**
 * Eye-opening orientation on the downsampled image `img` (full-resolution pixel = factor x downsampled).
 * Returns null when the opening cannot be segmented or is too round.
 */
export function openingOrientation(
  img: FloatImage,
  factor: number,
  irisFull: Ellipse,
  pupilFull: Ellipse,
  upper: Parabola | null,
  lower: Parabola | null,
): Orientation | null {
  const { width: W, height: H, data } = img;
  const toDown = (v: number): number => (v + 0.5) / factor - 0.5;
  const cx = toDown(irisFull.cx);
  const cy = toDown(irisFull.cy);
  const r = (irisFull.a + irisFull.b) / 2 / factor;
  const rp = (pupilFull.a + pupilFull.b) / 2 / factor;
  if (r < 6) return null;
  const x0 = Math.max(1, Math.floor(cx - 3.4 * r));
  const x1 = Math.min(W - 2, Math.ceil(cx + 3.4 * r));
  const y0 = Math.max(1, Math.floor(cy - 1.7 * r));
  const y1 = Math.min(H - 2, Math.ceil(cy + 1.7 * r));
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  if (w < 8 || h < 8) return null;
  // Smoothed window (3x3 box) and its gradient magnitude.
  const s = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const row = (y + y0 + dy) * W + x + x0;
        acc += (data[row - 1] as number) + (data[row] as number) + (data[row + 1] as number);
      }
      s[y * w + x] = acc / 9;
    }
  }
  const grad = new Float32Array(w * h);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const gx = (s[i + 1] as number) - (s[i - 1] as number);
      const gy = (s[i + w] as number) - (s[i - w] as number);
      grad[i] = Math.hypot(gx, gy) / 2;
    }
  }
  // Iris level and sclera references beside the limbus (left and right of the iris, near its centre row).
  const inIris = (x: number, y: number, scale: number): boolean => {
    const dx = x + x0 - cx;
    const dy = y + y0 - cy;
    return dx * dx + dy * dy <= scale * scale * r * r;
  };
  const irisVals: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = Math.hypot(x + x0 - cx, y + y0 - cy);
      if (d > rp * 1.15 + 1 && d < 0.9 * r) irisVals.push(s[y * w + x] as number);
    }
  }
  if (irisVals.length < 10) return null;
  irisVals.sort((a, b) => a - b);
  const irisLevel = irisVals[irisVals.length >> 1] as number;
  const mask = new Uint8Array(w * h);
  const levels: number[] = [];
  for (const side of [-1, 1]) {
    const vals: number[] = [];
    for (let y = Math.round(cy - 0.25 * r); y <= Math.round(cy + 0.25 * r); y++) {
      for (
        let x = Math.round(cx + side * 1.15 * r);
        side * x <= side * Math.round(cx + side * 1.6 * r);
        x += side
      ) {
        const lx = x - x0;
        const ly = y - y0;
        if (lx < 1 || ly < 1 || lx >= w - 1 || ly >= h - 1) continue;
        vals.push(s[ly * w + lx] as number);
      }
    }
    if (vals.length < 4) return null;
    vals.sort((a, b) => a - b);
    levels.push(vals[vals.length >> 1] as number);
  }
  let angle = 0;
  let ecc = 0;
  let result: Orientation | null = null;
  for (let pass = 0; pass < 2; pass++) {
    mask.fill(0);
    let area = 0;
    let left = 0;
    let right = 0;
    for (const side of [-1, 1]) {
      const level = levels[side < 0 ? 0 : 1] as number;
      const contrast = level - irisLevel;
      // The sclera must be clearly brighter than the iris.
      if (contrast < 10) return null;
      const tol = Math.max(8, 0.4 * contrast);
      const dip = Math.max(4, 0.08 * contrast);
      const maxRun = Math.round(1.5 * r);
      let empty = 0;
      for (let xd = Math.ceil(1.05 * r); xd <= 3.3 * r; xd++) {
        const x = Math.round(cx + side * xd) - x0;
        if (x < 0 || x >= w) break;
        const yc = Math.round(cy + Math.tan(angle) * side * xd) - y0;
        if (yc < 3 || yc >= h - 3) break;
        const at = (y: number): number => s[y * w + x] as number;
        const start = at(yc);
        const dark = Math.min(level, start) - 0.3 * contrast;
        const stops = (y: number, dir: number): boolean => {
          const v = at(y);
          if (v < dark || v > level + tol) return true;
          if ((grad[y * w + x] as number) > 0.3 * contrast) return true;
          // A dark line (lid margin, crease): darker than the sclera side and the far side.
          const near = Math.max(at(y - dir), at(Math.max(0, Math.min(h - 1, y - 2 * dir))));
          let far = v;
          for (let k = 1; k <= 3; k++) {
            const yy = y + k * dir;
            if (yy < 0 || yy >= h) break;
            far = Math.max(far, at(yy));
          }
          return Math.min(near, far) - v > dip;
        };
        if (start < level - tol || stops(yc, -1)) {
          if (++empty >= 2) break;
          continue;
        }
        let top = yc;
        while (top - 1 >= 1 && yc - top < maxRun && !stops(top - 1, -1)) top--;
        let bottom = yc;
        while (bottom + 1 < h - 1 && bottom - yc < maxRun && !stops(bottom + 1, 1)) bottom++;
        // Unbounded (reached the window or the run limit): no lid margin found, the column is not used.
        if (top <= 1 || bottom >= h - 2 || yc - top >= maxRun || bottom - yc >= maxRun) continue;
        empty = 0;
        for (let y = top; y <= bottom; y++) mask[y * w + x] = 1;
        area += bottom - top + 1;
        if (side < 0) left += bottom - top + 1;
        else right += bottom - top + 1;
      }
    }
    const minArea = 0.15 * r * r;
    if (left < minArea || right < minArea) return result;
    let m00 = area;
    let m10 = 0;
    let m01 = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (mask[y * w + x] !== 1) continue;
        m10 += x;
        m01 += y;
      }
    }
    // Visible iris: inside the iris and between the lid parabolas (full-resolution coordinates).
    const lidY = (p: Parabola | null, xFull: number, dflt: number): number => {
      if (!p) return dflt;
      const d = xFull - p.x0;
      return p.c0 + p.c1 * d + p.c2 * d * d;
    };
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (!inIris(x, y, 1) || mask[y * w + x] !== 0) continue;
        const xf = (x + x0 + 0.5) * factor - 0.5;
        const yf = (y + y0 + 0.5) * factor - 0.5;
        if (yf <= lidY(upper, xf, -1e9) || yf >= lidY(lower, xf, 1e9)) continue;
        mask[y * w + x] = 2;
        m00++;
        m10 += x;
        m01 += y;
      }
    }
    const mx = m10 / m00;
    const my = m01 / m00;
    let mu20 = 0;
    let mu02 = 0;
    let mu11 = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (mask[y * w + x] === 0) continue;
        const dx = x - mx;
        const dy = y - my;
        mu20 += dx * dx;
        mu02 += dy * dy;
        mu11 += dx * dy;
      }
    }
    ecc = ((mu20 - mu02) ** 2 + 4 * mu11 * mu11) / (mu20 + mu02) ** 2;
    if (!(ecc >= MIN_ECCENTRICITY)) return null;
    angle = 0.5 * Math.atan2(2 * mu11, mu20 - mu02);
    if (Math.abs(angle) > MAX_ANGLE) return null;
    result = { angle, reliable: true, corners: null, source: 'opening', eccentricity: ecc };
  }
  return result;
}
