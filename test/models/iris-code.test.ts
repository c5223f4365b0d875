import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIrisEncoder,
  DEFAULT_MANIFEST_PATH,
  DEFAULT_MODEL_PATH,
  encodeResponses,
  type IrisEncoder,
} from '../../iris/encoder.ts';
import { buildIrisCodeModel, radialPatch } from '../../models/iris-code/build-onnx.ts';
import {
  type FilterBankResponses,
  FRAGILE_MAX_MAGNITUDE,
  FRAGILE_MIN_ANGLE,
  FRAGILE_MIN_MAGNITUDE,
  gaborKernel,
  MASK_THRESHOLD,
  OPEN_IRIS_GABOR_FILTERS,
  OPEN_IRIS_KERNELS,
  PROBE_COLUMNS,
  PROBE_ROWS,
  probeColumnPixel,
  probeRowPixel,
  referenceFilterBank,
} from '../../models/iris-code/gabor.ts';
import { IrisgateError } from '../../protocol/errors.ts';
import {
  CODE_BITS,
  codeBitIndex,
  NORMALIZED_HEIGHT as H,
  type IrisCode,
  type NormalizedIris,
  NORMALIZED_WIDTH as W,
} from '../../protocol/iris-code-layout.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const MODELS_DIR = new URL('../../models/', import.meta.url);

/** Deterministic 32-bit generator (mulberry32). */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * An iris-like texture from integers only (so any platform builds the same bytes): box-blurred noise,
 * grey levels 40..167, an eyelid (rows 96-127, columns 96-223) and scattered eyelashes (columns 300-339) masked.
 */
function texturedIris(seed: number): NormalizedIris {
  const next = generator(seed);
  const noise = Uint32Array.from({ length: H * W }, () => next() & 255);
  const pixels = new Float32Array(H * W);
  const mask = new Uint8Array(H * W);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      let s = 0;
      for (let dr = -1; dr <= 1; dr++) {
        for (let dc = -2; dc <= 2; dc++) {
          s += noise[Math.min(H - 1, Math.max(0, r + dr)) * W + ((c + dc + W) % W)] ?? 0;
        }
      }
      pixels[r * W + c] = Math.floor(40 + Math.floor(s / 15) / 2) / 255;
      const eyelid = r >= 96 && c >= 96 && c < 224;
      const lashes = c >= 300 && c < 340 && (next() & 7) === 0;
      mask[r * W + c] = eyelid || lashes ? 0 : 1;
    }
  }
  return { pixels, mask };
}

function image(f: (r: number, c: number) => number, mask?: (r: number, c: number) => number): NormalizedIris {
  const pixels = new Float32Array(H * W);
  const m = new Uint8Array(H * W);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      pixels[r * W + c] = f(r, c);
      m[r * W + c] = mask ? mask(r, c) : 1;
    }
  }
  return { pixels, mask: m };
}

const COS_MIN_ANGLE = Math.cos(FRAGILE_MIN_ANGLE);

/** Whether bit i (real or imaginary part) is fragile by open-iris's polar rule, from the reference responses. */
function fragile(response: Float32Array, i: number): boolean {
  const cell = i - (i % 2);
  const re = response[cell] ?? 0;
  const im = response[cell + 1] ?? 0;
  const magnitude = Math.hypot(re, im);
  if (!(magnitude >= FRAGILE_MIN_MAGNITUDE && magnitude <= FRAGILE_MAX_MAGNITUDE)) return true;
  const other = i % 2 === 0 ? im : re;
  return Math.abs(other) / magnitude > COS_MIN_ANGLE;
}

/** Bit i sits so close to a decision boundary that float32 rounding in the runtime may flip it. */
function nearBoundary(ref: FilterBankResponses, i: number): boolean {
  const cell = i - (i % 2);
  const re = ref.response[cell] ?? 0;
  const im = ref.response[cell + 1] ?? 0;
  const magnitude = Math.hypot(re, im);
  const eps = 1e-5;
  return (
    Math.abs(ref.response[i] ?? 0) < eps ||
    (Math.abs(re) < eps && Math.abs(im) < eps) ||
    Math.abs(magnitude - FRAGILE_MIN_MAGNITUDE) < eps ||
    Math.abs(magnitude - FRAGILE_MAX_MAGNITUDE) < eps ||
    Math.abs(Math.abs(re) / magnitude - COS_MIN_ANGLE) < 1e-4 ||
    Math.abs(Math.abs(im) / magnitude - COS_MIN_ANGLE) < 1e-4 ||
    Math.abs((ref.maskResponse[i] ?? 0) - MASK_THRESHOLD) < 1e-6
  );
}

describe('open-iris Gabor kernels', () => {
  it('have the open-iris shapes, are integers (to_fixpoints) and DC-free', () => {
    const shapes = OPEN_IRIS_KERNELS.map((k) => [k.rows, k.cols]);
    expect(shapes).toEqual([
      [21, 41],
      [21, 17],
    ]);
    for (const k of OPEN_IRIS_KERNELS) {
      expect(k.real.every(Number.isInteger) && k.imag.every(Number.isInteger)).toBe(true);
      const sumRe = k.real.reduce((a, v) => a + v, 0);
      const sumIm = k.imag.reduce((a, v) => a + v, 0);
      // Each radial row of the real part has mean 0 before rounding to integers; what is left is rounding.
      expect(Math.abs(sumRe)).toBeLessThanOrEqual(k.rows);
      expect(sumIm).toBe(0);
      for (let r = 0; r < k.rows; r++) {
        const row = k.real.subarray(r * k.cols, (r + 1) * k.cols).reduce((a, v) => a + v, 0);
        expect(Math.abs(row)).toBeLessThanOrEqual(k.cols / 2);
      }
      // Rows are mirror images (even in rho); real even and imaginary odd in phi.
      for (let r = 0; r < k.rows; r++) {
        for (let c = 0; c < k.cols; c++) {
          expect(k.real[r * k.cols + c]).toBe(k.real[(k.rows - 1 - r) * k.cols + c]);
          expect(k.real[r * k.cols + c]).toBe(k.real[r * k.cols + (k.cols - 1 - c)]);
          expect((k.imag[r * k.cols + c] ?? 0) + (k.imag[r * k.cols + (k.cols - 1 - c)] ?? 0)).toBe(0);
        }
      }
    }
  });

  it('are normalised as open-iris: unit Frobenius norm per part, then scaled by 2^15', () => {
    for (const params of OPEN_IRIS_GABOR_FILTERS) {
      const exact = gaborKernel({ ...params, toFixpoints: false });
      expect(exact.normReal).toBeCloseTo(1, 12);
      expect(exact.normImag).toBeCloseTo(1, 12);
      for (let r = 0; r < exact.rows; r++) {
        const row = exact.real.subarray(r * exact.cols, (r + 1) * exact.cols).reduce((a, v) => a + v, 0);
        expect(Math.abs(row)).toBeLessThan(1e-6);
      }
      const fixed = gaborKernel(params);
      fixed.real.forEach((v, i) => {
        expect(Math.abs(v - (exact.real[i] ?? 0) * 2 ** 15)).toBeLessThanOrEqual(0.5 + 1e-3);
      });
    }
    // kernel_norm of open-iris 1.11.0's GaborFilter objects for the pipeline.yaml parameters.
    const [k1, k2] = OPEN_IRIS_KERNELS;
    expect(k1.normReal).toBeCloseTo(32768.52453193461, 9);
    expect(k1.normImag).toBeCloseTo(32767.19481432611, 9);
    expect(k2.normReal).toBeCloseTo(32768.67635410378, 9);
    expect(k2.normImag).toBeCloseTo(32768.488796403166, 9);
  });

  it('are sampled on the regular probe grid: rows 0, 8, ..., 120 and columns 0, 2, ..., 510', () => {
    expect(Array.from({ length: PROBE_ROWS }, (_, i) => probeRowPixel(i))).toEqual(
      Array.from({ length: 16 }, (_, i) => 8 * i),
    );
    expect(Array.from({ length: PROBE_COLUMNS }, (_, j) => probeColumnPixel(j))).toEqual(
      Array.from({ length: 256 }, (_, j) => 2 * j),
    );
    // Radial patches as open-iris cuts them at the boundaries (row 127 never takes part).
    expect(radialPatch(0, 21)).toEqual({ top: 0, rows: 11, kernelTop: 5 });
    expect(radialPatch(1, 21)).toEqual({ top: 0, rows: 19, kernelTop: 1 });
    expect(radialPatch(2, 21)).toEqual({ top: 6, rows: 21, kernelTop: 0 });
    expect(radialPatch(15, 21)).toEqual({ top: 110, rows: 17, kernelTop: 2 });
  });
});

describe('models/iris-code.onnx', () => {
  const onnxPath = new URL('iris-code.onnx', MODELS_DIR);
  const manifest = JSON.parse(readFileSync(DEFAULT_MANIFEST_PATH, 'utf8')) as {
    models: Array<{ file: string; sha256: string; bytes: number; card: string }>;
  };
  const entry = manifest.models.find((m) => m.file === 'iris-code.onnx');

  it('is what a fresh build produces, and the manifest and the card list its sha256', () => {
    const fresh = buildIrisCodeModel();
    const committed = new Uint8Array(readFileSync(onnxPath));
    expect(sha256(fresh)).toBe(sha256(committed));
    expect(sha256(buildIrisCodeModel())).toBe(sha256(fresh));
    expect(entry?.sha256).toBe(sha256(committed));
    expect(entry?.bytes).toBe(committed.length);
    const card = readFileSync(new URL(entry?.card ?? 'missing', MODELS_DIR), 'utf8');
    expect(card).toContain(sha256(committed));
  });
});

describe('iris encoder', () => {
  let encoder: IrisEncoder;
  let dir: string;

  beforeAll(async () => {
    encoder = await createIrisEncoder();
    dir = mkdtempSync(join(tmpdir(), 'irisgate-model-'));
  });
  afterAll(async () => {
    await encoder?.release();
    rmSync(dir, { recursive: true, force: true });
  });

  async function expectMatchesReference(input: NormalizedIris): Promise<{ ref: IrisCode; got: IrisCode }> {
    const onnx = await encoder.filterResponses(input);
    const ref = referenceFilterBank(input);
    let maxResponse = 0;
    let maxMask = 0;
    for (let i = 0; i < CODE_BITS; i++) {
      maxResponse = Math.max(maxResponse, Math.abs((onnx.response[i] ?? 0) - (ref.response[i] ?? 0)));
      maxMask = Math.max(maxMask, Math.abs((onnx.maskResponse[i] ?? 0) - (ref.maskResponse[i] ?? 0)));
    }
    expect(maxResponse).toBeLessThan(1e-5);
    expect(maxMask).toBeLessThan(1e-6);
    const got = encodeResponses(onnx);
    const want = encodeResponses(ref);
    const unexplained: number[] = [];
    let flips = 0;
    for (let i = 0; i < CODE_BITS; i++) {
      if (got.code[i] !== want.code[i] || got.mask[i] !== want.mask[i]) {
        flips++;
        if (!nearBoundary(ref, i)) unexplained.push(i);
      }
    }
    expect(unexplained).toEqual([]);
    expect(flips).toBeLessThan(CODE_BITS / 100);
    return { ref: want, got };
  }

  it('matches the TypeScript reference on random and structured images', async () => {
    const next = generator(1);
    const uniform = () => next() / 2 ** 32;
    const inputs: NormalizedIris[] = [
      image(
        () => uniform(),
        () => (uniform() < 0.8 ? 1 : 0),
      ),
      image((r, c) => 0.5 + 0.3 * Math.sin((2 * Math.PI * c) / 28 + r / 5)),
      image((r, c) => 0.4 + 0.2 * Math.cos((2 * Math.PI * c) / 8) * Math.cos(r / 9)),
      image((r, c) => ((c >> 4) + (r >> 3)) % 2),
      image((_, c) => (c < 256 ? 0.2 : 0.9)),
      image(() => 0.5),
      image(
        () => uniform() * 2 - 0.5,
        (r) => (r < 64 ? 1 : 0),
      ),
      texturedIris(3),
    ];
    for (const input of inputs) await expectMatchesReference(input);
  });

  it('gives open-iris 1.11.0 code and mask bits for the same image', async () => {
    // sha256 of the code and mask bytes (iris-code order) open-iris 1.11.0 produced (ConvFilterBank,
    // FragileBitRefinement and IrisEncoder with the pipeline.yaml parameters) for these images as uint8.
    const blackBand = (n: NormalizedIris) => {
      for (let r = 0; r < H; r++) n.pixels.fill(0, r * W + 400, r * W + 460);
      return n;
    };
    const cases = [
      {
        input: texturedIris(7),
        code: 'b7ea90aa074511d492a4bad018b74513ff2443e36142d9904056fd8302c5b135',
        mask: 'c932420e27e2f39c3f7bdf5928c1ea877b2d3e9002a144e4a69023ea325b7485',
      },
      {
        input: blackBand(texturedIris(8)),
        code: '91383d7463dd4610dcb0d5a49f10a1d0199358556f2e6dcf273445a153d99cfc',
        mask: '6d57abd510a9d26b0381e4e81eafbf389bebed9aa7706748935e64aff1eef92e',
      },
    ];
    for (const { input, code, mask } of cases) {
      const { ref, got } = await expectMatchesReference(input);
      expect([sha256(ref.code), sha256(ref.mask)]).toEqual([code, mask]);
      expect([sha256(got.code), sha256(got.mask)]).toEqual([code, mask]);
    }
  });

  it('returns 16,384 code and mask bits of 0 or 1', async () => {
    const code = await encoder.encode(texturedIris(5));
    for (const bits of [code.code, code.mask]) {
      expect(bits).toBeInstanceOf(Uint8Array);
      expect(bits.length).toBe(CODE_BITS);
      expect(bits.every((b) => b === 0 || b === 1)).toBe(true);
    }
    const ones = code.mask.reduce((a, b) => a + b, 0);
    expect(ones).toBeGreaterThan(CODE_BITS / 2);
    await expect(
      encoder.encode({ pixels: new Float32Array(10), mask: new Uint8Array(10) }),
    ).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });

  it('with an all-valid mask, masks exactly the fragile bits', async () => {
    const input = texturedIris(11);
    input.mask.fill(1);
    const ref = referenceFilterBank(input);
    expect(ref.maskResponse.every((v) => v === 1)).toBe(true);
    const onnx = await encoder.filterResponses(input);
    const code = encodeResponses(onnx);
    let fragileCount = 0;
    for (let i = 0; i < CODE_BITS; i++) {
      const isFragile = fragile(ref.response, i);
      if (isFragile) fragileCount++;
      if (!nearBoundary(ref, i)) expect(code.mask[i]).toBe(isFragile ? 0 : 1);
    }
    expect(fragileCount).toBeGreaterThan(0);
    expect(fragileCount).toBeLessThan(CODE_BITS / 2);
  });

  it('gives no usable bits where the patch is masked, and none at all for a fully masked image', async () => {
    const input = texturedIris(12);
    // Columns 96-223 of rows 96-127 are masked: probes whose patch lies inside lose every bit.
    const code = await encoder.encode(input);
    for (let row = 13; row < PROBE_ROWS; row++) {
      for (let col = 58; col <= 101; col++) {
        for (let f = 0; f < 2; f++) {
          for (let part = 0; part < 2; part++) expect(code.mask[codeBitIndex(row, col, f, part)]).toBe(0);
        }
      }
    }
    input.mask.fill(0);
    const none = await encoder.encode(input);
    expect(none.mask.every((b) => b === 0)).toBe(true);
  });

  it('masks every bit of a black image (a zero response has mask response 0)', async () => {
    const code = await encoder.encode(image(() => 0));
    expect(code.mask.every((b) => b === 0)).toBe(true);
    expect(code.code.every((b) => b === 0)).toBe(true);
  });

  it('refuses a model file whose sha256 is not the manifest entry', async () => {
    const tampered = join(dir, 'iris-code.onnx');
    copyFileSync(DEFAULT_MODEL_PATH, tampered);
    const bytes = readFileSync(tampered);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 1;
    writeFileSync(tampered, bytes);
    const refused = createIrisEncoder({ modelPath: tampered });
    await expect(refused).rejects.toBeInstanceOf(IrisgateError);
    await expect(refused).rejects.toMatchObject({ code: 'model_hash_mismatch' });

    const unlisted = join(dir, 'other.onnx');
    copyFileSync(DEFAULT_MODEL_PATH, unlisted);
    await expect(createIrisEncoder({ modelPath: unlisted })).rejects.toMatchObject({
      code: 'model_hash_mismatch',
    });
  });
});
