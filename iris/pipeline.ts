/**
 * The whole iris pipeline for one frame: segmentation -> rubber-sheet normalisation -> quality gates
 * (geometry, occlusion, sharpness) -> patch detector (models/patch-mask.onnx: a sticker or printed film
 * over the iris is masked as occlusion) -> iris code (ONNX) -> usable-bits and visible-iris gates, counted
 * after the patch mask. Every refusal is an
 * IrisgateError with a stable code; a success carries the template, the geometry in input pixels, the
 * quality measurements and the time each stage took.
 */

import { IrisgateError } from '../protocol/errors.ts';
import { type IrisCode, type NormalizedIris, usableBits } from '../protocol/iris-code-layout.ts';
import { createIrisEncoder, type IrisEncoder, type IrisEncoderOptions } from './encoder.ts';
import { normalizeIris } from './normalization.ts';
import { createPatchMasker, type PatchMaskResult } from './pad/patch-mask.ts';
import { assertQuality, assertUsableBits, QUALITY_THRESHOLDS, type QualityReport } from './quality.ts';
import { segmentEye } from './segmentation/index.ts';
import type { EyeSegmentation } from './segmentation/types.ts';
import type { Circle, GreyImage } from './types.ts';

export interface EncodedEye {
  code: IrisCode;
  geometry: { pupil: Circle; iris: Circle };
  /** visibleAfterPatchMask: occlusion90 less the share the patch detector masked. */
  quality: QualityReport & { usableBits: number; patchFraction: number; visibleAfterPatchMask: number };
  /** The stages' results, for the presentation-attack detector to reuse (iris/pad/detector.ts). */
  segmentation: EyeSegmentation;
  /** The rubber sheet before the patch mask. */
  normalized: NormalizedIris;
  patch: PatchMaskResult;
  /** Milliseconds per stage, and in total. */
  timings: {
    segmentation: number;
    normalization: number;
    quality: number;
    patch: number;
    encoding: number;
    total: number;
  };
}

export interface IrisPipeline {
  /** sha256 of the iris-code model the encoder runs (it goes into every signup). */
  readonly modelSha256: string;
  encode(image: GreyImage): Promise<EncodedEye>;
  /** The rest of encode() for a frame measureFrame has measured (its quality gates passed). */
  encodeMeasured(stages: MeasuredFrameStages): Promise<EncodedEye>;
  release(): Promise<void>;
}

/** The visible-iris gate, after the patch mask: a patch never counts as visible iris. */
export function assertVisibleAfterPatchMask(visible: number): void {
  if (!(visible >= QUALITY_THRESHOLDS.minOcclusion90)) {
    throw new IrisgateError(
      'occluded',
      `visible iris after masking the patch ${visible.toFixed(3)} < ${QUALITY_THRESHOLDS.minOcclusion90}`,
    );
  }
}

/** A frame's first stages, before any model: segmentation, rubber sheet, the quality gates (they throw). */
export interface MeasuredFrameStages {
  segmentation: EyeSegmentation;
  normalized: NormalizedIris;
  quality: QualityReport;
  timings: { segmentation: number; normalization: number; quality: number };
}

export function measureFrame(image: GreyImage): MeasuredFrameStages {
  const t0 = performance.now();
  const segmentation = segmentEye(image);
  return measureSegmentedFrame(image, segmentation, performance.now() - t0);
}

/** measureFrame after the segmentation (a caller that needed the pupil of every frame has it already). */
export function measureSegmentedFrame(
  image: GreyImage,
  segmentation: EyeSegmentation,
  segmentationMs = 0,
): MeasuredFrameStages {
  const t1 = performance.now();
  const normalized = normalizeIris(image, segmentation);
  const t2 = performance.now();
  // Geometry and sharpness gates together: normalising a frame that fails geometry costs about 1 ms.
  const quality = assertQuality(segmentation, normalized);
  const t3 = performance.now();
  return {
    segmentation,
    normalized,
    quality,
    timings: { segmentation: segmentationMs, normalization: t2 - t1, quality: t3 - t2 },
  };
}

export async function createIrisPipeline(options: IrisEncoderOptions = {}): Promise<IrisPipeline> {
  const encoder: IrisEncoder = await createIrisEncoder(options);
  const masker = await createPatchMasker(options.manifestPath ? { manifestPath: options.manifestPath } : {});
  const pipeline: IrisPipeline = {
    modelSha256: encoder.modelSha256,
    // async: a frame measureFrame refuses rejects the promise like every later stage's refusal.
    encode: async (image) => pipeline.encodeMeasured(measureFrame(image)),
    async encodeMeasured({ segmentation, normalized, quality, timings }) {
      const t3 = performance.now();
      const patch = await masker.mask(normalized);
      const visibleAfterPatchMask = quality.occlusion90 * (1 - patch.fraction);
      assertVisibleAfterPatchMask(visibleAfterPatchMask);
      const t4 = performance.now();
      const code = await encoder.encode(patch.normalized);
      const usable = usableBits(code);
      assertUsableBits(usable);
      const t5 = performance.now();
      const measured = timings.segmentation + timings.normalization + timings.quality;
      return {
        code,
        geometry: { pupil: segmentation.pupil, iris: segmentation.iris },
        quality: { ...quality, usableBits: usable, patchFraction: patch.fraction, visibleAfterPatchMask },
        segmentation,
        normalized,
        patch,
        timings: {
          ...timings,
          patch: t4 - t3,
          encoding: t5 - t4,
          total: measured + (t5 - t3),
        },
      };
    },
    release: async () => {
      await Promise.all([encoder.release(), masker.release()]);
    },
  };
  return pipeline;
}
