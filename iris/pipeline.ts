/**
 * The whole iris pipeline for one frame: segmentation -> rubber-sheet normalisation -> quality gates
 * (geometry, occlusion, sharpness) -> iris code (ONNX) -> usable-bits gate. Every refusal is an
 * IrisgateError with a stable code; a success carries the template, the geometry in input pixels, the
 * quality measurements and the time each stage took.
 */
import type { IrisCode } from '../protocol/iris-code-layout.ts';
import { createIrisEncoder, type IrisEncoder, type IrisEncoderOptions } from './encoder.ts';
import { normalizeIris } from './normalization.ts';
import { assertQuality, assertUsableBits, type QualityReport } from './quality.ts';
import { segmentEye } from './segmentation/index.ts';
import type { Circle, GreyImage } from './types.ts';

export interface EncodedEye {
  code: IrisCode;
  geometry: { pupil: Circle; iris: Circle };
  quality: QualityReport & { usableBits: number };
  /** Milliseconds per stage, and in total. */
  timings: { segmentation: number; normalization: number; quality: number; encoding: number; total: number };
}

export interface IrisPipeline {
  /** sha256 of the iris-code model the encoder runs (it goes into every signup). */
  readonly modelSha256: string;
  encode(image: GreyImage): Promise<EncodedEye>;
  release(): Promise<void>;
}

function countOnes(bits: Uint8Array): number {
  let ones = 0;
  for (const bit of bits) ones += bit;
  return ones;
}

export async function createIrisPipeline(options: IrisEncoderOptions = {}): Promise<IrisPipeline> {
  const encoder: IrisEncoder = await createIrisEncoder(options);
  return {
    modelSha256: encoder.modelSha256,
    async encode(image) {
      const t0 = performance.now();
      const segmentation = segmentEye(image);
      const t1 = performance.now();
      const normalized = normalizeIris(image, segmentation);
      const t2 = performance.now();
      // Geometry and sharpness gates together: normalising a frame that fails geometry costs about 1 ms.
      const quality = assertQuality(segmentation, normalized);
      const t3 = performance.now();
      const code = await encoder.encode(normalized);
      const usableBits = countOnes(code.mask);
      assertUsableBits(usableBits);
      const t4 = performance.now();
      return {
        code,
        geometry: { pupil: segmentation.pupil, iris: segmentation.iris },
        quality: { ...quality, usableBits },
        timings: {
          segmentation: t1 - t0,
          normalization: t2 - t1,
          quality: t3 - t2,
          encoding: t4 - t3,
          total: t4 - t0,
        },
      };
    },
    release: () => encoder.release(),
  };
}
