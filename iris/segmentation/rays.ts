/**
 * Radial intensity profiles: bilinear samples of the smoothed image along a ray, with specular samples
 * replaced by their nearest valid neighbour on the ray (so glints neither create nor hide edges), and
 * a smoothed derivative of the profile.
 */
import type { FloatImage } from './image-ops.ts';

export interface RayProfile {
  /** Intensity samples. */
  values: Float32Array;
  /** 1 where the sample was a specular reflection (or outside the image). */
  invalid: Uint8Array;
  /** Centred derivative over +-`half` samples (value[k + half] - value[k - half]); 0 near invalid samples. */
  deriv: Float32Array;
}

export function allocProfile(n: number): RayProfile {
  return { values: new Float32Array(n), invalid: new Uint8Array(n), deriv: new Float32Array(n) };
}

/**
 * Samples `n` points at (cx + ux * s, cy + uy * s) for s from s0 to s1 (inclusive), writing into `out`.
 * Returns the number of valid samples.
 */
export function sampleRay(
  img: FloatImage,
  specular: Uint8Array | null,
  cx: number,
  cy: number,
  ux: number,
  uy: number,
  s0: number,
  s1: number,
  n: number,
  half: number,
  out: RayProfile,
): number {
  const { values, invalid, deriv } = out;
  const w = img.width;
  const h = img.height;
  const step = n > 1 ? (s1 - s0) / (n - 1) : 0;
  let valid = 0;
  for (let k = 0; k < n; k++) {
    const s = s0 + step * k;
    const x = cx + ux * s;
    const y = cy + uy * s;
    if (x < 0 || y < 0 || x > w - 1 || y > h - 1) {
      invalid[k] = 1;
      values[k] = 0;
      continue;
    }
    if (specular !== null && specular[Math.round(y) * w + Math.round(x)] === 1) {
      invalid[k] = 1;
      values[k] = 0;
      continue;
    }
    invalid[k] = 0;
    const x0 = x | 0;
    const y0 = y | 0;
    const fx = x - x0;
    const fy = y - y0;
    const i = y0 * w + x0;
    const d = img.data;
    const a = d[i] as number;
    const b = x0 + 1 < w ? (d[i + 1] as number) : a;
    const c = y0 + 1 < h ? (d[i + w] as number) : a;
    const e = x0 + 1 < w && y0 + 1 < h ? (d[i + w + 1] as number) : c;
    values[k] = a + (b - a) * fx + (c - a) * fy + (a - b - c + e) * fx * fy;
    valid++;
  }
  if (valid > 0 && valid < n) {
    // Fill invalid samples from the nearest valid sample (forward then backward).
    let last = -1;
    for (let k = 0; k < n; k++) {
      if (invalid[k] === 0) last = k;
      else if (last >= 0) values[k] = values[last] as number;
    }
    const fv = firstValid(invalid);
    for (let k = 0; k < fv; k++) values[k] = values[fv] as number;
  }
  for (let k = 0; k < n; k++) {
    if (k < half || k + half >= n) {
      deriv[k] = 0;
      continue;
    }
    let bad = false;
    for (let j = k - half; j <= k + half; j++) {
      if (invalid[j] === 1) {
        bad = true;
        break;
      }
    }
    deriv[k] = bad ? 0 : (values[k + half] as number) - (values[k - half] as number);
  }
  return valid;
}

function firstValid(invalid: Uint8Array): number {
  for (let k = 0; k < invalid.length; k++) if (invalid[k] === 0) return k;
  return invalid.length;
}

/**
 * Sub-sample offset of a peak at index i: the vertex of the parabola through values i-1, i, i+1, clamped
 * to +-0.5 (0 where the three points do not curve down).
 */
export function parabolicPeakOffset(values: ArrayLike<number>, i: number): number {
  const before = values[i - 1] as number;
  const at = values[i] as number;
  const after = values[i + 1] as number;
  const curvature = before - 2 * at + after;
  return curvature < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (before - after)) / curvature)) : 0;
}
