/**
 * The iris-code filter bank of open-iris 1.11.0 (pipeline.yaml, node `filter_bank`): two complex Gabor
 * filters sampled on a regular 16 x 256 probe grid of the 128 x 512 rubber-sheet image. This module holds
 * the kernels, the probe grid and a plain-loop reference of the whole filter bank; the ONNX graph
 * (build-onnx.ts) computes the same numbers and the tests hold it to this reference.
 *
 * Conventions follow open-iris: a kernel is `rows` (radial) x `cols` (angular), row-major; "real" is the
 * even (cosine) part and "imag" the odd (sine) part.
 */
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH, type NormalizedIris } from '../../protocol/iris-code-layout.ts';

export interface GaborFilterParams {
  /** Kernel size as open-iris writes it: [angular (phi) width, radial (rho) height], both odd. */
  kernelSize: readonly [number, number];
  /** Standard deviation of the Gaussian envelope along the angle, in pixels. */
  sigmaPhi: number;
  /** Standard deviation of the Gaussian envelope along the radius, in pixels. */
  sigmaRho: number;
  /** Orientation in degrees; 90 makes the carrier run along the angular axis. */
  thetaDegrees: number;
  /** Wavelength of the carrier along the angular axis, in pixels. */
  lambdaPhi: number;
  /** Subtract, row by row, the multiple of the envelope exponent that makes the real part's row mean 0. */
  dcCorrection: boolean;
  /** Scale by 2^15 and round (half to even) to integers after normalisation. */
  toFixpoints: boolean;
}

/** open-iris 1.11.0 pipeline.yaml `filter_bank.filters`. */
export const OPEN_IRIS_GABOR_FILTERS: readonly [GaborFilterParams, GaborFilterParams] = [
  {
    kernelSize: [41, 21],
    sigmaPhi: 7,
    sigmaRho: 6.13,
    thetaDegrees: 90,
    lambdaPhi: 28,
    dcCorrection: true,
    toFixpoints: true,
  },
  {
    kernelSize: [17, 21],
    sigmaPhi: 2,
    sigmaRho: 5.86,
    thetaDegrees: 90,
    lambdaPhi: 8,
    dcCorrection: true,
    toFixpoints: true,
  },
];

export interface GaborKernel {
  params: GaborFilterParams;
  /** Radial extent (kernelSize[1]). */
  rows: number;
  /** Angular extent (kernelSize[0]). */
  cols: number;
  /** rows x cols, row-major. With toFixpoints these are integers (exact in float32). */
  real: Float32Array;
  imag: Float32Array;
  /** Frobenius norms of the final real and imaginary parts (open-iris `kernel_norm`); responses are divided by them. */
  normReal: number;
  normImag: number;
}

/** numpy's np.round: to nearest, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds ties up; pull odd results of exact ties back to the even neighbour.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function frobenius(values: Float64Array): number {
  let s = 0;
  for (const v of values) s += v * v;
  return Math.sqrt(s);
}

/** The open-iris GaborFilter kernel for the given parameters. */
export function gaborKernel(params: GaborFilterParams): GaborKernel {
  const [cols, rows] = params.kernelSize;
  if (cols % 2 !== 1 || rows % 2 !== 1) throw new RangeError('Gabor kernel sizes must be odd');
  const halfCols = (cols - 1) / 2;
  const halfRows = (rows - 1) / 2;
  const angle = (params.thetaDegrees * Math.PI) / 180;
  const cosT = Math.cos(angle);
  const sinT = Math.sin(angle);
  const n = rows * cols;
  const envelope = new Float64Array(n);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const amplitude = 2 * Math.PI * params.sigmaPhi * params.sigmaRho;
  for (let r = 0; r < rows; r++) {
    // x runs along the radius (rows), y along the angle (columns), both centred on the kernel.
    const x = r - halfRows;
    for (let c = 0; c < cols; c++) {
      const y = c - halfCols;
      const rotX = x * cosT + y * sinT;
      const rotY = -x * sinT + y * cosT;
      const env = -((rotX * rotX) / params.sigmaPhi ** 2 + (rotY * rotY) / params.sigmaRho ** 2) / 2;
      const phase = ((2 * Math.PI) / params.lambdaPhi) * rotX;
      const g = Math.exp(env);
      const i = r * cols + c;
      envelope[i] = env;
      re[i] = (g * Math.cos(phase)) / amplitude;
      im[i] = (g * Math.sin(phase)) / amplitude;
    }
  }
  if (params.dcCorrection) {
    // Per radial row: remove the real part's mean by subtracting a multiple of the envelope exponent
    // (open-iris subtracts the exponent itself, not the Gaussian; reproduced as is).
    for (let r = 0; r < rows; r++) {
      let meanRe = 0;
      let meanEnv = 0;
      for (let c = 0; c < cols; c++) {
        meanRe += re[r * cols + c] ?? 0;
        meanEnv += envelope[r * cols + c] ?? 0;
      }
      const k = meanRe / cols / (meanEnv / cols);
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        re[i] = (re[i] ?? 0) - k * (envelope[i] ?? 0);
      }
    }
  }
  // Real and imaginary parts are normalised separately to unit Frobenius norm.
  for (const part of [re, im]) {
    const norm = frobenius(part);
    if (norm > 0) for (let i = 0; i < n; i++) part[i] = (part[i] ?? 0) / norm;
    if (params.toFixpoints) {
      // `|| 0` stores -0 as 0: equal values, and no sign bits in the model file.
      for (let i = 0; i < n; i++) part[i] = roundHalfEven((part[i] ?? 0) * 2 ** 15) || 0;
    }
  }
  return {
    params,
    rows,
    cols,
    real: Float32Array.from(re),
    imag: Float32Array.from(im),
    normReal: frobenius(re),
    normImag: frobenius(im),
  };
}

/** The two open-iris kernels, computed once. */
export const OPEN_IRIS_KERNELS: readonly [GaborKernel, GaborKernel] = [
  gaborKernel(OPEN_IRIS_GABOR_FILTERS[0]),
  gaborKernel(OPEN_IRIS_GABOR_FILTERS[1]),
];

/**
 * open-iris RegularProbeSchema(n_rows=16, n_cols=256) with its defaults boundary_rho = [0, 0.0625] and
 * boundary_phi = 'periodic-left': rho = linspace(0, 1 - 0.0625, 16), phi = linspace(0, 1, 256, endpoint=False),
 * mapped to pixels as min(round(v * size), size - 1). That is rows 0, 8, ..., 120 and columns 0, 2, ..., 510.
 */
export const PROBE_ROWS = 16;
export const PROBE_COLUMNS = 256;
export const PROBE_BOUNDARY_RHO: readonly [number, number] = [0, 0.0625];

export function probeRowPixel(i: number): number {
  const [lo, hi] = PROBE_BOUNDARY_RHO;
  const rho = lo + ((1 - hi - lo) / (PROBE_ROWS - 1)) * i;
  return Math.min(roundHalfEven(rho * NORMALIZED_HEIGHT), NORMALIZED_HEIGHT - 1);
}

export function probeColumnPixel(j: number): number {
  const phi = j / PROBE_COLUMNS;
  return Math.min(roundHalfEven(phi * NORMALIZED_WIDTH), NORMALIZED_WIDTH - 1);
}

/**
 * open-iris stores the rubber-sheet image as uint8 (to_uint8: round(v * 255)); the filter bank sees 0..255.
 * This project's NormalizedIris holds [0, 1]; this maps one value the way the graph does (float32 product,
 * clipped to [0, 1] first, ties to even).
 */
export function toUint8Scale(v: number): number {
  const clipped = Math.min(1, Math.max(0, Math.fround(v)));
  return roundHalfEven(Math.fround(clipped * 255));
}

/** Mask responses at or above this make a usable bit (open-iris IrisEncoder default). */
export const MASK_THRESHOLD = 0.93;
/** FragileBitRefinement value_threshold, fragile_type 'polar': [min magnitude, max magnitude, min angle from the axes]. */
export const FRAGILE_MIN_MAGNITUDE = 0.0001;
export const FRAGILE_MAX_MAGNITUDE = 0.275;
export const FRAGILE_MIN_ANGLE = 0.08726646259971647;

export interface FilterBankResponses {
  /** 16,384 values in iris-code order ((row*256+col)*2+filter)*2+part, part 0 = real, 1 = imaginary. */
  response: Float32Array;
  /**
   * Same order: the fraction of the (absolute) real / imaginary kernel weight that falls on unmasked pixels
   * (open-iris maskisduplicated = False). Not yet zeroed where the response is exactly 0: the encoder does that.
   */
  maskResponse: Float32Array;
}

/**
 * The filter bank in plain loops, following open-iris ConvFilterBank._convolve literally: angular wrap padding,
 * no radial padding; near the pupil and iris boundaries the patch is cut at row 0 and at row 126 (open-iris's
 * end bound is rows - 1, so the last row is never used) and the kernel rows used are the centred ones of the
 * same count; the sum is divided by (patch rows x kernel columns) and by the kernel norm.
 */
export function referenceFilterBank(normalized: NormalizedIris): FilterBankResponses {
  const H = NORMALIZED_HEIGHT;
  const W = NORMALIZED_WIDTH;
  const image = new Float64Array(H * W);
  for (let i = 0; i < H * W; i++) image[i] = toUint8Scale(normalized.pixels[i] ?? 0);
  const response = new Float32Array(PROBE_ROWS * PROBE_COLUMNS * 4);
  const maskResponse = new Float32Array(PROBE_ROWS * PROBE_COLUMNS * 4);
  OPEN_IRIS_KERNELS.forEach((kernel, f) => {
    const pRows = (kernel.rows - 1) / 2;
    const pCols = (kernel.cols - 1) / 2;
    for (let i = 0; i < PROBE_ROWS; i++) {
      const rProbe = probeRowPixel(i);
      const rTop = Math.max(0, rProbe - pRows);
      const rBottom = Math.min(rProbe + pRows + 1, H - 1);
      const patchRows = rBottom - rTop;
      const kTop = pRows - Math.floor(patchRows / 2);
      for (let j = 0; j < PROBE_COLUMNS; j++) {
        const cProbe = probeColumnPixel(j);
        let sumRe = 0;
        let sumIm = 0;
        let maskedRe = 0;
        let maskedIm = 0;
        let totalRe = 0;
        let totalIm = 0;
        for (let dr = 0; dr < patchRows; dr++) {
          const row = rTop + dr;
          for (let dc = 0; dc < kernel.cols; dc++) {
            const col = (((cProbe - pCols + dc) % W) + W) % W;
            const k = (kTop + dr) * kernel.cols + dc;
            const kRe = kernel.real[k] ?? 0;
            const kIm = kernel.imag[k] ?? 0;
            const v = image[row * W + col] ?? 0;
            sumRe += v * kRe;
            sumIm += v * kIm;
            totalRe += Math.abs(kRe);
            totalIm += Math.abs(kIm);
            if (normalized.mask[row * W + col]) {
              maskedRe += Math.abs(kRe);
              maskedIm += Math.abs(kIm);
            }
          }
        }
        const base = ((i * PROBE_COLUMNS + j) * 2 + f) * 2;
        response[base] = sumRe / patchRows / kernel.cols / kernel.normReal;
        response[base + 1] = sumIm / patchRows / kernel.cols / kernel.normImag;
        maskResponse[base] = maskedRe / totalRe;
        maskResponse[base + 1] = maskedIm / totalIm;
      }
    }
  });
  return { response, maskResponse };
}
