/**
 * Specular reflections: as open-iris, pixels at or above 254 are saturated glints. The mask is dilated by
 * a couple of pixels so the glint's blurred halo does not create false edges for the boundary searches.
 */
import type { GreyImage } from '../types.ts';
import { dilateSquare, fillMissing } from './image-ops.ts';

export const SPECULAR_THRESHOLD = 254;
/** Glints whose surroundings average at least this bright (skin, sclera glare) are not removed. */
const BRIGHT_SURROUND = 190;

/** Full-image mask (1 = specular reflection or its halo). `radius` is the square dilation radius. */
export function specularMask(image: GreyImage, radius = 2): { mask: Uint8Array; count: number } {
  const { width: w, height: h, data } = image;
  const seed = new Uint8Array(w * h);
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if ((data[i] as number) >= SPECULAR_THRESHOLD) {
      seed[i] = 1;
      count++;
    }
  }
  if (count === 0 || radius <= 0) return { mask: seed, count };
  if (count < 4000) {
    // Few glints: mark each seed's square directly.
    const out = new Uint8Array(w * h);
    for (let i = 0; i < data.length; i++) {
      if (seed[i] !== 1) continue;
      const x = i % w;
      const y = (i - x) / w;
      const x0 = Math.max(0, x - radius);
      const x1 = Math.min(w - 1, x + radius);
      for (let yy = Math.max(0, y - radius); yy <= Math.min(h - 1, y + radius); yy++)
        out.fill(1, yy * w + x0, yy * w + x1 + 1);
    }
    return { mask: out, count };
  }
  return { mask: dilateSquare(seed, w, h, radius), count };
}

/**
 * Glint removal for the boundary searches. Around each small saturated blob (a corneal reflection, at
 * most `maxArea` pixels) the light it scatters is followed outwards along 32 rays on the smoothed image
 * for as long as the intensity keeps falling; inside the star-shaped region so found, the smoothed image
 * is replaced by the value where each ray stopped (interpolated between rays). A glint and its halo in
 * the pupil then become pupil-dark, so they neither split the pupil nor create false edges. Saturated
 * areas larger than `maxArea` (skin or sclera glare) are left alone. Returns the cleaned copy and the
 * region replaced.
 */
export function removeGlints(
  image: GreyImage,
  smooth: { width: number; height: number; data: Float32Array },
  dilated: Uint8Array,
  maxArea = 600,
): { data: Float32Array; region: Uint8Array } {
  const { width: w, height: h, data } = image;
  const out = Float32Array.from(smooth.data);
  const region = new Uint8Array(w * h);
  const seen = new Uint8Array(w * h);
  const stack: number[] = [];
  const RAYS = 32;
  const stopJ = new Int32Array(RAYS);
  const endV = new Float32Array(RAYS);
  let prof = new Float32Array(0);
  for (let start = 0; start < w * h; start++) {
    if (seen[start] === 1 || (data[start] as number) < SPECULAR_THRESHOLD) continue;
    // Flood the saturated blob.
    let area = 0;
    let sx = 0;
    let sy = 0;
    let bx0 = w;
    let bx1 = 0;
    let by0 = h;
    let by1 = 0;
    stack.length = 0;
    stack.push(start);
    seen[start] = 1;
    while (stack.length > 0) {
      const i = stack.pop() as number;
      const x = i % w;
      const y = (i - x) / w;
      area++;
      sx += x;
      sy += y;
      if (x < bx0) bx0 = x;
      if (x > bx1) bx1 = x;
      if (y < by0) by0 = y;
      if (y > by1) by1 = y;
      if (x > 0 && seen[i - 1] === 0 && (data[i - 1] as number) >= SPECULAR_THRESHOLD) {
        seen[i - 1] = 1;
        stack.push(i - 1);
      }
      if (x < w - 1 && seen[i + 1] === 0 && (data[i + 1] as number) >= SPECULAR_THRESHOLD) {
        seen[i + 1] = 1;
        stack.push(i + 1);
      }
      if (y > 0 && seen[i - w] === 0 && (data[i - w] as number) >= SPECULAR_THRESHOLD) {
        seen[i - w] = 1;
        stack.push(i - w);
      }
      if (y < h - 1 && seen[i + w] === 0 && (data[i + w] as number) >= SPECULAR_THRESHOLD) {
        seen[i + w] = 1;
        stack.push(i + w);
      }
    }
    if (area > maxArea) continue;
    const cx = sx / area;
    const cy = sy / area;
    const rc = Math.sqrt(area / Math.PI);
    const maxR = Math.min(60, 14 * rc + 6);
    let meanEnd = 0;
    const steps = Math.ceil(maxR - rc);
    if (prof.length < RAYS * steps) prof = new Float32Array(RAYS * steps);
    for (let k = 0; k < RAYS; k++) {
      const ux = Math.cos((2 * Math.PI * k) / RAYS);
      const uy = Math.sin((2 * Math.PI * k) / RAYS);
      let prev = Number.POSITIVE_INFINITY;
      let j = 0;
      let flat = 0;
      for (; j < steps; j++) {
        const r = rc + 1 + j;
        const x = Math.round(cx + ux * r);
        const y = Math.round(cy + uy * r);
        if (x < 0 || y < 0 || x >= w || y >= h) break;
        const v = smooth.data[y * w + x] as number;
        prof[k * steps + j] = v;
        // Still on the saturated core (an elongated glint): keep going.
        if (prev === Number.POSITIVE_INFINITY && (data[y * w + x] as number) >= SPECULAR_THRESHOLD) continue;
        if (v > prev + 1.5) break;
        // Stop once the fall has flattened out (the halo has reached the background).
        if (prev - v < 0.4) {
          if (++flat >= 3) break;
        } else flat = 0;
        prev = Math.min(prev, v);
      }
      stopJ[k] = j;
      endV[k] = Number.isFinite(prev) ? prev : 0;
      meanEnd += (endV[k] as number) / RAYS;
    }
    // Glare on bright skin or sclera hides nothing the searches need.
    if (meanEnd >= BRIGHT_SURROUND) continue;
    // Halo model: excess over each ray's end value, median over rays, fitted by A exp(-r^2 / 2 s^2).
    let sa = 0;
    let sb = 0;
    let saa = 0;
    let sab = 0;
    let sw = 0;
    const excess: number[] = [];
    for (let j = 0; j < steps; j++) {
      excess.length = 0;
      for (let k = 0; k < RAYS; k++) {
        const e = j < (stopJ[k] as number) ? (prof[k * steps + j] as number) - (endV[k] as number) : 0;
        excess.push(e);
      }
      excess.sort((p, q) => p - q);
      const e = excess[RAYS >> 1] as number;
      if (e < 3) break;
      if (e > 0.9 * (255 - meanEnd)) continue;
      const r = rc + 1 + j;
      const wgt = e;
      sa += wgt * r * r;
      sb += wgt * Math.log(e);
      saa += wgt * r ** 4;
      sab += wgt * r * r * Math.log(e);
      sw += wgt;
    }
    let amp = 0;
    let sigma = 0;
    const den = sw * saa - sa * sa;
    if (sw > 0 && Math.abs(den) > 1e-9) {
      const slope = (sw * sab - sa * sb) / den;
      const icpt = (sb - slope * sa) / sw;
      if (slope < 0) {
        sigma = Math.sqrt(-1 / (2 * slope));
        amp = Math.exp(icpt);
      }
    }
    const coreR = rc + 2;
    const coreReach = Math.max(cx - bx0, bx1 - cx, cy - by0, by1 - cy) * Math.SQRT2 + 3;
    let maxStop = 0;
    for (let k = 0; k < RAYS; k++) maxStop = Math.max(maxStop, rc + 1 + (stopJ[k] as number));
    const reach = Math.max(coreReach, amp > 0 ? Math.min(maxR, 3 * sigma) : maxStop);
    const reach2 = reach * reach;
    const x0 = Math.max(0, Math.floor(cx - reach));
    const x1 = Math.min(w - 1, Math.ceil(cx + reach));
    const y0 = Math.max(0, Math.floor(cy - reach));
    const y1 = Math.min(h - 1, Math.ceil(cy + reach));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x - cx;
        const dy = y - cy;
        const d2 = dx * dx + dy * dy;
        if (d2 > reach2) continue;
        const i = y * w + x;
        region[i] = 1;
        if (dilated[i] === 1 || d2 <= coreR * coreR) {
          out[i] = Number.NaN;
        } else {
          let a = (Math.atan2(dy, dx) / (2 * Math.PI)) * RAYS;
          if (a < 0) a += RAYS;
          const k0 = Math.floor(a) % RAYS;
          const k1 = (k0 + 1) % RAYS;
          const f = a - Math.floor(a);
          const base = (endV[k0] as number) * (1 - f) + (endV[k1] as number) * f;
          const v = out[i] as number;
          if (amp > 0) {
            // Take the halo off, but never below the level the ray in this direction fell to.
            out[i] = Math.max(Math.min(v, base), v - amp * Math.exp(-d2 / (2 * sigma * sigma)));
          } else {
            // No halo model: flatten the region the rays fell through to where they stopped.
            const lim = rc + 1 + (stopJ[k0] as number) * (1 - f) + (stopJ[k1] as number) * f;
            if (d2 <= lim * lim) out[i] = Math.min(v, base);
          }
        }
      }
    }
    // The glint itself: filled inwards from its rim (onion peeling), after the halo is taken off the rim.
    fillMissing(out, w, h);
  }
  return { data: out, region };
}
