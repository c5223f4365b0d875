/**
 * Float image helpers for the synthetic eye generator: separable Gaussian blur (edges clamped or wrapped)
 * and smooth random fields made by blurring and upsampling coarse white noise.
 */
import type { Rng } from './random.ts';

/** A normalised 1-D Gaussian kernel of radius ceil(3 sigma). */
export function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const w = Math.exp((-i * i) / (2 * sigma * sigma));
    kernel[i + radius] = w;
    sum += w;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] = (kernel[i] as number) / sum;
  return kernel;
}

/** Copies row `offset .. offset + count` into pad[r .. r + count) with r samples of wrapped/clamped margin. */
function fillPad(
  data: Float32Array,
  offset: number,
  count: number,
  r: number,
  wrap: boolean,
  pad: Float32Array,
): void {
  pad.set(data.subarray(offset, offset + count), r);
  for (let i = 1; i <= r; i++) {
    const left = wrap ? ((-i % count) + count) % count : 0;
    const right = wrap ? (count - 1 + i) % count : count - 1;
    pad[r - i] = data[offset + left] as number;
    pad[r + count - 1 + i] = data[offset + right] as number;
  }
}

/** Blurs each row of a width x height image in place (edges wrapped or clamped). */
function blurRows(data: Float32Array, width: number, height: number, sigma: number, wrap: boolean): void {
  if (sigma <= 0.05) return;
  if (sigma <= 2.5) {
    const kernel = gaussianKernel(sigma);
    const r = (kernel.length - 1) >> 1;
    const taps = kernel.length;
    const pad = new Float32Array(width + 2 * r);
    for (let y = 0; y < height; y++) {
      const offset = y * width;
      fillPad(data, offset, width, r, wrap, pad);
      for (let x = 0; x < width; x++) {
        let acc = 0;
        for (let k = 0; k < taps; k++) acc += (kernel[k] as number) * (pad[x + k] as number);
        data[offset + x] = acc;
      }
    }
    return;
  }
  // Three box passes of radius r have variance r (r + 1).
  const r = boxRadius(sigma);
  const pad = new Float32Array(width + 2 * r + 2);
  const norm = 1 / (2 * r + 1);
  for (let y = 0; y < height; y++) {
    const offset = y * width;
    for (let pass = 0; pass < 3; pass++) {
      // pad[j] holds sample j - r - 1; output x averages pad[x + 1 .. x + 2r + 1].
      fillPad(data, offset, width, r + 1, wrap, pad);
      let sum = 0;
      for (let k = 1; k <= 2 * r + 1; k++) sum += pad[k] as number;
      for (let x = 0; x < width; x++) {
        if (x > 0) sum += (pad[x + 2 * r + 1] as number) - (pad[x] as number);
        data[offset + x] = sum * norm;
      }
    }
  }
}

function boxRadius(sigma: number): number {
  return Math.max(1, Math.round((Math.sqrt(1 + 4 * sigma * sigma) - 1) / 2));
}

/** Blurs each column of a width x height image in place (edges clamped), a whole row at a time. */
function blurColumns(data: Float32Array, width: number, height: number, sigma: number): void {
  if (sigma <= 0.05) return;
  const row = (y: number) => (y < 0 ? 0 : y >= height ? height - 1 : y) * width;
  if (sigma <= 2.5) {
    const kernel = gaussianKernel(sigma);
    const r = (kernel.length - 1) >> 1;
    const taps = kernel.length;
    const src = data.slice();
    const from = new Int32Array(taps);
    for (let y = 0; y < height; y++) {
      const out = y * width;
      for (let k = 0; k < taps; k++) from[k] = row(y + k - r);
      for (let x = 0; x < width; x++) {
        let acc = 0;
        for (let k = 0; k < taps; k++)
          acc += (kernel[k] as number) * (src[(from[k] as number) + x] as number);
        data[out + x] = acc;
      }
    }
    return;
  }
  const r = boxRadius(sigma);
  const norm = 1 / (2 * r + 1);
  const sum = new Float32Array(width);
  let src = data.slice();
  let dst = new Float32Array(data.length);
  for (let pass = 0; pass < 3; pass++) {
    sum.fill(0);
    for (let k = -r; k <= r; k++) {
      const from = row(k);
      for (let x = 0; x < width; x++) sum[x] = (sum[x] as number) + (src[from + x] as number);
    }
    for (let y = 0; y < height; y++) {
      const out = y * width;
      if (y > 0) {
        const add = row(y + r);
        const sub = row(y - r - 1);
        for (let x = 0; x < width; x++)
          sum[x] = (sum[x] as number) + (src[add + x] as number) - (src[sub + x] as number);
      }
      for (let x = 0; x < width; x++) dst[out + x] = (sum[x] as number) * norm;
    }
    [src, dst] = [dst, src];
  }
  data.set(src);
}

/**
 * Blurs a width x height row-major float image in place with a Gaussian of sigmaX along rows and sigmaY
 * along columns (0 skips that axis). Rows wrap around when wrapX (a periodic angular axis), else edges clamp.
 * Sigmas above 2.5 use three box passes (same variance, slightly different shape).
 */
export function gaussianBlur(
  data: Float32Array,
  width: number,
  height: number,
  sigmaX: number,
  sigmaY: number,
  wrapX = false,
): void {
  blurRows(data, width, height, sigmaX, wrapX);
  blurColumns(data, width, height, sigmaY);
}

/** Shifts and scales a field in place to mean 0 and standard deviation 1 (a constant field becomes 0). */
export function standardize(data: Float32Array): Float32Array {
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    sum += v;
    sq += v * v;
  }
  const mean = sum / data.length;
  const sd = Math.sqrt(Math.max(sq / data.length - mean * mean, 0));
  const inv = sd > 1e-12 ? 1 / sd : 0;
  for (let i = 0; i < data.length; i++) data[i] = ((data[i] as number) - mean) * inv;
  return data;
}

/** White noise blurred by (sigmaX, sigmaY) cells and standardised: a band-limited random field. */
export function blurredNoise(
  rng: Rng,
  width: number,
  height: number,
  sigmaX: number,
  sigmaY: number,
  wrapX = false,
): Float32Array {
  const data = rng.fillApproxNormal(new Float32Array(width * height));
  gaussianBlur(data, width, height, sigmaX, sigmaY, wrapX);
  return standardize(data);
}

/**
 * Like blurredNoise, but drawn on a grid `factorX` x `factorY` times coarser and bilinearly upsampled: for
 * large sigmas, where the coarse grid loses nothing. width and height must be multiples of the factors.
 */
export function coarseBlurredNoise(
  rng: Rng,
  width: number,
  height: number,
  sigmaX: number,
  sigmaY: number,
  factorX: number,
  factorY: number,
  wrapX = false,
): Float32Array {
  const gw = width / factorX;
  const gh = height / factorY;
  const grid = blurredNoise(rng, gw, gh, sigmaX / factorX, sigmaY / factorY, wrapX);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    // Grid cell j covers rows j * factorY .. (j + 1) * factorY - 1 and sits at their centre.
    const gy = Math.min(gh - 1, Math.max(0, (y + 0.5) / factorY - 0.5));
    const y0 = Math.floor(gy);
    const y1 = Math.min(y0 + 1, gh - 1);
    const fy = gy - y0;
    for (let x = 0; x < width; x++) {
      let gx = (x + 0.5) / factorX - 0.5;
      if (gx < 0) gx = wrapX ? gx + gw : 0;
      const x0 = Math.floor(gx);
      const x1 = x0 + 1 < gw ? x0 + 1 : wrapX ? 0 : gw - 1;
      const fx = gx - x0;
      const a = (grid[y0 * gw + x0] as number) * (1 - fx) + (grid[y0 * gw + x1] as number) * fx;
      const b = (grid[y1 * gw + x0] as number) * (1 - fx) + (grid[y1 * gw + x1] as number) * fx;
      out[y * width + x] = a + (b - a) * fy;
    }
  }
  return standardize(out);
}

/**
 * A smooth random field of standard deviation about 1 whose features are about `cell` pixels across: coarse
 * noise on a (width / cell) grid, blurred by one cell and bilinearly upsampled. Cheap for whole images.
 */
export function smoothField(
  rng: Rng,
  width: number,
  height: number,
  cell: number,
  wrapX = false,
): Float32Array {
  const gw = Math.max(2, Math.ceil(width / cell) + (wrapX ? 0 : 3));
  const gh = Math.max(2, Math.ceil(height / cell) + 3);
  const grid = blurredNoise(rng, gw, gh, 0.8, 0.8, wrapX);
  const out = new Float32Array(width * height);
  const sx = wrapX ? gw / width : (gw - 3) / width;
  const sy = (gh - 3) / height;
  const col0 = new Int32Array(width);
  const col1 = new Int32Array(width);
  const colF = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const gx = wrapX ? x * sx : 1 + x * sx;
    const x0 = Math.floor(gx);
    col0[x] = x0;
    col1[x] = wrapX ? (x0 + 1) % gw : Math.min(x0 + 1, gw - 1);
    colF[x] = gx - x0;
  }
  for (let y = 0; y < height; y++) {
    const gy = 1 + y * sy;
    const y0 = Math.floor(gy);
    const fy = gy - y0;
    const r0 = y0 * gw;
    const r1 = Math.min(y0 + 1, gh - 1) * gw;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const x0 = col0[x] as number;
      const x1 = col1[x] as number;
      const fx = colF[x] as number;
      const a = (grid[r0 + x0] as number) * (1 - fx) + (grid[r0 + x1] as number) * fx;
      const b = (grid[r1 + x0] as number) * (1 - fx) + (grid[r1 + x1] as number) * fx;
      out[row + x] = a + (b - a) * fy;
    }
  }
  return out;
}

/** Hermite smoothstep: 0 below edge0, 1 above edge1 (edge0 > edge1 gives the falling step). */
export function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = (x - edge0) / (edge1 - edge0);
  if (t <= 0) return 0;
  if (t >= 1) return 1;
  return t * t * (3 - 2 * t);
}
