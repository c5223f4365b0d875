/**
 * Quality gates, with open-iris's default thresholds (pipeline.yaml) and its definitions of each measure:
 *
 * - eye centres inside the image ('eye_outside_image'): both the pupil and the iris centre;
 * - iris diameter >= 50 px ('iris_too_small'); diameters are open-iris's "largest distance between two
 *   boundary points", i.e. the major axis of the fitted ellipse;
 * - pupil/iris diameter ratio in [0.1, 0.7] ('pupil_iris_ratio');
 * - pupil-iris centre distance / iris radius (open-iris: 2 * distance / iris diameter) <= 0.9
 *   ('pupil_iris_center_distance');
 * - off-gaze <= 0.8 ('off_gaze'): min over pupil and iris of the moment eccentricity
 *   ((mu20 - mu02)^2 + 4 mu11^2) / (mu20 + mu02)^2 (0 circle, 1 line);
 * - occlusion ('occluded'): open-iris's OcclusionCalculator visible fraction. With the iris contour rolled
 *   by the eye orientation, the q-degree measure keeps the iris contour points within +-q degrees of the
 *   eye's horizontal axis on both sides; the polygon they form is the iris cut to the band of half-height
 *   r sin(q) about the eye axis. Visible fraction = (band, outside the pupil, between the eyelids, not
 *   eyelash, inside the frame) / (band, outside the pupil). Thresholds: >= 0.25 for q = 90 (the whole
 *   iris), >= 0.30 for q = 30 (the middle third). Specular reflections are not counted as occlusion here
 *   (open-iris adds them to the noise mask only for normalisation).
 * - sharpness >= 461 ('blurred'): open-iris's SharpnessEstimation: the standard deviation of the
 *   Laplacian (OpenCV's ksize 11 aperture: separable 11-tap Sobel-type second-derivative and smoothing
 *   kernels, unnormalised, reflect-101 borders) of the normalised image as 8-bit grey / 255, over the
 *   normalised mask eroded by a 29 (radial) x 15 (angular) rectangle.
 * - usable mask bits >= 4,096 of 16,384 ('too_few_usable_bits'), checked after encoding: assertUsableBits.
 */

import type { ErrorCode } from '../protocol/errors.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH, type NormalizedIris } from '../protocol/iris-code-layout.ts';
import type { Ellipse } from './segmentation/geometry.ts';
import { ellipseTester } from './segmentation/geometry.ts';
import type { EyeSegmentation } from './segmentation/types.ts';

export const QUALITY_THRESHOLDS = {
  minPupilIrisRatio: 0.1,
  maxPupilIrisRatio: 0.7,
  maxCenterDistanceRatio: 0.9,
  minIrisDiameter: 50,
  maxOffgaze: 0.8,
  minOcclusion90: 0.25,
  minOcclusion30: 0.3,
  minSharpness: 461,
  minUsableBits: 4096,
} as const;

export interface QualityFailure {
  code: ErrorCode;
  message: string;
}

export interface QualityReport {
  pupilDiameter: number;
  irisDiameter: number;
  pupilIrisRatio: number;
  centerDistanceRatio: number;
  offgaze: number;
  /** Visible iris fraction, whole iris (90 degree measure) and middle third (30 degree measure). */
  occlusion90: number;
  occlusion30: number;
  /** NaN when no normalised image was given. */
  sharpness: number;
  eyeCentersInside: boolean;
  /** Gate failures in open-iris's pipeline order; empty when every gate passes. */
  failures: QualityFailure[];
  passed: boolean;
}

/**
 * Measures every gate. `normalized` is needed for sharpness (left NaN and not gated when absent).
 */
export function assessQuality(seg: EyeSegmentation, normalized?: NormalizedIris): QualityReport {
  const T = QUALITY_THRESHOLDS;
  const pe = seg.pupilEllipse;
  const ie = seg.irisEllipse;
  const pupilDiameter = 2 * Math.max(pe.a, pe.b);
  const irisDiameter = 2 * Math.max(ie.a, ie.b);
  const pupilIrisRatio = pupilDiameter / irisDiameter;
  const centerDistanceRatio = (2 * Math.hypot(pe.cx - ie.cx, pe.cy - ie.cy)) / irisDiameter;
  const inside = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < seg.width && y < seg.height;
  const eyeCentersInside = inside(pe.cx, pe.cy) && inside(ie.cx, ie.cy);
  const occlusion90 = visibleFraction(seg, 90);
  const occlusion30 = visibleFraction(seg, 30);
  const sharpness = normalized ? sharpnessScore(normalized) : Number.NaN;
  const failures: QualityFailure[] = [];
  const fail = (code: ErrorCode, message: string): void => {
    failures.push({ code, message });
  };
  if (!eyeCentersInside) {
    fail(
      'eye_outside_image',
      `eye centre outside the image: pupil (${pe.cx.toFixed(1)}, ${pe.cy.toFixed(1)}), iris (${ie.cx.toFixed(1)}, ${ie.cy.toFixed(1)})`,
    );
  }
  if (irisDiameter < T.minIrisDiameter) {
    fail('iris_too_small', `iris diameter ${irisDiameter.toFixed(1)} px < ${T.minIrisDiameter} px`);
  }
  if (pupilIrisRatio < T.minPupilIrisRatio || pupilIrisRatio > T.maxPupilIrisRatio) {
    fail(
      'pupil_iris_ratio',
      `pupil/iris diameter ratio ${pupilIrisRatio.toFixed(3)} outside [${T.minPupilIrisRatio}, ${T.maxPupilIrisRatio}]`,
    );
  }
  if (centerDistanceRatio > T.maxCenterDistanceRatio) {
    fail(
      'pupil_iris_center_distance',
      `pupil-iris centre distance ratio ${centerDistanceRatio.toFixed(3)} > ${T.maxCenterDistanceRatio}`,
    );
  }
  if (seg.offgaze > T.maxOffgaze) {
    fail('off_gaze', `off-gaze score ${seg.offgaze.toFixed(3)} > ${T.maxOffgaze}`);
  }
  if (occlusion90 < T.minOcclusion90) {
    fail(
      'occluded',
      `visible iris fraction (90 degree measure) ${occlusion90.toFixed(3)} < ${T.minOcclusion90}`,
    );
  }
  if (occlusion30 < T.minOcclusion30) {
    fail(
      'occluded',
      `visible iris fraction (30 degree measure) ${occlusion30.toFixed(3)} < ${T.minOcclusion30}`,
    );
  }
  if (normalized && !(sharpness >= T.minSharpness)) {
    fail('blurred', `sharpness ${sharpness.toFixed(1)} < ${T.minSharpness}`);
  }
  return {
    pupilDiameter,
    irisDiameter,
    pupilIrisRatio,
    centerDistanceRatio,
    offgaze: seg.offgaze,
    occlusion90,
    occlusion30,
    sharpness,
    eyeCentersInside,
    failures,
    passed: failures.length === 0,
  };
}

/** Throws the first failed gate as an IrisgateError; returns the report when all pass. */
export function assertQuality(seg: EyeSegmentation, normalized?: NormalizedIris): QualityReport {
  const report = assessQuality(seg, normalized);
  const first = report.failures[0];
  if (first) throw new IrisgateError(first.code, first.message);
  return report;
}

/** The post-encoding gate: at least 4,096 of the 16,384 mask bits must be usable. */
export function assertUsableBits(count: number): void {
  if (!(count >= QUALITY_THRESHOLDS.minUsableBits)) {
    throw new IrisgateError(
      'too_few_usable_bits',
      `${count} usable mask bits < ${QUALITY_THRESHOLDS.minUsableBits} of 16384`,
    );
  }
}

/**
 * open-iris's visible iris fraction for a quantile angle in degrees (90 = whole iris, 30 = middle third),
 * measured on the image pixel grid. The band is taken about the eye's axis (its orientation) through the
 * iris centre. Pixels outside the frame count as occluded (their extent is estimated on a grid).
 */
export function visibleFraction(seg: EyeSegmentation, quantileAngleDeg: number): number {
  if (quantileAngleDeg <= 0) return 0;
  const ie = seg.irisEllipse;
  const pe = seg.pupilEllipse;
  const { width: w, height: h } = seg;
  const cos = Math.cos(seg.orientation);
  const sin = Math.sin(seg.orientation);
  const R = Math.max(ie.a, ie.b);
  // Band half-height: the iris contour point at the quantile angle, measured along the eye's vertical.
  const q = Math.min(90, quantileAngleDeg) * (Math.PI / 180);
  const halfBand = quantileAngleDeg >= 90 ? Number.POSITIVE_INFINITY : bandHalfHeight(ie, seg.orientation, q);
  let total = 0;
  let seen = 0;
  const x0 = Math.floor(ie.cx - R - 1);
  const x1 = Math.ceil(ie.cx + R + 1);
  const y0 = Math.floor(ie.cy - R - 1);
  const y1 = Math.ceil(ie.cy + R + 1);
  const vis = seg.masks.visible;
  const lash = seg.masks.eyelash;
  const inIris = ellipseTester(ie);
  const inPupil = ellipseTester(pe);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!inIris(x, y) || inPupil(x, y)) continue;
      const v = -(x - ie.cx) * sin + (y - ie.cy) * cos;
      if (Math.abs(v) > halfBand) continue;
      total++;
      if (x < 0 || y < 0 || x >= w || y >= h) continue;
      const i = y * w + x;
      if (vis[i] === 1 && lash[i] !== 1) seen++;
    }
  }
  return total > 0 ? seen / total : 0;
}

/** Distance, across the eye axis, from the iris centre to the iris boundary point at angle q off the axis. */
function bandHalfHeight(ie: Ellipse, orientation: number, q: number): number {
  let worst = 0;
  for (const phi of [
    orientation + q,
    orientation - q,
    orientation + Math.PI - q,
    orientation + Math.PI + q,
  ]) {
    const psi = phi - ie.theta;
    const c = Math.cos(psi) / ie.a;
    const s = Math.sin(psi) / ie.b;
    const r = 1 / Math.sqrt(c * c + s * s);
    worst = Math.max(worst, Math.abs(r * Math.sin(phi - orientation)));
  }
  return worst;
}

// ---------------------------------------------------------------- sharpness

/** OpenCV getSobelKernels' 1-D kernel of derivative `order` and size `ksize` (unnormalised). */
export function sobelKernel(order: number, ksize: number): Float64Array {
  const k = new Float64Array(ksize + 1);
  k[0] = 1;
  for (let i = 0; i < ksize - order - 1; i++) {
    let old = k[0] as number;
    for (let j = 1; j <= ksize; j++) {
      const nv = (k[j] as number) + (k[j - 1] as number);
      k[j - 1] = old;
      old = nv;
    }
  }
  for (let i = 0; i < order; i++) {
    let old = -(k[0] as number);
    for (let j = 1; j <= ksize; j++) {
      const nv = (k[j - 1] as number) - (k[j] as number);
      k[j - 1] = old;
      old = nv;
    }
  }
  return k.slice(0, ksize);
}

function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  let j = i;
  while (j < 0 || j >= n) {
    if (j < 0) j = -j;
    if (j >= n) j = 2 * n - 2 - j;
  }
  return j;
}

/** Separable correlation: `kx` along rows (x), `ky` along columns (y), reflect-101 borders. */
function sepFilter(
  src: Float64Array,
  w: number,
  h: number,
  kx: Float64Array,
  ky: Float64Array,
): Float64Array {
  const rx = (kx.length - 1) >> 1;
  const ry = (ky.length - 1) >> 1;
  // Padded index tables: idx[x + r] is the source column for x in [-r, w + r).
  const ix = new Int32Array(w + 2 * rx);
  for (let x = -rx; x < w + rx; x++) ix[x + rx] = reflect101(x, w);
  const iy = new Int32Array(h + 2 * ry);
  for (let y = -ry; y < h + ry; y++) iy[y + ry] = reflect101(y, h) * w;
  const tmp = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let k = 0; k < kx.length; k++)
        acc += (kx[k] as number) * (src[row + (ix[x + k] as number)] as number);
      tmp[row + x] = acc;
    }
  }
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let k = 0; k < ky.length; k++) {
      const kv = ky[k] as number;
      if (kv === 0) continue;
      const srow = iy[y + k] as number;
      const orow = y * w;
      for (let x = 0; x < w; x++) out[orow + x] = (out[orow + x] as number) + kv * (tmp[srow + x] as number);
    }
  }
  return out;
}

const LAPLACIAN_KSIZE = 11;
const EROSION_RADIAL = 29;
const EROSION_ANGULAR = 15;

/**
 * open-iris's sharpness of a normalised iris: std of the ksize-11 Laplacian of (8-bit grey / 255) over the
 * mask eroded by 29 x 15 (rows x columns; pixels beyond the image border do not erode). 0 when nothing
 * survives the erosion.
 */
export function sharpnessScore(n: NormalizedIris): number {
  const H = NORMALIZED_HEIGHT;
  const W = NORMALIZED_WIDTH;
  const img = new Float64Array(H * W);
  for (let i = 0; i < H * W; i++) img[i] = Math.round((n.pixels[i] as number) * 255) / 255;
  const d2 = sobelKernel(2, LAPLACIAN_KSIZE);
  const d0 = sobelKernel(0, LAPLACIAN_KSIZE);
  const a = sepFilter(img, W, H, d2, d0);
  const b = sepFilter(img, W, H, d0, d2);
  const eroded = erodeRect(n.mask, W, H, EROSION_ANGULAR, EROSION_RADIAL);
  let s = 0;
  let s2 = 0;
  let k = 0;
  for (let i = 0; i < H * W; i++) {
    if (eroded[i] !== 1) continue;
    // OpenCV writes the CV_32F result: round through float32 like it does.
    const v = Math.fround((a[i] as number) + (b[i] as number));
    s += v;
    s2 += v * v;
    k++;
  }
  if (k === 0) return 0;
  const mean = s / k;
  return Math.sqrt(Math.max(0, s2 / k - mean * mean));
}

/** Binary erosion by a kw x kh rectangle (centred); outside the image counts as set (OpenCV's default). */
function erodeRect(mask: Uint8Array, w: number, h: number, kw: number, kh: number): Uint8Array {
  const rx = (kw - 1) >> 1;
  const ry = (kh - 1) >> 1;
  // Row pass: count zeros in the window via prefix sums.
  const tmp = new Uint8Array(w * h);
  const pre = new Int32Array(w + 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) pre[x + 1] = (pre[x] as number) + (mask[y * w + x] === 1 ? 0 : 1);
    for (let x = 0; x < w; x++) {
      const lo = Math.max(0, x - rx);
      const hi = Math.min(w, x + rx + 1);
      tmp[y * w + x] = (pre[hi] as number) - (pre[lo] as number) === 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(w * h);
  const preY = new Int32Array(h + 1);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) preY[y + 1] = (preY[y] as number) + (tmp[y * w + x] === 1 ? 0 : 1);
    for (let y = 0; y < h; y++) {
      const lo = Math.max(0, y - ry);
      const hi = Math.min(h, y + ry + 1);
      out[y * w + x] = (preY[hi] as number) - (preY[lo] as number) === 0 ? 1 : 0;
    }
  }
  return out;
}
