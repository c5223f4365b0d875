/**
 * Image-level presentation-attack (PAD) features of one frame: texture statistics that a print, a screen,
 * a textured contact lens or a prosthetic eye cannot hide, computed from the frame, its segmentation
 * (segmentEye) and its rubber sheet (normalizeIris). Nothing here depends on file names or ground truth.
 *
 * Groups (PAD_FEATURE_NAMES gives the order; every value is a log ratio or a bounded share):
 * - spectrum: the mean 2-D power spectrum of 32 x 32 windows (mean removed, Hann taper) in the iris (up to
 *   8 at mid-annulus, the least occluded) and in the 6 smoothest bright tiles away from the iris (skin, far
 *   sclera): log share of energy in the radial bands 0.09-0.18, 0.18-0.35 and 0.35-0.72 cycles/pixel; for
 *   the iris, the strongest spectral spike against the power along its own direction (halftone dots, pixel
 *   grids and lens dots are spikes, fibres and edges are ridges through the origin); for the skin, the
 *   high-band and low-band (moire) peak-to-median ratios;
 * - noise residual (pixel minus the mean of its 8 neighbours) in iris, sclera and skin: variance, kurtosis,
 *   and the ratio of 2-pixel to 1-pixel difference variance (white sensor noise gives 1, a recaptured and
 *   twice-blurred photo more, a halftone less); the vertical/horizontal difference ratio in the skin (rolling-
 *   shutter flicker bands, row noise); the residual of the pupil's rim against its centre (a lens's pigment
 *   overhanging a dilated pupil);
 * - specular highlights on the pupil and the visible iris: saturated pixel count, and for the brightest spot
 *   nearest the pupil centre how far its surroundings stay lit (a corneal glint has a soft halo, an acrylic
 *   dome's reflection is crisp, a printed glint is flat paper white), its roundness, the brightest level;
 * - levels: pupil / iris / sclera / skin ratios, the frame's dynamic range and black floor (paper and ink,
 *   screen black levels, a painted pupil);
 * - geometry: pupil/iris radius ratio, pupil-iris centre offset, pupil roundness, width of the limbus and of
 *   the pupil edge (a painted eye is centred, round and sharp-edged);
 * - rubber sheet: angular vs radial gradient energy, fine-texture share, periodicity along the angle per ring
 *   and averaged (lens dots, painted spokes), the largest radial step of the ring means and of the fine
 *   texture (a lens print's clear zone), outer-ring darkening, the variance shares of ring means and column
 *   means and the periodicity of the column means (spokes), and the texture contrast.
 * About 8 ms per 640 x 480 frame on a 2-core development machine under load.
 */
import { IrisgateError } from '../../protocol/errors.ts';
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH, type NormalizedIris } from '../../protocol/iris-code-layout.ts';
import { bilinearGrey } from '../grey-sampling.ts';
import { ellipseRadiusAt } from '../segmentation/geometry.ts';
import { median as medianOf } from '../segmentation/image-ops.ts';
import type { EyeSegmentation } from '../segmentation/types.ts';
import type { GreyImage } from '../types.ts';

export const PAD_FEATURE_NAMES: readonly string[] = [
  // spectrum, iris windows
  'iris_band_mid',
  'iris_band_high',
  'iris_band_top',
  'iris_hf_peak',
  // spectrum, periocular windows
  'skin_band_mid',
  'skin_band_high',
  'skin_band_top',
  'skin_hf_peak',
  'skin_lf_peak',
  // noise residual
  'iris_res_var',
  'iris_res_kurt',
  'iris_d2_d1',
  'sclera_res_var',
  'sclera_res_kurt',
  'sclera_d2_d1',
  'skin_res_var',
  'skin_res_kurt',
  'skin_d2_d1',
  'skin_dy_dx',
  'pupil_rim_res',
  // specular highlights
  'spec_count',
  'spec_halo_near',
  'spec_halo_mid',
  'spec_round',
  'spec_peak',
  // levels
  'lvl_pupil_iris',
  'lvl_iris_sclera',
  'lvl_sclera_skin',
  'lvl_range',
  'lvl_floor',
  // geometry
  'geo_pupil_ratio',
  'geo_offset',
  'geo_pupil_round',
  'geo_limbus_width',
  'geo_pupil_edge_width',
  // rubber sheet
  'sheet_grad_aniso',
  'sheet_fine',
  'sheet_ang_peak_row',
  'sheet_ang_peak_avg',
  'sheet_radial_step',
  'sheet_outer',
  'sheet_fine_step',
  'sheet_ring_share',
  'sheet_col_share',
  'sheet_col_peak',
  'sheet_contrast',
];

const WIN = 32;
const TWO_PI = 2 * Math.PI;

// ---------------------------------------------------------------------------------------------- FFT

interface FftPlan {
  n: number;
  cos: Float64Array;
  sin: Float64Array;
  rev: Uint32Array;
}

const plans = new Map<number, FftPlan>();

function plan(n: number): FftPlan {
  const cached = plans.get(n);
  if (cached) return cached;
  const bits = Math.log2(n);
  const rev = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    rev[i] = r;
  }
  const cos = new Float64Array(n / 2);
  const sin = new Float64Array(n / 2);
  for (let i = 0; i < n / 2; i++) {
    cos[i] = Math.cos((TWO_PI * i) / n);
    sin[i] = -Math.sin((TWO_PI * i) / n);
  }
  const p = { n, cos, sin, rev };
  plans.set(n, p);
  return p;
}

/** In-place radix-2 FFT of n values at re/im[offset + k * stride]. */
function fft(re: Float64Array, im: Float64Array, offset: number, stride: number, p: FftPlan): void {
  const n = p.n;
  for (let i = 0; i < n; i++) {
    const j = p.rev[i] as number;
    if (j > i) {
      const a = offset + i * stride;
      const b = offset + j * stride;
      const tr = re[a] as number;
      re[a] = re[b] as number;
      re[b] = tr;
      const ti = im[a] as number;
      im[a] = im[b] as number;
      im[b] = ti;
    }
  }
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = p.cos[k * step] as number;
        const wi = p.sin[k * step] as number;
        const a = offset + (start + k) * stride;
        const b = a + half * stride;
        const br = re[b] as number;
        const bi = im[b] as number;
        const xr = br * wr - bi * wi;
        const xi = br * wi + bi * wr;
        const ar = re[a] as number;
        const ai = im[a] as number;
        re[a] = ar + xr;
        im[a] = ai + xi;
        re[b] = ar - xr;
        im[b] = ai - xi;
      }
    }
  }
}

const HANN = Float64Array.from({ length: WIN }, (_, i) => 0.5 - 0.5 * Math.cos((TWO_PI * (i + 0.5)) / WIN));
/** Radial frequency (cycles per pixel) of each bin of a WIN x WIN spectrum. */
const RADIAL = (() => {
  const r = new Float64Array(WIN * WIN);
  for (let v = 0; v < WIN; v++) {
    const fv = (v <= WIN / 2 ? v : v - WIN) / WIN;
    for (let u = 0; u < WIN; u++) {
      const fu = (u <= WIN / 2 ? u : u - WIN) / WIN;
      r[v * WIN + u] = Math.hypot(fu, fv);
    }
  }
  return r;
})();

/** Mean power spectrum of WIN x WIN windows with these top-left corners (mean removed, Hann taper). */
function meanSpectrum(image: GreyImage, corners: ReadonlyArray<readonly [number, number]>): Float64Array {
  const { width: w, data } = image;
  const power = new Float64Array(WIN * WIN);
  const re = new Float64Array(WIN * WIN);
  const im = new Float64Array(WIN * WIN);
  const p = plan(WIN);
  for (const [x0, y0] of corners) {
    let sum = 0;
    for (let y = 0; y < WIN; y++) {
      const row = (y0 + y) * w + x0;
      for (let x = 0; x < WIN; x++) sum += data[row + x] as number;
    }
    const mean = sum / (WIN * WIN);
    for (let y = 0; y < WIN; y++) {
      const row = (y0 + y) * w + x0;
      const hy = HANN[y] as number;
      for (let x = 0; x < WIN; x++) {
        re[y * WIN + x] = ((data[row + x] as number) - mean) * hy * (HANN[x] as number);
      }
    }
    im.fill(0);
    for (let y = 0; y < WIN; y++) fft(re, im, y * WIN, 1, p);
    for (let x = 0; x < WIN; x++) fft(re, im, x, WIN, p);
    for (let i = 0; i < WIN * WIN; i++) {
      power[i] = (power[i] as number) + (re[i] as number) ** 2 + (im[i] as number) ** 2;
    }
  }
  return power;
}

const BANDS: ReadonlyArray<readonly [number, number]> = [
  [0.04, 0.09],
  [0.09, 0.18],
  [0.18, 0.35],
  [0.35, 0.72],
];

/** The median (segmentation/image-ops.ts), 0 for no values. */
function median(values: Float64Array): number {
  return values.length === 0 ? 0 : medianOf(values);
}

/** log(max / median) of the power over bins with radial frequency in [lo, hi). */
function peakRatio(power: Float64Array, lo: number, hi: number): number {
  const values = new Float64Array(power.length);
  let n = 0;
  let max = 0;
  for (let i = 0; i < power.length; i++) {
    const r = RADIAL[i] as number;
    if (r < lo || r >= hi) continue;
    const v = power[i] as number;
    values[n++] = v;
    if (v > max) max = v;
  }
  const med = median(values.subarray(0, n));
  return Math.log((max + 1e-9) / (med + 1e-9));
}

/**
 * Spectral spikes (halftone dots, pixel grids, printed lens dots) against ridges (edges and fibres, whose
 * power runs along one direction through the origin): for the 3 strongest bins with radial frequency in
 * [lo, hi), log of their power over the larger of the power at 0.6x and 1.6x their frequency in the same
 * direction and the band median; the largest of the three.
 */
function spikeRatio(power: Float64Array, lo: number, hi: number): number {
  const values = new Float64Array(power.length);
  let n = 0;
  const top = [-1, -1, -1];
  for (let i = 0; i < power.length; i++) {
    const r = RADIAL[i] as number;
    if (r < lo || r >= hi) continue;
    const v = power[i] as number;
    values[n++] = v;
    // Half plane only (the spectrum of a real window is symmetric).
    const v2 = Math.floor(i / WIN);
    const u = i & (WIN - 1);
    if (v2 > WIN / 2 || (v2 === 0 && u > WIN / 2) || (v2 === WIN / 2 && u > WIN / 2)) continue;
    for (let t = 0; t < 3; t++) {
      const cur = top[t] as number;
      if (cur < 0 || v > (power[cur] as number)) {
        top.splice(t, 0, i);
        top.length = 3;
        break;
      }
    }
  }
  const med = median(values.subarray(0, n));
  const at = (fu: number, fv: number): number => {
    const u = Math.round(fu * WIN);
    const v = Math.round(fv * WIN);
    if (Math.abs(u) > WIN / 2 || Math.abs(v) > WIN / 2) return 0;
    return power[(v & (WIN - 1)) * WIN + (u & (WIN - 1))] as number;
  };
  let best = 0;
  for (const i of top) {
    if (i < 0) continue;
    const u = i & (WIN - 1);
    const v = Math.floor(i / WIN);
    const fu = (u <= WIN / 2 ? u : u - WIN) / WIN;
    const fv = (v <= WIN / 2 ? v : v - WIN) / WIN;
    const ref = Math.max(at(0.6 * fu, 0.6 * fv), at(1.6 * fu, 1.6 * fv), med);
    best = Math.max(best, Math.log(((power[i] as number) + 1e-9) / (ref + 1e-9)));
  }
  return best;
}

/** Log shares of the bands 2-4 in the energy above 0.04 cycles/px, and the high band's peak measure. */
function spectrumFeatures(power: Float64Array, spikes: boolean): [number, number, number, number] {
  const energy = [0, 0, 0, 0];
  for (let i = 0; i < power.length; i++) {
    const r = RADIAL[i] as number;
    for (let b = 0; b < BANDS.length; b++) {
      const band = BANDS[b] as readonly [number, number];
      if (r >= band[0] && r < band[1]) energy[b] = (energy[b] as number) + (power[i] as number);
    }
  }
  const total = energy.reduce((a, b) => a + b, 0) + 1e-9;
  const share = (b: number) => Math.log(((energy[b] as number) + 1e-9 * total + 1e-12) / total);
  return [
    share(1),
    share(2),
    share(3),
    spikes ? spikeRatio(power, 0.15, 0.72) : peakRatio(power, 0.15, 0.72),
  ];
}

// ------------------------------------------------------------------------------------------ regions

interface Ctx {
  image: GreyImage;
  seg: EyeSegmentation;
  /** Iris centre and mean radius; pupil centre and mean radius. */
  ix: number;
  iy: number;
  ri: number;
  px: number;
  py: number;
  rp: number;
}

/** Up to 8 iris windows at mid-annulus, the least occluded first. */
function irisWindows(ctx: Ctx): Array<[number, number]> {
  const { image, seg } = ctx;
  const { width: w, height: h } = image;
  const mask = seg.masks.iris;
  const mid = (ctx.rp + ctx.ri) / 2;
  const cands: Array<{ x0: number; y0: number; frac: number }> = [];
  for (let k = 0; k < 12; k++) {
    const a = (TWO_PI * k) / 12;
    const cx = (ctx.px + ctx.ix) / 2 + mid * Math.cos(a);
    const cy = (ctx.py + ctx.iy) / 2 + mid * Math.sin(a);
    const x0 = Math.round(cx - WIN / 2);
    const y0 = Math.round(cy - WIN / 2);
    if (x0 < 0 || y0 < 0 || x0 + WIN > w || y0 + WIN > h) continue;
    let on = 0;
    for (let y = 0; y < WIN; y += 2) {
      for (let x = 0; x < WIN; x += 2) on += mask[(y0 + y) * w + x0 + x] as number;
    }
    cands.push({ x0, y0, frac: on / ((WIN * WIN) / 4) });
  }
  cands.sort((a, b) => b.frac - a.frac);
  const good = cands.filter((c) => c.frac >= 0.85);
  const chosen = (good.length > 0 ? good : cands.slice(0, 2)).slice(0, 8);
  return chosen.map((c) => [c.x0, c.y0]);
}

/**
 * The 6 smoothest bright WIN x WIN tiles away from the iris (periocular skin and far sclera): tiles on a
 * half-overlapping grid whose centre is more than 1.3 iris radii (plus half a tile) from the iris centre,
 * without saturated pixels, at least half as bright as the brighter tiles, ranked by the variance of their
 * 8 x 8 block means (lid margins and lashes rank low).
 */
function skinTiles(ctx: Ctx): Array<[number, number]> {
  const { width: w, height: h, data } = ctx.image;
  // 8 x 8 block sums and saturation flags of the whole frame, once.
  const bw = Math.floor(w / 8);
  const bh = Math.floor(h / 8);
  const sums = new Float64Array(bw * bh);
  const hot = new Uint8Array(bw * bh);
  for (let y = 0; y < bh * 8; y++) {
    const row = y * w;
    const brow = (y >> 3) * bw;
    for (let bx = 0; bx < bw; bx++) {
      let s = 0;
      let m = 0;
      const o = row + bx * 8;
      for (let x = 0; x < 8; x++) {
        const v = data[o + x] as number;
        s += v;
        if (v > m) m = v;
      }
      sums[brow + bx] = (sums[brow + bx] as number) + s;
      if (m >= 254) hot[brow + bx] = 1;
    }
  }
  const tiles: Array<{ x0: number; y0: number; mean: number; score: number }> = [];
  const far = 1.3 * ctx.ri + WIN * 0.71;
  const nb = WIN / 8;
  for (let by = 0; by + nb <= bh; by += nb / 2) {
    for (let bx = 0; bx + nb <= bw; bx += nb / 2) {
      const x0 = bx * 8;
      const y0 = by * 8;
      if (Math.hypot(x0 + WIN / 2 - ctx.ix, y0 + WIN / 2 - ctx.iy) < far) continue;
      let s = 0;
      let s2 = 0;
      let saturated = false;
      for (let j = 0; j < nb; j++) {
        for (let i = 0; i < nb; i++) {
          const k = (by + j) * bw + bx + i;
          const m = (sums[k] as number) / 64;
          s += m;
          s2 += m * m;
          if (hot[k]) saturated = true;
        }
      }
      if (saturated) continue;
      const mean = s / (nb * nb);
      tiles.push({ x0, y0, mean, score: s2 / (nb * nb) - mean * mean });
    }
  }
  if (tiles.length === 0) return [];
  const means = Float64Array.from(tiles, (t) => t.mean).sort();
  const p75 = means[Math.floor(0.75 * (means.length - 1))] as number;
  const bright = tiles.filter((t) => t.mean >= 0.5 * p75);
  bright.sort((a, b) => a.score - b.score || a.y0 - b.y0 || a.x0 - b.x0);
  return bright.slice(0, 6).map((t) => [t.x0, t.y0]);
}

/** Accumulates residual and difference statistics over a set of pixels. */
class ResidualStats {
  n = 0;
  level = 0;
  r2 = 0;
  r4 = 0;
  d1 = 0;
  d2 = 0;
  dy = 0;
  constructor(private readonly image: GreyImage) {}

  /** Pixel (x, y) with 2 pixels of margin inside the image. */
  add(x: number, y: number): void {
    const { width: w, data } = this.image;
    const i = y * w + x;
    const v = data[i] as number;
    const nb =
      (data[i - 1] as number) +
      (data[i + 1] as number) +
      (data[i - w] as number) +
      (data[i + w] as number) +
      (data[i - w - 1] as number) +
      (data[i - w + 1] as number) +
      (data[i + w - 1] as number) +
      (data[i + w + 1] as number);
    const r = v - nb / 8;
    this.n++;
    this.level += v;
    this.r2 += r * r;
    this.r4 += r * r * r * r;
    const dx1 = (data[i + 1] as number) - v;
    const dx2 = (data[i + 2] as number) - v;
    const dy1 = (data[i + w] as number) - v;
    const dy2 = (data[i + 2 * w] as number) - v;
    this.d1 += dx1 * dx1 + dy1 * dy1;
    this.d2 += dx2 * dx2 + dy2 * dy2;
    this.dy += dy1 * dy1 - dx1 * dx1;
  }

  /** [log residual variance, log kurtosis, log(var d2 / var d1)]; zeros when empty. */
  features(): [number, number, number] {
    if (this.n < 16) return [0, 0, 0];
    const v2 = this.r2 / this.n;
    const v4 = this.r4 / this.n;
    return [
      Math.log(v2 + 0.05),
      Math.log((v4 + 1e-3) / (v2 * v2 + 1e-3)),
      Math.log((this.d2 + 1) / (this.d1 + 1)),
    ];
  }
}

function histogramMedian(hist: Uint32Array, count: number): number {
  if (count === 0) return 0;
  let acc = 0;
  for (let v = 0; v < 256; v++) {
    acc += hist[v] as number;
    if (acc * 2 >= count) return v;
  }
  return 255;
}

/** Whether (x, y) lies between the eyelid margins (a missing lid does not bound). */
export function betweenLids(seg: EyeSegmentation, x: number, y: number): boolean {
  const { upper, lower } = seg.eyelids;
  if (upper) {
    const d = x - upper.x0;
    if (y < upper.c0 + upper.c1 * d + upper.c2 * d * d + 3) return false;
  }
  if (lower) {
    const d = x - lower.x0;
    if (y > lower.c0 + lower.c1 * d + lower.c2 * d * d - 3) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------- specular

interface SpecularFeatures {
  count: number;
  haloNear: number;
  haloMid: number;
  round: number;
  peak: number;
}

/**
 * The brightest spot on the pupil or the visible iris (saturated pixels, or the pixels within 6 levels of the
 * brightest when none saturate): how far its surroundings stay lit (halo) and how round it is.
 */
function specular(ctx: Ctx): SpecularFeatures {
  const { width: w, height: h, data } = ctx.image;
  const reach = 1.05 * ctx.ri;
  const visible = ctx.seg.masks.visible;
  const rp2 = (1.05 * ctx.rp) ** 2;
  // The visible iris (between the lids) and the pupil: where the cornea mirrors the illuminator.
  const onEye = (x: number, y: number): boolean =>
    visible[y * w + x] === 1 || (x - ctx.px) ** 2 + (y - ctx.py) ** 2 <= rp2;
  const x0 = Math.max(2, Math.floor(ctx.ix - reach));
  const x1 = Math.min(w - 3, Math.ceil(ctx.ix + reach));
  const y0 = Math.max(2, Math.floor(ctx.iy - reach));
  const y1 = Math.min(h - 3, Math.ceil(ctx.iy + reach));
  let max = 0;
  let saturated = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!onEye(x, y)) continue;
      const v = data[y * w + x] as number;
      if (v > max) max = v;
      if (v >= 254) saturated++;
    }
  }
  const threshold = Math.min(254, max - 6);
  // The connected spot (8-neighbours) containing the brightest pixels nearest the pupil centre.
  let seed = -1;
  let best = Number.POSITIVE_INFINITY;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if ((data[y * w + x] as number) < threshold) continue;
      const d = (x - ctx.px) ** 2 + (y - ctx.py) ** 2;
      if (d < best && onEye(x, y)) {
        best = d;
        seed = y * w + x;
      }
    }
  }
  const result = { count: Math.log1p(saturated), haloNear: 0, haloMid: 0, round: 0, peak: max / 255 };
  if (seed < 0) return result;
  const limit = 1500;
  const spot: number[] = [seed];
  const inSpot = new Set<number>([seed]);
  for (let k = 0; k < spot.length && spot.length < limit; k++) {
    const i = spot[k] as number;
    const x = i % w;
    const y = (i - x) / w;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        const yy = y + dy;
        if (xx < x0 || xx > x1 || yy < y0 || yy > y1) continue;
        const j = yy * w + xx;
        if (!inSpot.has(j) && (data[j] as number) >= threshold) {
          inSpot.add(j);
          spot.push(j);
        }
      }
    }
  }
  // Second moments: roundness = sqrt(minor / major eigenvalue).
  let sx = 0;
  let sy = 0;
  let bx0 = w;
  let bx1 = 0;
  let by0 = h;
  let by1 = 0;
  for (const i of spot) {
    const x = i % w;
    const y = (i - x) / w;
    sx += x;
    sy += y;
    bx0 = Math.min(bx0, x);
    bx1 = Math.max(bx1, x);
    by0 = Math.min(by0, y);
    by1 = Math.max(by1, y);
  }
  const n = spot.length;
  const mx = sx / n;
  const my = sy / n;
  let cxx = 1 / 12;
  let cyy = 1 / 12;
  let cxy = 0;
  for (const i of spot) {
    const x = (i % w) - mx;
    const y = (i - (i % w)) / w - my;
    cxx += (x * x) / n;
    cyy += (y * y) / n;
    cxy += (x * y) / n;
  }
  const tr = cxx + cyy;
  const disc = Math.sqrt(Math.max(0, ((cxx - cyy) / 2) ** 2 + cxy * cxy));
  result.round = Math.sqrt(Math.max(0, tr / 2 - disc) / (tr / 2 + disc));
  // Rings by chessboard distance from the spot (two-pass transform in a box around it).
  const pad = 9;
  const bx = Math.max(0, bx0 - pad);
  const by = Math.max(0, by0 - pad);
  const bw = Math.min(w - 1, bx1 + pad) - bx + 1;
  const bh = Math.min(h - 1, by1 + pad) - by + 1;
  const dist = new Float32Array(bw * bh).fill(99);
  for (const i of spot) {
    const x = i % w;
    const y = (i - x) / w;
    dist[(y - by) * bw + (x - bx)] = 0;
  }
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const k = y * bw + x;
      let d = dist[k] as number;
      if (x > 0) d = Math.min(d, (dist[k - 1] as number) + 1);
      if (y > 0) {
        d = Math.min(d, (dist[k - bw] as number) + 1);
        if (x > 0) d = Math.min(d, (dist[k - bw - 1] as number) + 1);
        if (x < bw - 1) d = Math.min(d, (dist[k - bw + 1] as number) + 1);
      }
      dist[k] = d;
    }
  }
  for (let y = bh - 1; y >= 0; y--) {
    for (let x = bw - 1; x >= 0; x--) {
      const k = y * bw + x;
      let d = dist[k] as number;
      if (x < bw - 1) d = Math.min(d, (dist[k + 1] as number) + 1);
      if (y < bh - 1) {
        d = Math.min(d, (dist[k + bw] as number) + 1);
        if (x < bw - 1) d = Math.min(d, (dist[k + bw + 1] as number) + 1);
        if (x > 0) d = Math.min(d, (dist[k + bw - 1] as number) + 1);
      }
      dist[k] = d;
    }
  }
  const ring = [0, 0, 0, 0, 0, 0];
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const d = dist[y * bw + x] as number;
      const g = d === 1 ? 0 : d === 2 || d === 3 ? 2 : d >= 6 && d <= 8 ? 4 : -1;
      if (g < 0) continue;
      ring[g] = (ring[g] as number) + (data[(by + y) * w + bx + x] as number);
      ring[g + 1] = (ring[g + 1] as number) + 1;
    }
  }
  const mean = (g: number) => (ring[g] as number) / Math.max(1, ring[g + 1] as number);
  const core = threshold;
  const bg = mean(4);
  const span = Math.max(8, core - bg);
  result.haloNear = (mean(0) - bg) / span;
  result.haloMid = (mean(2) - bg) / span;
  return result;
}

// -------------------------------------------------------------------------------------- edge widths

/**
 * Width (pixels) of a boundary's radial step: on each of 16 rays within 40 degrees of horizontal (both
 * sides), the step height over the steepest slope of the profile across the boundary ellipse, between
 * `inner` and `outer` times its radius; the median over rays with a clear step (log pixels).
 */
function edgeWidth(ctx: Ctx, boundary: EyeSegmentation['irisEllipse'], inner: number, outer: number): number {
  const { width: w, height: h } = ctx.image;
  const steps = 24;
  const widths: number[] = [];
  const p = new Float64Array(steps + 1);
  for (let k = 0; k < 16; k++) {
    const side = k < 8 ? 0 : Math.PI;
    const phi = side + ((k % 8) / 7 - 0.5) * ((80 * Math.PI) / 180);
    const r0 = ellipseRadiusAt(boundary, phi);
    const c = Math.cos(phi);
    const sn = Math.sin(phi);
    let ok = true;
    for (let j = 0; j <= steps && ok; j++) {
      const r = r0 * (inner + ((outer - inner) * j) / steps);
      const x = boundary.cx + r * c;
      const y = boundary.cy + r * sn;
      if (x < 1 || y < 1 || x >= w - 2 || y >= h - 2) ok = false;
      else if (ctx.seg.masks.specular[Math.round(y) * w + Math.round(x)]) ok = false;
      else p[j] = bilinearGrey(ctx.image, x, y);
    }
    if (!ok) continue;
    const lo = ((p[0] as number) + (p[1] as number) + (p[2] as number)) / 3;
    const hi = ((p[steps] as number) + (p[steps - 1] as number) + (p[steps - 2] as number)) / 3;
    const step = Math.abs(hi - lo);
    const pxPerStep = (r0 * (outer - inner)) / steps;
    let slope = 0;
    for (let j = 1; j < steps; j++) {
      slope = Math.max(slope, Math.abs((p[j + 1] as number) - (p[j - 1] as number)) / (2 * pxPerStep));
    }
    if (step >= 4 && slope > 0) widths.push(Math.min(20, Math.max(0.2, step / slope)));
  }
  if (widths.length === 0) return Math.log(20);
  return Math.log(median(Float64Array.from(widths)));
}

// ------------------------------------------------------------------------------------- rubber sheet

const H = NORMALIZED_HEIGHT;
const W = NORMALIZED_WIDTH;

function sheetFeatures(n: NormalizedIris): number[] {
  const { pixels, mask } = n;
  const bandRes = new Float64Array(H / 16);
  const bandN = new Float64Array(H / 16);
  let ga = 0;
  let gr = 0;
  let res = 0;
  let s = 0;
  let s2 = 0;
  let count = 0;
  for (let r = 2; r < H - 2; r++) {
    for (let c = 0; c < W; c++) {
      const i = r * W + c;
      const left = r * W + (c === 0 ? W - 1 : c - 1);
      const right = r * W + (c === W - 1 ? 0 : c + 1);
      if (!mask[i] || !mask[left] || !mask[right] || !mask[i - 2 * W] || !mask[i + 2 * W]) continue;
      const v = pixels[i] as number;
      const a = (pixels[right] as number) - (pixels[left] as number);
      const b = (pixels[i + 2 * W] as number) - (pixels[i - 2 * W] as number);
      ga += a * a;
      gr += b * b;
      const e =
        v -
        ((pixels[left] as number) +
          (pixels[right] as number) +
          (pixels[i - 2 * W] as number) +
          (pixels[i + 2 * W] as number)) /
          4;
      res += e * e;
      s += v;
      s2 += v * v;
      count++;
      const band = r >> 4;
      bandRes[band] = (bandRes[band] as number) + e * e;
      bandN[band] = (bandN[band] as number) + 1;
    }
  }
  const variance = count > 0 ? s2 / count - (s / count) ** 2 : 0;
  const aniso = Math.log((ga + 1e-6) / (gr + 1e-6));
  const fine = count > 0 ? Math.log((res / count + 1e-7) / (variance + 1e-7)) : 0;

  // Ring (row) sums over every usable sample, column sums over rows 8-119.
  const rowSum = new Float64Array(H);
  const rowN = new Float64Array(H);
  const colSum = new Float64Array(W);
  const colN = new Float64Array(W);
  for (let r = 0; r < H; r++) {
    let rs = 0;
    let rn = 0;
    const inner = r >= 8 && r < H - 8;
    for (let c = 0; c < W; c++) {
      const i = r * W + c;
      if (!mask[i]) continue;
      const v = pixels[i] as number;
      rs += v;
      rn++;
      if (inner) {
        colSum[c] = (colSum[c] as number) + v;
        colN[c] = (colN[c] as number) + 1;
      }
    }
    rowSum[r] = rs;
    rowN[r] = rn;
  }

  // Angular periodicity: rows nearly free of occlusion (85%, else 60%), masked samples set to the row mean.
  const p = plan(W);
  const re = new Float64Array(W);
  const im = new Float64Array(W);
  const avg = new Float64Array(W / 2);
  const kLo = 6;
  const values = new Float64Array(W / 2 - kLo);
  let rowPeaks = 0;
  let rows = 0;
  for (const need of [0.85, 0.6]) {
    avg.fill(0);
    rowPeaks = 0;
    rows = 0;
    for (let r = 6; r < H - 4; r += 4) {
      const on = rowN[r] as number;
      if (on < need * W) continue;
      const m = (rowSum[r] as number) / on;
      for (let c = 0; c < W; c++) re[c] = mask[r * W + c] ? (pixels[r * W + c] as number) - m : 0;
      im.fill(0);
      fft(re, im, 0, 1, p);
      let max = 0;
      for (let k = kLo; k < W / 2; k++) {
        const v = (re[k] as number) ** 2 + (im[k] as number) ** 2;
        avg[k] = (avg[k] as number) + v;
        values[k - kLo] = v;
        if (v > max) max = v;
      }
      rowPeaks += Math.log((max + 1e-12) / (median(values) + 1e-12));
      rows++;
    }
    if (rows >= 3) break;
  }
  let rowPeak = 0;
  let avgPeak = 0;
  if (rows > 0) {
    rowPeak = rowPeaks / rows;
    let max = 0;
    for (let k = kLo; k < W / 2; k++) {
      const v = avg[k] as number;
      values[k - kLo] = v;
      if (v > max) max = v;
    }
    avgPeak = Math.log((max + 1e-12) / (median(values) + 1e-12));
  }

  // Radial structure: the largest step between ring means 8 rows apart (4-row blocks), over the texture's
  // standard deviation (a lens print's clear zone); the outer rings' level against the middle ones.
  const blockSum = new Float64Array(H / 4);
  const blockN = new Float64Array(H / 4);
  for (let r = 0; r < H; r++) {
    blockSum[r >> 2] = (blockSum[r >> 2] as number) + (rowSum[r] as number);
    blockN[r >> 2] = (blockN[r >> 2] as number) + (rowN[r] as number);
  }
  const sd = Math.sqrt(Math.max(variance, 1e-8));
  let step = 0;
  for (let b = 0; b + 2 < H / 4; b++) {
    if ((blockN[b] as number) < 64 || (blockN[b + 2] as number) < 64) continue;
    const d = Math.abs(
      (blockSum[b + 2] as number) / (blockN[b + 2] as number) -
        (blockSum[b] as number) / (blockN[b] as number),
    );
    step = Math.max(step, d / sd);
  }
  const bandMean = (b0: number, b1: number) => {
    let t = 0;
    let m = 0;
    for (let b = b0; b < b1; b++) {
      t += blockSum[b] as number;
      m += blockN[b] as number;
    }
    return m > 0 ? t / m : 0;
  };
  const outer = Math.log((bandMean(27, 32) + 0.01) / (bandMean(10, 20) + 0.01));

  // Fine texture that starts or stops at one radius (a lens print's clear zone): 16-row bands.
  let fineStep = 0;
  for (let b = 0; b + 1 < H / 16; b++) {
    if ((bandN[b] as number) < 400 || (bandN[b + 1] as number) < 400) continue;
    const lo = (bandRes[b] as number) / (bandN[b] as number);
    const hi = (bandRes[b + 1] as number) / (bandN[b + 1] as number);
    fineStep = Math.max(fineStep, Math.abs(Math.log((hi + 1e-7) / (lo + 1e-7))));
  }

  // Ring means (concentric bands) and column means over the radius (spokes), as shares of the variance;
  // the periodicity of the column means.
  const mean = count > 0 ? s / count : 0;
  let rowVar = 0;
  let rowsUsed = 0;
  for (let r = 0; r < H; r++) {
    if ((rowN[r] as number) < 64) continue;
    rowVar += ((rowSum[r] as number) / (rowN[r] as number) - mean) ** 2;
    rowsUsed++;
  }
  const ringShare = rowsUsed > 0 ? Math.log((rowVar / rowsUsed + 1e-8) / (variance + 1e-8)) : 0;
  let colVar = 0;
  let colsUsed = 0;
  re.fill(0);
  im.fill(0);
  for (let c = 0; c < W; c++) {
    if ((colN[c] as number) < 24) continue;
    const d = (colSum[c] as number) / (colN[c] as number) - mean;
    colVar += d * d;
    colsUsed++;
    re[c] = d;
  }
  let colShare = 0;
  let colPeak = 0;
  if (colsUsed >= 64) {
    colShare = Math.log((colVar / colsUsed + 1e-8) / (variance + 1e-8));
    fft(re, im, 0, 1, p);
    let max = 0;
    const kHi = 160;
    for (let k = kLo; k < kHi; k++) {
      const v = (re[k] as number) ** 2 + (im[k] as number) ** 2;
      values[k - kLo] = v;
      if (v > max) max = v;
    }
    colPeak = Math.log((max + 1e-12) / (median(values.subarray(0, kHi - kLo)) + 1e-12));
  }
  return [
    aniso,
    fine,
    rowPeak,
    avgPeak,
    Math.log(step + 0.01),
    outer,
    fineStep,
    ringShare,
    colShare,
    colPeak,
    count > 0 ? Math.log((Math.sqrt(Math.max(variance, 0)) + 1e-4) / (mean + 1e-3)) : 0,
  ];
}

// -------------------------------------------------------------------------------------------- main

/** The PAD feature vector of one frame (PAD_FEATURE_NAMES order). */
export function padFeatures(
  image: GreyImage,
  seg: EyeSegmentation,
  normalized: NormalizedIris,
): Float32Array {
  const { width: w, height: h, data } = image;
  if (seg.width !== w || seg.height !== h || data.length !== w * h) {
    throw new IrisgateError('invalid_argument', 'the segmentation does not belong to this image');
  }
  if (normalized.pixels.length !== H * W || normalized.mask.length !== H * W) {
    throw new IrisgateError('invalid_argument', `a normalized iris must hold ${H} x ${W} samples`);
  }
  const ctx: Ctx = {
    image,
    seg,
    ix: seg.iris.x,
    iy: seg.iris.y,
    ri: seg.iris.r,
    px: seg.pupil.x,
    py: seg.pupil.y,
    rp: seg.pupil.r,
  };
  const out: number[] = [];

  // Spectra.
  const irisWins = irisWindows(ctx);
  const skinWins = skinTiles(ctx);
  const irisPower = meanSpectrum(image, irisWins);
  const skinPower = meanSpectrum(image, skinWins);
  out.push(...spectrumFeatures(irisPower, true));
  out.push(...spectrumFeatures(skinPower, false), peakRatio(skinPower, 0.04, 0.15));

  // Residuals.
  const irisStats = new ResidualStats(image);
  const scleraStats = new ResidualStats(image);
  const skinStats = new ResidualStats(image);
  const irisHist = new Uint32Array(256);
  const scleraHist = new Uint32Array(256);
  const skinHist = new Uint32Array(256);
  const pupilHist = new Uint32Array(256);
  let irisN = 0;
  let scleraN = 0;
  let skinN = 0;
  let pupilN = 0;
  const { iris: irisMask, specular: specMask } = seg.masks;
  const inner = (x: number, y: number) => x >= 2 && y >= 2 && x < w - 2 && y < h - 2;
  // Iris: usable pixels whose 8 neighbours are usable too.
  const r1 = Math.ceil(ctx.ri * 1.1);
  for (let y = Math.max(2, Math.floor(ctx.iy - r1)); y < Math.min(h - 2, ctx.iy + r1); y++) {
    for (let x = Math.max(2, Math.floor(ctx.ix - r1)); x < Math.min(w - 2, ctx.ix + r1); x++) {
      const i = y * w + x;
      if (!irisMask[i]) continue;
      irisHist[data[i] as number] = (irisHist[data[i] as number] as number) + 1;
      irisN++;
      if (
        !irisMask[i - 1] ||
        !irisMask[i + 1] ||
        !irisMask[i - w] ||
        !irisMask[i + w] ||
        !irisMask[i + 2 * w]
      )
        continue;
      if (!irisMask[i + 2] || !irisMask[i - w - 1] || !irisMask[i + w + 1]) continue;
      irisStats.add(x, y);
    }
  }
  // Pupil: levels from the central 60% of its radius; residuals there and in its rim (0.7-0.92 radii,
  // where a lens's pigment overhangs a dilated pupil). No reflections.
  const pupilCore = new ResidualStats(image);
  const pupilRim = new ResidualStats(image);
  const rpRim = 0.92 * ctx.rp;
  for (let y = Math.max(2, Math.floor(ctx.py - rpRim)); y <= Math.min(h - 3, ctx.py + rpRim); y++) {
    for (let x = Math.max(2, Math.floor(ctx.px - rpRim)); x <= Math.min(w - 3, ctx.px + rpRim); x++) {
      const d2 = ((x - ctx.px) ** 2 + (y - ctx.py) ** 2) / (ctx.rp * ctx.rp);
      if (d2 > 0.92 * 0.92 || (d2 > 0.6 * 0.6 && d2 < 0.7 * 0.7)) continue;
      const i = y * w + x;
      if (specMask[i] || (data[i] as number) >= 254) continue;
      if (d2 <= 0.36) {
        pupilHist[data[i] as number] = (pupilHist[data[i] as number] as number) + 1;
        pupilN++;
        pupilCore.add(x, y);
      } else {
        pupilRim.add(x, y);
      }
    }
  }
  // Sclera: beside the iris (1.15-1.6 radii, within 0.35 radii of its horizontal), between the lids.
  for (let y = Math.floor(ctx.iy - 0.35 * ctx.ri); y <= ctx.iy + 0.35 * ctx.ri; y++) {
    for (const sign of [-1, 1]) {
      for (let d = Math.ceil(1.15 * ctx.ri); d <= 1.6 * ctx.ri; d++) {
        const x = Math.round(ctx.ix + sign * d);
        if (!inner(x, y)) continue;
        const i = y * w + x;
        if (specMask[i] || (data[i] as number) >= 254 || !betweenLids(seg, x, y)) continue;
        scleraHist[data[i] as number] = (scleraHist[data[i] as number] as number) + 1;
        scleraN++;
        scleraStats.add(x, y);
      }
    }
  }
  // Skin: the periocular tiles, 2 pixels in from their edges.
  for (const [x0, y0] of skinWins) {
    for (let y = y0 + 2; y < y0 + WIN - 2; y++) {
      for (let x = x0 + 2; x < x0 + WIN - 2; x++) {
        if (!inner(x, y)) continue;
        const v = data[y * w + x] as number;
        skinHist[v] = (skinHist[v] as number) + 1;
        skinN++;
        skinStats.add(x, y);
      }
    }
  }
  out.push(...irisStats.features(), ...scleraStats.features(), ...skinStats.features());
  out.push(
    skinStats.n > 0 ? Math.log((skinStats.d1 + skinStats.dy + 1) / (skinStats.d1 - skinStats.dy + 1)) : 0,
  );
  out.push(
    pupilCore.n >= 16 && pupilRim.n >= 16
      ? Math.log((pupilRim.r2 / pupilRim.n + 0.5) / (pupilCore.r2 / pupilCore.n + 0.5))
      : 0,
  );

  // Specular.
  const spec = specular(ctx);
  out.push(spec.count, spec.haloNear, spec.haloMid, spec.round, spec.peak);

  // Levels.
  const pupilLevel = pupilN > 0 ? histogramMedian(pupilHist, pupilN) : seg.diagnostics.pupilLevel;
  const irisLevel = irisN > 0 ? histogramMedian(irisHist, irisN) : seg.diagnostics.irisLevel;
  const scleraLevel = scleraN > 0 ? histogramMedian(scleraHist, scleraN) : irisLevel;
  const skinLevel = skinN > 0 ? histogramMedian(skinHist, skinN) : scleraLevel;
  const all = new Uint32Array(256);
  let allN = 0;
  for (let i = 0; i < data.length; i += 5) {
    all[data[i] as number] = (all[data[i] as number] as number) + 1;
    allN++;
  }
  const quantile = (q: number) => {
    let acc = 0;
    for (let v = 0; v < 256; v++) {
      acc += all[v] as number;
      if (acc >= q * allN) return v;
    }
    return 255;
  };
  const p1 = quantile(0.01);
  const p50 = quantile(0.5);
  const p99 = quantile(0.99);
  out.push(
    Math.log((pupilLevel + 4) / (irisLevel + 4)),
    Math.log((irisLevel + 4) / (scleraLevel + 4)),
    Math.log((scleraLevel + 4) / (skinLevel + 4)),
    (p99 - p1) / 255,
    Math.log((p1 + 4) / (p50 + 4)),
  );

  // Geometry.
  out.push(
    ctx.rp / ctx.ri,
    Math.hypot(ctx.px - ctx.ix, ctx.py - ctx.iy) / ctx.ri,
    seg.pupilEllipse.b / seg.pupilEllipse.a,
    edgeWidth(ctx, seg.irisEllipse, 0.85, 1.15),
    edgeWidth(ctx, seg.pupilEllipse, 0.75, 1.25),
  );

  // Rubber sheet.
  out.push(...sheetFeatures(normalized));

  if (out.length !== PAD_FEATURE_NAMES.length) {
    throw new IrisgateError('internal_error', `padFeatures made ${out.length} values`);
  }
  const result = Float32Array.from(out, (v) => (Number.isFinite(v) ? v : 0));
  return result;
}
