/**
 * Classical (model-free) eye segmentation of an 8-bit near-infrared frame.
 *
 * Steps, one module each:
 *   specular.ts       glints (>= 254, dilated 2 px), ignored by every boundary search;
 *   pupil.ts          dark-blob candidates on a 4x block-averaged image, refined on full-resolution rays,
 *                     robust circle then ellipse fit;
 *   iris-boundary.ts  limbus as a scaled copy of the pupil outline: integro-differential search on lateral
 *                     rays, then per-ray edges and a robust circle fit (pupil-shaped frame), twice;
 *   eyelids.ts        lid margins inside the iris: vertical steps on columns, RANSAC parabolas;
 *   eyelashes.ts      dark thin occluders: pixels far below the masked local mean of the iris;
 *   orientation.ts    eye axis through the corners where the lid parabolas meet;
 * The best few pupil candidates are each taken through the pupil and iris steps and the most eye-like
 * pair (well-supported pupil and limbus boundaries) wins.
 *
 * Throws IrisgateError: 'no_eye_found' (nothing pupil- and iris-like), 'eye_closed' (no pupil but a lid
 * line, or the lids leave no iris visible), 'invalid_argument' (malformed image).
 */
import { IrisgateError } from '../../protocol/errors.ts';
import { seededRandom } from '../seeded-random.ts';
import type { GreyImage } from '../types.ts';
import { eyelashMask } from './eyelashes.ts';
import { findEyelids, parabolaY } from './eyelids.ts';
import type { Ellipse } from './geometry.ts';
import {
  ellipseRadiusAt,
  ellipseTester,
  ellipseToCircle,
  insideEllipse,
  momentEccentricity,
} from './geometry.ts';
import type { FloatImage } from './image-ops.ts';
import { binomialBlur, boxBlur, downsampleFloat, openClose3 } from './image-ops.ts';
import type { IrisFit } from './iris-boundary.ts';
import { findIris } from './iris-boundary.ts';
import { estimateOrientation } from './orientation.ts';
import type { PupilCandidate, PupilFit } from './pupil.ts';
import { pupilCandidates, refinePupil } from './pupil.ts';
import { removeGlints, specularMask } from './specular.ts';
import type { EyeSegmentation } from './types.ts';

export { parabolaY } from './eyelids.ts';
export { ellipseRadiusAt, momentEccentricity } from './geometry.ts';
export type { Ellipse, EyeSegmentation, Parabola, Point, SegmentationDiagnostics } from './types.ts';

/** How many of the best coarse pupil candidates are taken through the full boundary search. */
const CANDIDATES = 5;
/**
 * Minimum evidence for an eye (product of boundary support, edge strength, pupil flatness and fit
 * quality, each in [0, 1]): real eyes score about 0.6-1, dark blobs in noise or skin below 0.3.
 */
const MIN_EYE_SCORE = 0.3;
/**
 * A dark core inside a fitted pupil (the real pupil inside an iris taken for one) needs its boundary on
 * this share of the rays and must be this many grey levels darker than the ring around it. Measured on
 * 600 synthetic captures: the one real case has 0.85 and 38; cores that merely fit noise in a real pupil
 * reach 0.63 support but then at most 10 levels of step.
 */
const MIN_CORE_SUPPORT = 0.5;
const MIN_CORE_STEP = 24;
/** A hypothesis this well supported stops the candidate search (saves the remaining boundary searches). */
const STRONG_EYE_SCORE = 0.85;

interface EyeHypothesis {
  candidate: PupilCandidate;
  pupil: PupilFit;
  iris: IrisFit;
  score: number;
  flat: number;
  /** Median grey level inside the pupil. */
  pupilMedian: number;
}

export function segmentEye(image: GreyImage): EyeSegmentation {
  const { width: w, height: h, data } = image;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 32 || h < 32 || data.length !== w * h) {
    throw new IrisgateError(
      'invalid_argument',
      `expected a greyscale image of at least 32x32, got ${w}x${h}`,
    );
  }
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timings[name] = now - t;
    t = now;
  };

  const spec = specularMask(image, 2);
  const blur = binomialBlur(data, w, h);
  // Glints and their halos: ignored by every boundary search (`search`); the final noise mask uses
  // open-iris's definition (>= 254), dilated by 2 px.
  const glints = spec.count > 0 ? removeGlints(image, blur, spec.mask) : null;
  const clean: FloatImage = glints ? { width: w, height: h, data: glints.data } : blur;
  // Saturated pixels not removed as glints (large glare) stay excluded from the searches.
  const search = new Uint8Array(w * h);
  if (glints) {
    for (let i = 0; i < w * h; i++) search[i] = spec.mask[i] === 1 && glints.region[i] === 0 ? 1 : 0;
  }
  lap('specular');
  const factor = Math.max(1, Math.round(Math.min(w, h) / 120));
  const down = downsampleFloat(clean, factor, search);
  const coarse = boxBlur(openClose3(down), 1);
  lap('preprocess');

  const contrast = imageSpread(coarse);
  if (contrast < 8) {
    throw new IrisgateError(
      'no_eye_found',
      `no eye found: the image is nearly uniform (spread ${contrast.toFixed(1)})`,
    );
  }

  const cands = distinctCandidates(pupilCandidates(coarse, factor), CANDIDATES);
  lap('pupilCoarse');
  const maxIrisRadius = 0.75 * Math.min(w, h);
  const hyps: EyeHypothesis[] = [];
  let tried = 0;
  let strong: EyeHypothesis | null = null;
  for (const cand of cands) {
    // A clearly supported eye ends the search, once the blobs nested in it have been tried too.
    if (strong && !insideEllipse(strong.candidate.ellipse, cand.ellipse.cx, cand.ellipse.cy, 0.6)) continue;
    tried++;
    const hyp = evaluateCandidate(clean, search, cand, maxIrisRadius);
    if (hyp) hyps.push(hyp);
    if (hyp && hyp.score >= STRONG_EYE_SCORE && !strong) strong = hyp;
  }
  // The strongest hypothesis's pupil may be the iris of a dark eye: its dark core joins the hypotheses, and
  // chooseHypothesis demotes the outer one if the core explains it.
  const top = hyps.reduce<EyeHypothesis | null>((m, h) => (!m || h.score > m.score ? h : m), null);
  const core = top && coreHypothesis(clean, search, top, maxIrisRadius);
  if (core) hyps.push(core);
  const best = chooseHypothesis(hyps);
  lap('boundaries');
  const lidLine = looksLikeClosedEye(down);
  if (!best || (lidLine && best.score < 0.6 && best.iris.ellipse.a < 0.15 * Math.min(w, h))) {
    // A small, weakly supported "eye" on a lash line across the frame is a lash clump of a closed eye.
    if (lidLine) {
      throw new IrisgateError(
        'eye_closed',
        'no pupil visible; a lid line crosses the eye region (eye closed)',
      );
    }
    throw new IrisgateError(
      'no_eye_found',
      `no eye found: none of ${tried} dark-blob candidates has a pupil and limbus boundary`,
    );
  }
  const pupilE = best.pupil.ellipse;
  const irisE = best.iris.ellipse;

  const lids = findEyelids(clean, search, pupilE, irisE, best.iris.edgeStrength);
  lap('eyelids');

  // Region masks over the iris bounding box.
  const ri = Math.max(irisE.a, irisE.b);
  const roi = {
    x0: Math.max(0, Math.floor(irisE.cx - ri - 1)),
    y0: Math.max(0, Math.floor(irisE.cy - ri - 1)),
    x1: Math.min(w - 1, Math.ceil(irisE.cx + ri + 1)),
    y1: Math.min(h - 1, Math.ceil(irisE.cy + ri + 1)),
  };
  const visible = new Uint8Array(w * h);
  let annulusPixels = 0;
  let visiblePixels = 0;
  const upper = lids.upper.parabola;
  const lower = lids.lower.parabola;
  const inIris = ellipseTester(irisE);
  const inPupil = ellipseTester(pupilE);
  for (let x = roi.x0; x <= roi.x1; x++) {
    const yUp = upper ? parabolaY(upper, x) : Number.NEGATIVE_INFINITY;
    const yLo = lower ? parabolaY(lower, x) : Number.POSITIVE_INFINITY;
    for (let y = roi.y0; y <= roi.y1; y++) {
      if (!inIris(x, y) || inPupil(x, y)) continue;
      annulusPixels++;
      if (y <= yUp || y >= yLo) continue;
      visible[y * w + x] = 1;
      visiblePixels++;
    }
  }
  if (annulusPixels > 0 && visiblePixels < 0.03 * annulusPixels) {
    throw new IrisgateError(
      'eye_closed',
      `eye closed: the eyelids leave ${((100 * visiblePixels) / annulusPixels).toFixed(1)}% of the iris visible`,
    );
  }
  // Eyelashes: compared with the visible iris around them (specular pixels excluded from the statistics).
  const lashRegion = new Uint8Array(w * h);
  for (let y = roi.y0; y <= roi.y1; y++) {
    for (let x = roi.x0; x <= roi.x1; x++) {
      const i = y * w + x;
      if (visible[i] === 1 && spec.mask[i] === 0 && (!glints || glints.region[i] === 0)) lashRegion[i] = 1;
    }
  }
  const lashRadius = Math.max(3, Math.round(0.05 * ri));
  const lashes = eyelashMask(clean, lashRegion, roi, lashRadius);
  const irisMask = new Uint8Array(w * h);
  let specularPixels = 0;
  for (let y = roi.y0; y <= roi.y1; y++) {
    for (let x = roi.x0; x <= roi.x1; x++) {
      const i = y * w + x;
      if (visible[i] !== 1) continue;
      if (spec.mask[i] === 1) {
        specularPixels++;
        continue;
      }
      if (lashes.mask[i] === 1) continue;
      irisMask[i] = 1;
    }
  }
  lap('masks');

  const orient = estimateOrientation(upper, lower, irisE, { image: down, factor, pupil: pupilE });
  const offgaze = Math.min(momentEccentricity(pupilE), momentEccentricity(irisE));
  lap('orientation');

  return {
    width: w,
    height: h,
    pupil: ellipseToCircle(pupilE),
    iris: ellipseToCircle(irisE),
    pupilEllipse: pupilE,
    irisEllipse: irisE,
    eyelids: { upper, lower },
    masks: { specular: spec.mask, eyelash: lashes.mask, visible, iris: irisMask },
    orientation: orient.angle,
    orientationReliable: orient.reliable,
    offgaze,
    eyeCenters: { pupil: { x: pupilE.cx, y: pupilE.cy }, iris: { x: irisE.cx, y: irisE.cy } },
    diagnostics: {
      candidatesTried: tried,
      eyeScore: best.score,
      lidLine,
      pupilInlierFraction: best.pupil.inlierFraction,
      pupilEdgeStrength: best.pupil.edgeStrength,
      pupilRms: best.pupil.rms,
      irisInlierFraction: best.iris.inlierFraction,
      irisEdgeStrength: best.iris.edgeStrength,
      irisRms: best.iris.rms,
      irisLevel: best.iris.irisLevel,
      pupilLevel: best.candidate.inside,
      annulusPixels,
      visiblePixels,
      eyelashPixels: lashes.count,
      specularPixels,
      upperLid: { points: lids.upper.points, inliers: lids.upper.inliers, strength: lids.upper.strength },
      lowerLid: { points: lids.lower.points, inliers: lids.lower.inliers, strength: lids.lower.strength },
      timings,
    },
  };
}

/** Robust intensity spread of the coarse image (p99 - p1). */
function imageSpread(img: FloatImage): number {
  const v = Float32Array.from(img.data).sort();
  return (v[Math.floor(0.99 * (v.length - 1))] as number) - (v[Math.floor(0.01 * (v.length - 1))] as number);
}

/**
 * The best `max` candidates that do not duplicate a better one (same place, similar size), plus, for each
 * of them, the best smaller candidate nested inside it: when the whole iris is dark, the best blob is
 * the iris and the pupil is a fainter blob within it.
 */
function distinctCandidates(cands: PupilCandidate[], max: number): PupilCandidate[] {
  const radius = (c: PupilCandidate): number => (c.ellipse.a + c.ellipse.b) / 2;
  const same = (c: PupilCandidate, o: PupilCandidate): boolean =>
    Math.hypot(o.ellipse.cx - c.ellipse.cx, o.ellipse.cy - c.ellipse.cy) <
      0.3 * Math.max(radius(c), radius(o)) && Math.abs(Math.log(radius(c) / radius(o))) < 0.25;
  const out: PupilCandidate[] = [];
  for (const c of cands) {
    if (!out.some((o) => same(c, o))) out.push(c);
    if (out.length >= max) break;
  }
  const nested: PupilCandidate[] = [];
  for (const o of out) {
    const inner = cands.find(
      (c) =>
        radius(c) < 0.75 * radius(o) &&
        insideEllipse(o.ellipse, c.ellipse.cx, c.ellipse.cy, 0.6) &&
        c.inside < o.inside &&
        !out.some((p) => same(c, p)) &&
        !nested.some((p) => same(c, p)),
    );
    if (inner) nested.push(inner);
  }
  return out.concat(nested);
}

/** Pupil refinement (wide then narrow window) and limbus search for one candidate; null if not an eye. */
function evaluateCandidate(
  blur: FloatImage,
  specular: Uint8Array,
  cand: PupilCandidate,
  maxIrisRadius: number,
): EyeHypothesis | null {
  let pupil = refinePupil(blur, specular, cand.ellipse, cand.inside, cand.ring, 0.6, 1.5);
  if (!pupil) return null;
  pupil = refinePupil(blur, specular, pupil.ellipse, cand.inside, cand.ring, 0.82, 1.2) ?? pupil;
  if (pupil.inlierFraction < 0.35) return null;
  const iris = findIris(blur, specular, pupil.ellipse, maxIrisRadius);
  if (!iris || iris.inlierFraction < 0.25) return null;
  const pe: Ellipse = pupil.ellipse;
  const ie: Ellipse = iris.ellipse;
  // The pupil must sit inside the iris.
  if (!insideEllipse(ie, pe.cx, pe.cy, 0.6) || pe.a > 0.82 * ie.a) return null;
  // A pupil is dark and flat inside (a blob that is really the iris with the pupil in it, or a clump of
  // lashes, is not): robust spread of the interior relative to the pupil-iris contrast.
  const interior = interiorStats(blur, specular, pe);
  const contrast = Math.max(1, iris.irisLevel - interior.median);
  let flat = Number.isNaN(interior.roughness) ? 0.7 : 1 / (1 + (interior.roughness / (0.15 * contrast)) ** 2);
  // A much darker core inside (the real pupil within an iris taken for a pupil) disqualifies.
  if (interior.darkFraction(interior.median - 0.6 * contrast) > 0.08) flat *= 0.2;
  // Boundary fit quality: a real pupil edge is a clean curve.
  const rp = (pe.a + pe.b) / 2;
  const fitQuality = 1 / (1 + (pupil.rms / Math.max(1.5, 0.03 * rp)) ** 2);
  const score =
    pupil.inlierFraction *
    iris.inlierFraction *
    Math.min(1, pupil.edgeStrength / 15) *
    Math.min(1, iris.edgeStrength / 30) *
    flat *
    fitQuality *
    plausibility(pe, ie, Math.min(blur.width, blur.height));
  return { candidate: cand, pupil, iris, score, flat, pupilMedian: interior.median };
}

/**
 * The real pupil inside a fitted "pupil" that is really the iris of a dark eye, as a hypothesis of its own:
 * a concentric core with its own dark-to-bright boundary on at least MIN_CORE_SUPPORT of the rays, at least
 * MIN_CORE_STEP darker than the ring around it. Null when there is no such core.
 */
function coreHypothesis(
  blur: FloatImage,
  specular: Uint8Array,
  hyp: EyeHypothesis,
  maxIrisRadius: number,
): EyeHypothesis | null {
  const pe = hyp.pupil.ellipse;
  const stats = interiorStats(blur, specular, pe);
  if (Number.isNaN(stats.median)) return null;
  const start = { ...pe, a: 0.6 * pe.a, b: 0.6 * pe.b };
  const fit = refinePupil(blur, specular, start, stats.quantile(0.1), stats.median, 0.4, 1.3);
  if (!fit || fit.inlierFraction < MIN_CORE_SUPPORT) return null;
  const core = interiorStats(blur, specular, fit.ellipse).median;
  const ring = ringMedian(blur, specular, fit.ellipse, pe);
  if (!(ring - core >= MIN_CORE_STEP)) return null;
  return evaluateCandidate(
    blur,
    specular,
    { ...hyp.candidate, ellipse: fit.ellipse, inside: core, ring },
    maxIrisRadius,
  );
}

/** Median of the smoothed image between 1.15 x `inner` and 0.9 x `outer` (along rays from inner's centre), glints excluded. */
function ringMedian(blur: FloatImage, specular: Uint8Array, inner: Ellipse, outer: Ellipse): number {
  const vals: number[] = [];
  const { width: w, height: h } = blur;
  for (let k = 0; k < 64; k++) {
    const phi = (2 * Math.PI * k) / 64;
    const r0 = 1.15 * ellipseRadiusAt(inner, phi);
    const r1 = 0.9 * ellipseRadiusAt(outer, phi);
    for (let j = 0; j < 4; j++) {
      const r = r0 + ((r1 - r0) * (j + 0.5)) / 4;
      if (r <= r0) continue;
      const x = Math.round(inner.cx + r * Math.cos(phi));
      const y = Math.round(inner.cy + r * Math.sin(phi));
      if (x < 0 || y < 0 || x >= w || y >= h || specular[y * w + x] === 1) continue;
      vals.push(blur.data[y * w + x] as number);
    }
  }
  if (vals.length < 8) return Number.NaN;
  vals.sort((a, b) => a - b);
  return vals[vals.length >> 1] as number;
}

/**
 * The best-scoring hypothesis, after demoting any whose "pupil" is really the iris of another: a
 * hypothesis B with a smaller, darker pupil inside A's pupil and an iris matching A's pupil explains A.
 */
function chooseHypothesis(hyps: EyeHypothesis[]): EyeHypothesis | null {
  for (const a of hyps) {
    const pa = a.pupil.ellipse;
    const ra = (pa.a + pa.b) / 2;
    for (const b of hyps) {
      if (a === b || b.score < 0.15) continue;
      const pb = b.pupil.ellipse;
      const ib = b.iris.ellipse;
      const rib = (ib.a + ib.b) / 2;
      if (
        insideEllipse(pa, pb.cx, pb.cy, 0.7) &&
        (pb.a + pb.b) / 2 < 0.8 * ra &&
        Math.abs(rib - ra) < 0.15 * ra &&
        Math.hypot(ib.cx - pa.cx, ib.cy - pa.cy) < 0.15 * ra &&
        b.pupilMedian < a.pupilMedian
      ) {
        a.score *= 0.2;
        break;
      }
    }
  }
  let best: EyeHypothesis | null = null;
  for (const h of hyps) if (h.score >= MIN_EYE_SCORE && (!best || h.score > best.score)) best = h;
  return best;
}

/** Median and robust spread (1.4826 MAD) of the smoothed image inside 0.85 x the ellipse, glints excluded. */
function interiorStats(
  blur: FloatImage,
  specular: Uint8Array,
  e: Ellipse,
): {
  median: number;
  roughness: number;
  darkFraction: (below: number) => number;
  quantile: (q: number) => number;
} {
  const N = 16;
  const grid = new Float32Array(N * N).fill(Number.NaN);
  const vals: number[] = [];
  const c = Math.cos(e.theta);
  const s = Math.sin(e.theta);
  const { width: w, height: h } = blur;
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const u = -0.85 + (1.7 * (i + 0.5)) / N;
      const v = -0.85 + (1.7 * (j + 0.5)) / N;
      if (u * u + v * v > 0.85 * 0.85) continue;
      const x = Math.round(e.cx + u * e.a * c - v * e.b * s);
      const y = Math.round(e.cy + u * e.a * s + v * e.b * c);
      if (x < 0 || y < 0 || x >= w || y >= h || specular[y * w + x] === 1) continue;
      const val = blur.data[y * w + x] as number;
      grid[i * N + j] = val;
      vals.push(val);
    }
  }
  if (vals.length < 8)
    return { median: Number.NaN, roughness: Number.NaN, darkFraction: () => 0, quantile: () => Number.NaN };
  vals.sort((a, b) => a - b);
  const med = vals[vals.length >> 1] as number;
  // Roughness: median absolute difference of grid neighbours (smooth shading and halos barely count,
  // texture and lashes do).
  const diffs: number[] = [];
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const a = grid[i * N + j] as number;
      if (Number.isNaN(a)) continue;
      if (i + 1 < N && !Number.isNaN(grid[(i + 1) * N + j] as number))
        diffs.push(Math.abs(a - (grid[(i + 1) * N + j] as number)));
      if (j + 1 < N && !Number.isNaN(grid[i * N + j + 1] as number))
        diffs.push(Math.abs(a - (grid[i * N + j + 1] as number)));
    }
  }
  diffs.sort((a, b) => a - b);
  return {
    median: med,
    roughness: diffs.length > 0 ? (diffs[diffs.length >> 1] as number) : Number.NaN,
    darkFraction: (below: number) => {
      let k = 0;
      while (k < vals.length && (vals[k] as number) < below) k++;
      return k / vals.length;
    },
    quantile: (q: number) => vals[Math.min(vals.length - 1, Math.floor(q * vals.length))] as number,
  };
}

/**
 * Prior plausibility of a pupil/iris pair: ratios near the search limit are unusual, so are strongly
 * elliptical pupils (tolerated for the off-gaze gate to measure), and an iris under 12% of the frame's
 * smaller side is more likely a dark blob (a clump of lashes) than an eye.
 */
function plausibility(pe: Ellipse, ie: Ellipse, minDim: number): number {
  const ratio = pe.a / ie.a;
  let p = ratio <= 0.7 ? 1 : Math.max(0.3, 1 - (ratio - 0.7) / 0.17);
  p *= Math.sqrt(Math.min(1, pe.b / pe.a / 0.8));
  if (ie.a < 0.12 * minDim) p *= 0.6;
  return p;
}

/**
 * With no pupil found: do the darkest pixels line up along one long, gently curved, roughly horizontal
 * curve (a closed lid's lash line)? RANSAC parabola through the darkest 3% (then 6%) of the coarse image,
 * away from the frame's edges; a closed eye when it holds at least 35% of those pixels over 30% of the width.
 */
function looksLikeClosedEye(img: FloatImage): boolean {
  const { width: w, height: h, data } = img;
  const v = Float32Array.from(data).sort();
  const rand = seededRandom(4242);
  for (const q of [0.03, 0.06]) {
    const t = v[Math.floor(q * (v.length - 1))] as number;
    const xs: number[] = [];
    const ys: number[] = [];
    const mx = Math.round(0.05 * w);
    const my = Math.round(0.1 * h);
    for (let y = my; y < h - my; y++) {
      for (let x = mx; x < w - mx; x++)
        if ((data[y * w + x] as number) <= t) {
          xs.push(x);
          ys.push(y);
        }
    }
    const n = xs.length;
    if (n < 20) continue;
    const tol = Math.max(2, 0.02 * h);
    for (let it = 0; it < 200; it++) {
      const i = Math.floor(rand() * n);
      const j = Math.floor(rand() * n);
      const k = Math.floor(rand() * n);
      const x1 = xs[i] as number;
      const x2 = xs[j] as number;
      const x3 = xs[k] as number;
      if (Math.min(Math.abs(x1 - x2), Math.abs(x2 - x3), Math.abs(x1 - x3)) < 0.05 * w) continue;
      // Parabola through three points (Lagrange form evaluated through its coefficients).
      const y1 = ys[i] as number;
      const y2 = ys[j] as number;
      const y3 = ys[k] as number;
      const d = (x1 - x2) * (x1 - x3) * (x2 - x3);
      const A = (x3 * (y2 - y1) + x2 * (y1 - y3) + x1 * (y3 - y2)) / d;
      const B = (x3 * x3 * (y1 - y2) + x2 * x2 * (y3 - y1) + x1 * x1 * (y2 - y3)) / d;
      const C = y1 - A * x1 * x1 - B * x1;
      const xm = w / 2;
      if (Math.abs(2 * A * xm + B) > 0.6 || Math.abs(A) * w * w > 0.6 * h) continue;
      let inl = 0;
      let lo = w;
      let hi = 0;
      for (let m = 0; m < n; m++) {
        const x = xs[m] as number;
        if (Math.abs(A * x * x + B * x + C - (ys[m] as number)) <= tol) {
          inl++;
          if (x < lo) lo = x;
          if (x > hi) hi = x;
        }
      }
      if (inl >= 0.35 * n && hi - lo >= 0.3 * w) return true;
    }
  }
  return false;
}
