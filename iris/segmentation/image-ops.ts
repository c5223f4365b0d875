/**
 * Small typed-array image operations shared by the segmentation steps. Everything works on row-major
 * Float32Array or Uint8Array planes; nothing allocates per pixel.
 */

/** A single-channel float image (any range). */
export interface FloatImage {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * Separable 5-tap binomial blur ([1 4 6 4 1] / 16, sigma about 1 px) of an 8-bit image into floats.
 * Borders are clamped.
 */
export function binomialBlur(src: Uint8Array, width: number, height: number): FloatImage {
  const tmp = new Float32Array(width * height);
  const out = new Float32Array(width * height);
  const xm = width - 1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const x1 = x > 0 ? x - 1 : 0;
      const x2 = x > 1 ? x - 2 : 0;
      const x3 = x < xm ? x + 1 : xm;
      const x4 = x < xm - 1 ? x + 2 : xm;
      tmp[row + x] =
        ((src[row + x2] as number) +
          4 * (src[row + x1] as number) +
          6 * (src[row + x] as number) +
          4 * (src[row + x3] as number) +
          (src[row + x4] as number)) *
        0.0625;
    }
  }
  const ym = height - 1;
  for (let y = 0; y < height; y++) {
    const r0 = (y > 1 ? y - 2 : 0) * width;
    const r1 = (y > 0 ? y - 1 : 0) * width;
    const r2 = y * width;
    const r3 = (y < ym ? y + 1 : ym) * width;
    const r4 = (y < ym - 1 ? y + 2 : ym) * width;
    for (let x = 0; x < width; x++) {
      out[r2 + x] =
        ((tmp[r0 + x] as number) +
          4 * (tmp[r1 + x] as number) +
          6 * (tmp[r2 + x] as number) +
          4 * (tmp[r3 + x] as number) +
          (tmp[r4 + x] as number)) *
        0.0625;
    }
  }
  return { width, height, data: out };
}

/** Fills NaN pixels by repeatedly averaging their known 8-neighbours (a cheap diffusion inpainting). */
export function fillMissing(data: Float32Array, w: number, h: number): void {
  let pending: number[] = [];
  for (let i = 0; i < data.length; i++) if (Number.isNaN(data[i] as number)) pending.push(i);
  let guard = 0;
  while (pending.length > 0 && guard++ < w + h) {
    const next: number[] = [];
    const updates: Array<[number, number]> = [];
    for (const i of pending) {
      const x = i % w;
      const y = (i - x) / w;
      let s = 0;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w || (dx === 0 && dy === 0)) continue;
          const v = data[yy * w + xx] as number;
          if (!Number.isNaN(v)) {
            s += v;
            n++;
          }
        }
      }
      if (n > 0) updates.push([i, s / n]);
      else next.push(i);
    }
    for (const [i, v] of updates) data[i] = v;
    if (updates.length === 0) break;
    pending = next;
  }
  for (const i of pending) data[i] = 0;
}

/**
 * (2 radius + 1)^2 box filter of a float image (clamped borders); radius 1 is the 3x3 mean. Each output is
 * the window's sum from left to right (top to bottom) over its width, with no running sums, so the result
 * does not depend on the scan.
 */
export function boxBlur(img: FloatImage, radius: number): FloatImage {
  const { width: w, height: h, data } = img;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const n = 2 * radius + 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let d = -radius; d <= radius; d++) s += data[row + Math.min(w - 1, Math.max(0, x + d))] as number;
      tmp[row + x] = s / n;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let d = -radius; d <= radius; d++) s += tmp[Math.min(h - 1, Math.max(0, y + d)) * w + x] as number;
      out[y * w + x] = s / n;
    }
  }
  return { width: w, height: h, data: out };
}

/** Quantile of a numeric array (copies; q in [0, 1]). Returns NaN for an empty input. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const a = Float64Array.from(values as ArrayLike<number>).sort();
  const pos = Math.min(n - 1, Math.max(0, q * (n - 1)));
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return (a[lo] as number) + ((a[hi] as number) - (a[lo] as number)) * (pos - lo);
}

export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/** Grey-level 3x3 erosion (min) or dilation (max) of a float image, clamped borders. */
function minMax3(img: FloatImage, useMax: boolean): FloatImage {
  const { width: w, height: h, data } = img;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const sign = useMax ? -1 : 1;
  // min(a, b) on sign * value gives max for sign = -1.
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let m = sign * (data[row + x] as number);
      const l = sign * (data[row + (x > 0 ? x - 1 : 0)] as number);
      const r = sign * (data[row + (x < w - 1 ? x + 1 : w - 1)] as number);
      if (l < m) m = l;
      if (r < m) m = r;
      tmp[row + x] = m;
    }
  }
  for (let y = 0; y < h; y++) {
    const r0 = (y > 0 ? y - 1 : 0) * w;
    const r1 = y * w;
    const r2 = (y < h - 1 ? y + 1 : h - 1) * w;
    for (let x = 0; x < w; x++) {
      let m = tmp[r1 + x] as number;
      const a = tmp[r0 + x] as number;
      const b = tmp[r2 + x] as number;
      if (a < m) m = a;
      if (b < m) m = b;
      out[r1 + x] = sign * m;
    }
  }
  return { width: w, height: h, data: out };
}

/**
 * 3x3 grey opening then closing: removes bright specks (glint halos) and thin dark lines (eyelashes)
 * narrower than the window, keeping larger dark blobs such as the pupil.
 */
export function openClose3(img: FloatImage): FloatImage {
  const opened = minMax3(minMax3(img, false), true);
  return minMax3(minMax3(opened, true), false);
}

/** Block-average downsampling of a float image, skipping `ignore`d pixels (blocks with none are filled). */
export function downsampleFloat(img: FloatImage, factor: number, ignore: Uint8Array): FloatImage {
  const { width, height, data } = img;
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  const sum = new Float32Array(w * h);
  const cnt = new Uint16Array(w * h);
  const colOf = new Int32Array(w * factor);
  for (let x = 0; x < w * factor; x++) colOf[x] = Math.floor(x / factor);
  for (let y = 0; y < h * factor; y++) {
    const row = y * width;
    const crow = Math.floor(y / factor) * w;
    for (let x = 0; x < w * factor; x++) {
      const i = row + x;
      if (ignore[i] === 1) continue;
      const ci = crow + (colOf[x] as number);
      sum[ci] = (sum[ci] as number) + (data[i] as number);
      cnt[ci] = (cnt[ci] as number) + 1;
    }
  }
  const out = new Float32Array(w * h);
  let missing = 0;
  for (let i = 0; i < w * h; i++) {
    const c = cnt[i] as number;
    if (c > 0) out[i] = (sum[i] as number) / c;
    else {
      out[i] = Number.NaN;
      missing++;
    }
  }
  if (missing > 0) fillMissing(out, w, h);
  return { width: w, height: h, data: out };
}

/** A square dilation of a 0/1 mask by `radius` pixels (separable running counts). */
export function dilateSquare(mask: Uint8Array, w: number, h: number, radius: number): Uint8Array {
  const rows = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    let run = 0;
    for (let x = -radius; x < w; x++) {
      if (x + radius < w) run += mask[y * w + x + radius] as number;
      if (x - radius - 1 >= 0) run -= mask[y * w + x - radius - 1] as number;
      if (x >= 0) rows[y * w + x] = run > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(w * h);
  for (let x = 0; x < w; x++) {
    let run = 0;
    for (let y = -radius; y < h; y++) {
      if (y + radius < h) run += rows[(y + radius) * w + x] as number;
      if (y - radius - 1 >= 0) run -= rows[(y - radius - 1) * w + x] as number;
      if (y >= 0) out[y * w + x] = run > 0 ? 1 : 0;
    }
  }
  return out;
}
