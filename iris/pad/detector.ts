/**
 * The single-frame presentation-attack detector: segmentation, rubber sheet and quality gates as the iris
 * pipeline runs them, the patch detector (patch-mask.onnx), then the frame model (pad.onnx) on the frame's
 * texture, segmentation and patch features (detector-features.ts). The operating threshold travels in
 * pad.onnx's metadata, so it is covered by the model's sha256 in models/manifest.json.
 *
 *   const pad = await createPadDetector();
 *   const { live, score, reasons, patchFraction } = await pad.assess(image);
 *
 * A frame is live when the frame model's score reaches the threshold, the patch detector masks less than
 * the patch limit of its iris, and the sclera beside the limbus is smooth (limbus-cover.ts); a patched frame
 * scores 0. Reasons (stable codes, empty for a live frame): `presentation_attack` (the frame model's score
 * is below the threshold), `patch_detected` (the patch detector masks at least the patch limit),
 * `limbus_covered` (texture beyond the limbus: something lies across the iris's outer edge), or the
 * pipeline's own error code when no eye can be measured (`no_eye_found`, `occluded`, ...): such a frame is
 * never live and scores 0.
 */
import { fileURLToPath } from 'node:url';
import { IrisgateError } from '../../protocol/errors.ts';
import type { NormalizedIris } from '../../protocol/iris-code-layout.ts';
import { type MeasuredFrameStages, measureFrame } from '../pipeline.ts';
import type { EyeSegmentation } from '../segmentation/types.ts';
import type { GreyImage } from '../types.ts';
import { DETECTOR_FEATURE_NAMES, segmentationFeatures } from './detector-features.ts';
import { padFeatures } from './features.ts';
import { LIMBUS_COVERED_REASON, limbusCover, limbusCovered } from './limbus-cover.ts';
import { assertInputNames, loadMlpModel } from './onnx-mlp.ts';
import { createPatchMasker, type PatchMaskResult } from './patch-mask.ts';

export const PAD_MODEL_FILE = 'pad.onnx';
/** pad.onnx metadata keys of the operating threshold and of the patch limit. */
export const THRESHOLD_KEY = 'operating_threshold';
export const PATCH_LIMIT_KEY = 'patch_limit';
/**
 * pad.onnx metadata key of the training set's cache key (train.ts trainingCacheKey: seed, size, feature
 * names, measurement revision), so that models trained on measurements the code no longer makes are caught.
 */
export const TRAINING_SET_KEY = 'training_set';
export const PATCH_DETECTED_REASON = 'patch_detected';
/** The reasons that say something lies over the eye: a frame with one is never live and scores 0. */
export const PATCH_REASONS: readonly string[] = [PATCH_DETECTED_REASON, LIMBUS_COVERED_REASON];

/**
 * What lies over the eye, from the patch detector's masked share of the iris and the limbus-cover ratio: the
 * one rule the detector, the held-out suite and leave-one-type-out (which score measured features) share.
 */
export function patchReasons(patchFraction: number, patchLimit: number, limbusCoverRatio: number): string[] {
  const reasons: string[] = [];
  if (patchFraction >= patchLimit) reasons.push(PATCH_DETECTED_REASON);
  if (limbusCovered(limbusCoverRatio)) reasons.push(LIMBUS_COVERED_REASON);
  return reasons;
}

export interface PadAssessment {
  live: boolean;
  /** In [0, 1]; higher = more likely live. */
  score: number;
  reasons: string[];
  /** Share of the usable iris the patch detector masked (0 when no eye was measured). */
  patchFraction: number;
}

export interface PadDetector {
  /** Live when score >= threshold (a patched frame scores 0). */
  readonly threshold: number;
  /** The masked share of the iris at which a frame counts as patched. */
  readonly patchLimit: number;
  /** sha256 of pad.onnx (patch-mask.onnx's is patchModelSha256). */
  readonly modelSha256: string;
  readonly patchModelSha256: string;
  assess(image: GreyImage): Promise<PadAssessment>;
  /** The same for a frame the iris pipeline has already measured (no second segmentation). */
  assessMeasured(image: GreyImage, measured: MeasuredFrame): Promise<PadAssessment>;
  release(): Promise<void>;
}

/** What the iris pipeline measured of a frame (iris/pipeline.ts EncodedEye has these). */
export interface MeasuredFrame {
  segmentation: EyeSegmentation;
  normalized: NormalizedIris;
  patch: PatchMaskResult;
}

export async function createPadDetector(
  options: { threshold?: number; manifestPath?: string } = {},
): Promise<PadDetector> {
  const manifest = options.manifestPath ? { manifestPath: options.manifestPath } : {};
  const model = await loadMlpModel(
    fileURLToPath(new URL(`../../models/${PAD_MODEL_FILE}`, import.meta.url)),
    manifest,
  );
  assertInputNames(model, PAD_MODEL_FILE, DETECTOR_FEATURE_NAMES);
  const masker = await createPatchMasker(manifest);
  const shipped = Number(model.metadata[THRESHOLD_KEY]);
  const patchLimit = Number(model.metadata[PATCH_LIMIT_KEY]);
  if (!Number.isFinite(shipped) || !Number.isFinite(patchLimit)) {
    throw new IrisgateError(
      'model_hash_mismatch',
      `${PAD_MODEL_FILE} carries no ${THRESHOLD_KEY} or ${PATCH_LIMIT_KEY}`,
    );
  }
  const threshold = options.threshold ?? shipped;
  const width = DETECTOR_FEATURE_NAMES.length;
  const assessMeasured = async (image: GreyImage, { segmentation, normalized, patch }: MeasuredFrame) => {
    const row = Float32Array.from([
      ...padFeatures(image, segmentation, normalized),
      ...segmentationFeatures(segmentation),
    ]);
    const frameScore = (await model.predict(row, 1, width))[0] as number;
    const covered = patchReasons(patch.fraction, patchLimit, limbusCover(image, segmentation).ratio);
    const reasons = [...(frameScore < threshold ? ['presentation_attack'] : []), ...covered];
    return {
      live: reasons.length === 0,
      score: covered.length > 0 ? 0 : frameScore,
      reasons,
      patchFraction: patch.fraction,
    };
  };
  return {
    threshold,
    patchLimit,
    modelSha256: model.sha256,
    patchModelSha256: masker.modelSha256,
    assessMeasured,
    async assess(image) {
      let measured: MeasuredFrameStages;
      try {
        measured = measureFrame(image);
      } catch (error) {
        if (error instanceof IrisgateError) {
          return { live: false, score: 0, reasons: [error.code], patchFraction: 0 };
        }
        throw error;
      }
      const { segmentation, normalized } = measured;
      return assessMeasured(image, { segmentation, normalized, patch: await masker.mask(normalized) });
    },
    release: async () => {
      await Promise.all([model.release(), masker.release()]);
    },
  };
}
