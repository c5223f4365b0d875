/**
 * Pupil detection.
 *
 * Coarse: on the block-averaged image (glints inpainted), dark regions are thresholded at several
 * intensity quantiles; each connected component is scored by how pupil-like it is (filled, round or
 * elliptical, much darker than a ring around it, not touching the frame). The best component over all
 * thresholds gives a first ellipse.
 *
 * Fine: rays from that centre, shaped by the coarse ellipse, are sampled on the full-resolution smoothed
 * image; on each ray the boundary is the strongest dark-to-bright step whose inner side is pupil-dark.
 * The points are fitted robustly (circle RANSAC, then a reweighted ellipse) twice, the second time in a
 * narrow window around the first fit.
 */
import type { Ellipse } from './geometry.ts';
import { ellipseRadiusAt, ransacCircle, robustEllipse } from './geometry.ts';
import type { FloatImage } from './image-ops.ts';
import { allocProfile, parabolicPeakOffset, sampleRay } from './rays.ts';
import type { BoundarySupport } from './types.ts';

export interface PupilCandidate {
  /** Ellipse in full-resolution pixels. */
  ellipse: Ellipse;
  /** Mean intensity inside (0-255). */
  inside: number;
  /** Mean intensity of the ring just outside. */
  ring: number;
  /** Intensity standard deviation inside. */
  std: number;
  score: number;
  area: number;
  fill: number;
  axisRatio: number;
  touchesBorder: boolean;
}

export interface DarkComponent {
  area: number;
  cx: number;
  cy: number;
  a: number;
  b: number;
  theta: number;
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  sum: number;
  sumSq: number;
}

/** Reused label and stack buffers (the coarse image is the same size every frame). */
const scratch = { labels: new Int32Array(0), stack: new Int32Array(0) };

/** Connected components (8-connected) of coarse pixels <= threshold, with their moment ellipses. */
export function darkComponents(img: FloatImage, threshold: number, minArea: number): DarkComponent[] {
  const { width: w, height: h, data } = img;
  if (scratch.labels.length < w * h) {
    scratch.labels = new Int32Array(w * h);
    scratch.stack = new Int32Array(w * h);
  }
  const labels = scratch.labels;
  const stack = scratch.stack;
  labels.fill(0, 0, w * h);
  const out: DarkComponent[] = [];
  let next = 1;
  for (let start = 0; start < w * h; start++) {
    if (labels[start] !== 0 || (data[start] as number) > threshold) continue;
    const label = next++;
    let sp = 0;
    stack[sp++] = start;
    labels[start] = label;
    let area = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let syy = 0;
    let sxy = 0;
    let sum = 0;
    let sumSq = 0;
    let minX = w;
    let maxX = 0;
    let minY = h;
    let maxY = 0;
    while (sp > 0) {
      const i = stack[--sp] as number;
      const x = i % w;
      const y = (i - x) / w;
      area++;
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
      sxy += x * y;
      const v = data[i] as number;
      sum += v;
      sumSq += v * v;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          const j = yy * w + xx;
          if (labels[j] === 0 && (data[j] as number) <= threshold) {
            labels[j] = label;
            stack[sp++] = j;
          }
        }
      }
    }
    if (area < minArea) continue;
    const cx = sx / area;
    const cy = sy / area;
    // Pixel moments plus the 1/12 of a unit square so tiny blobs do not collapse.
    const mxx = sxx / area - cx * cx + 1 / 12;
    const myy = syy / area - cy * cy + 1 / 12;
    const mxy = sxy / area - cx * cy;
    const mid = (mxx + myy) / 2;
    const rad = Math.sqrt(((mxx - myy) / 2) ** 2 + mxy * mxy);
    const l1 = mid + rad;
    const l2 = Math.max(1e-6, mid - rad);
    const theta = 0.5 * Math.atan2(2 * mxy, mxx - myy);
    out.push({
      area,
      cx,
      cy,
      a: 2 * Math.sqrt(l1),
      b: 2 * Math.sqrt(l2),
      theta,
      minX,
      maxX,
      minY,
      maxY,
      sum,
      sumSq,
    });
  }
  return out;
}

/** Mean of the coarse image on an elliptical ring scaled from `inner` to `outer` times the ellipse. */
function ringMean(
  img: FloatImage,
  cx: number,
  cy: number,
  a: number,
  b: number,
  theta: number,
  inner: number,
  outer: number,
): number {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  let sum = 0;
  let n = 0;
  const rings = 3;
  const spokes = 32;
  for (let r = 0; r < rings; r++) {
    const k = inner + ((outer - inner) * (r + 0.5)) / rings;
    for (let j = 0; j < spokes; j++) {
      const t = (2 * Math.PI * j) / spokes;
      const u = a * k * Math.cos(t);
      const v = b * k * Math.sin(t);
      const x = Math.round(cx + u * c - v * s);
      const y = Math.round(cy + u * s + v * c);
      if (x < 0 || y < 0 || x >= img.width || y >= img.height) continue;
      sum += img.data[y * img.width + x] as number;
      n++;
    }
  }
  return n > 0 ? sum / n : Number.NaN;
}

/**
 * Scores dark components at several thresholds and returns candidates sorted best first.
 * `factor` converts coarse pixels to full-resolution pixels.
 */
export function pupilCandidates(coarse: FloatImage, factor: number): PupilCandidate[] {
  const { width: w, height: h } = coarse;
  const values = Float32Array.from(coarse.data).sort();
  const at = (q: number): number =>
    values[Math.min(values.length - 1, Math.floor(q * values.length))] as number;
  // Thresholds every few grey levels from the darkest pixels up to the median.
  const lo = at(0.001);
  const mid = at(0.5);
  const step = Math.max(2, (mid - lo) / 22);
  const thresholds: number[] = [];
  for (let t = lo + step / 2; t < mid; t += step) thresholds.push(t);
  const p50 = at(0.5);
  const minDim = Math.min(w, h);
  // Pupil radius limits in coarse pixels: at least 1.5 coarse px and 3 full-res px; at most 40% of the frame.
  const minR = Math.max(1.5, 3 / factor);
  const maxR = 0.4 * minDim;
  const cands: PupilCandidate[] = [];
  for (const t of thresholds) {
    if (t >= p50) break;
    const comps = darkComponents(coarse, t, Math.max(3, Math.floor(Math.PI * minR * minR * 0.5)));
    for (const c of comps) {
      const eqR = Math.sqrt(c.area / Math.PI);
      if (eqR < minR || eqR > maxR) continue;
      const fill = c.area / (Math.PI * c.a * c.b);
      const axisRatio = c.b / c.a;
      if (axisRatio < 0.12 || fill < 0.5) continue;
      const inside = c.sum / c.area;
      const std = Math.sqrt(Math.max(0, c.sumSq / c.area - inside * inside));
      const ring = ringMean(coarse, c.cx, c.cy, c.a, c.b, c.theta, 1.25, 1.7);
      if (!(ring > inside)) continue;
      const contrast = ring - inside;
      const touchesBorder = c.minX === 0 || c.minY === 0 || c.maxX === w - 1 || c.maxY === h - 1;
      // Roundness prior: circles and mild ellipses are favoured, strong ellipses only tolerated.
      const shape = Math.min(1, axisRatio / 0.8) ** 1.5;
      const fillTerm = Math.min(1, fill / 0.9) ** 2;
      // A pupil is flat inside: a dark blob that swallowed part of the iris is not.
      const flat = 1 / (1 + (std / (0.2 * contrast)) ** 2);
      const score =
        contrast * shape * fillTerm * flat * (touchesBorder ? 0.2 : 1) * Math.min(1, eqR / (2 * minR)) ** 0.5;
      cands.push({
        ellipse: {
          cx: (c.cx + 0.5) * factor - 0.5,
          cy: (c.cy + 0.5) * factor - 0.5,
          a: c.a * factor,
          b: c.b * factor,
          theta: c.theta,
        },
        inside,
        ring,
        std,
        score,
        area: c.area * factor * factor,
        fill,
        axisRatio,
        touchesBorder,
      });
    }
  }
  cands.sort((p, q) => q.score - p.score);
  return cands;
}

/** The pupil ellipse; its edgeStrength is the mean step at the accepted points. */
export interface PupilFit extends BoundarySupport {
  ellipse: Ellipse;
}

const RAYS = 128;

/**
 * Finds boundary points along rays from `init`'s centre between `lo` and `hi` times its radius in each
 * direction and fits them robustly.
 */
export function refinePupil(
  img: FloatImage,
  specular: Uint8Array,
  init: Ellipse,
  pupilLevel: number,
  irisLevel: number,
  lo: number,
  hi: number,
): PupilFit | null {
  const rMean = (init.a + init.b) / 2;
  const samplesPerUnit = Math.max(24, Math.ceil(rMean * 2 * (hi - lo)));
  const n = Math.min(400, samplesPerUnit);
  const half = Math.max(1, Math.round((n / ((hi - lo) * rMean)) * 1.5));
  const prof = allocProfile(n);
  const xs: number[] = [];
  const ys: number[] = [];
  const ws: number[] = [];
  const span = Math.max(8, irisLevel - pupilLevel);
  for (let k = 0; k < RAYS; k++) {
    const phi = (2 * Math.PI * k) / RAYS;
    const rad = ellipseRadiusAt(init, phi);
    const ux = Math.cos(phi) * rad;
    const uy = Math.sin(phi) * rad;
    if (sampleRay(img, specular, init.cx, init.cy, ux, uy, lo, hi, n, half, prof) < n / 2) continue;
    let best = -1;
    let bestScore = 0;
    let bestStep = 0;
    for (let i = half; i < n - half; i++) {
      const d = prof.deriv[i] as number;
      if (d <= 0) continue;
      // The inner side must look like pupil: penalise steps whose dark side is much brighter than the pupil.
      const inner = prof.values[Math.max(0, i - 2 * half)] as number;
      const darkness = 1 - Math.max(0, inner - pupilLevel) / span;
      if (darkness <= 0) continue;
      const sc = d * darkness;
      if (sc > bestScore) {
        bestScore = sc;
        best = i;
        bestStep = d;
      }
    }
    if (best < 0 || bestStep < 3) continue;
    const off = parabolicPeakOffset(prof.deriv, best);
    const s = lo + ((hi - lo) * (best + off)) / (n - 1);
    xs.push(init.cx + ux * s);
    ys.push(init.cy + uy * s);
    ws.push(bestStep);
  }
  if (xs.length < 12) return null;
  const maxW = Math.max(...ws);
  const wn = ws.map((v) => Math.sqrt(v / maxW));
  // Strongly elliptical outline (off-axis gaze): RANSAC the circle in the frame where the coarse
  // ellipse is round (minor axis stretched by a / b), then fit the ellipse to its inliers.
  const k = init.b / init.a;
  const stretch = k < 0.7 ? 1 / k : 1;
  const cosT = Math.cos(init.theta);
  const sinT = Math.sin(init.theta);
  const qs = new Float64Array(xs.length);
  const vs = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const dx = (xs[i] as number) - init.cx;
    const dy = (ys[i] as number) - init.cy;
    const u = dx * cosT + dy * sinT;
    const v = (-dx * sinT + dy * cosT) * stretch;
    qs[i] = u;
    vs[i] = v;
  }
  const rRef = stretch === 1 ? rMean : init.a;
  const tol = Math.max(1.2, 0.04 * rRef) * (stretch === 1 ? 1 : Math.min(2, stretch));
  const circ = ransacCircle(qs, vs, wn, tol, { minR: rRef * lo, maxR: rRef * hi, iterations: 200 });
  if (!circ) return null;
  const cu = circ.circle.x;
  const cv = circ.circle.y / stretch;
  const cx0 = init.cx + cu * cosT - cv * sinT;
  const cy0 = init.cy + cu * sinT + cv * cosT;
  let ellipse: Ellipse =
    stretch === 1
      ? { cx: cx0, cy: cy0, a: circ.circle.r, b: circ.circle.r, theta: 0 }
      : { cx: cx0, cy: cy0, a: circ.circle.r, b: circ.circle.r / stretch, theta: init.theta };
  let weights = circ.weights;
  let rms = circ.rms / (stretch === 1 ? 1 : Math.sqrt(stretch));
  const el = robustEllipse(xs, ys, circ.weights, Math.max(1.2, 0.04 * rMean), 4);
  if (el) {
    const e = el.ellipse;
    const r = (ellipse.a + ellipse.b) / 2;
    const sane =
      e.b > 0.15 * e.a &&
      Math.hypot(e.cx - ellipse.cx, e.cy - ellipse.cy) < 0.25 * r + 2 &&
      e.a < 3 * r &&
      e.b > 0.2 * r * (stretch === 1 ? 1 : 1 / stretch);
    if (sane && (el.rms <= rms * 1.05 || stretch !== 1)) {
      ellipse = e;
      weights = el.weights;
      rms = el.rms;
    }
  }
  let inl = 0;
  let strength = 0;
  for (let i = 0; i < weights.length; i++) {
    if ((weights[i] as number) > 0) {
      inl++;
      strength += ws[i] as number;
    }
  }
  return {
    ellipse,
    xs: Float64Array.from(xs),
    ys: Float64Array.from(ys),
    weights,
    inlierFraction: inl / RAYS,
    rms,
    edgeStrength: inl > 0 ? strength / inl : 0,
  };
}
