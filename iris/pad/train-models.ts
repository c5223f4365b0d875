/**
 * Training the two PAD models from measured presentations (training-task.ts), deterministic by seed; used
 * by `npm run train:pad` and by the robustness suite's leave-one-attack-type-out runs.
 *
 * - The patch detector's block model (patch-mask.onnx): is this block of the rubber sheet on a patch?
 *   Trained on the blocks of live frames (0) and blocks at least half covered by a patch (1).
 * - The frame model (pad.onnx): is this frame a live eye? Trained on live frames against prints, screens,
 *   lenses and prosthetic eyes (FRAME_MODEL_ATTACKS). Patches are the patch detector's: with them the
 *   frame model learns less about the others, and a patch on a live eye changes little of the frame.
 *
 * The operating points are set out of fold: five folds by identity, each model trained without a fold
 * scores that fold's live frames; the frame threshold rejects TARGET_BPCER of those scores and the patch
 * limit (the masked share of the iris at which a frame is refused as patched) PATCH_LIMIT_BPCER of them,
 * and never less than MIN_PATCH_LIMIT. The shipped models are then trained on every fold.
 */
import type { AttackKind } from '../attacks/render-attack.ts';
import { patchReasons } from './detector.ts';
import { DETECTOR_FEATURE_NAMES } from './detector-features.ts';
import { type MlpWeights, mlpPredict, trainMlp } from './mlp.ts';
import { PATCH_BLOCKS, PATCH_FEATURE_COUNT, PATCH_FEATURE_NAMES } from './patch-features.ts';
import { PATCH_BLOCK_THRESHOLD, patchBlocks } from './patch-mask.ts';
import type { PresentationFeatures } from './training-task.ts';

export type Measured = Extract<PresentationFeatures, { ok: true }>;

export const FRAME_MODEL_ATTACKS: readonly AttackKind[] = ['print', 'screen', 'lens', 'prosthetic'];
export const TARGET_BPCER = 0.015;
export const PATCH_LIMIT_BPCER = 0.005;
export const MIN_PATCH_LIMIT = 0.1;
const FOLDS = 5;

export interface TrainedPad {
  patch: MlpWeights;
  pad: MlpWeights;
  /** Live when the frame model's score is at or above this... */
  threshold: number;
  /** ...and the patch detector masks less than this share of the iris. */
  patchLimit: number;
}

const isPatch = (label: string) => label.startsWith('patch-');

export function measured(captures: readonly PresentationFeatures[]): Measured[] {
  return captures.filter((c): c is Measured => c.ok);
}

export function trainPatchModel(captures: readonly Measured[], seed: string): MlpWeights {
  const x: Float32Array[] = [];
  const y: number[] = [];
  for (const c of captures) {
    if (c.spec.label !== 'live' && !isPatch(c.spec.label)) continue;
    for (let k = 0; k < c.truth.length; k++) {
      const t = c.truth[k] as number;
      // Blocks a patch only grazes teach nothing either way; every other clean block is enough.
      if ((t > 0 && t < 0.5) || (t === 0 && k % 2 === 1)) continue;
      x.push(c.blocks.subarray(k * PATCH_FEATURE_COUNT, (k + 1) * PATCH_FEATURE_COUNT));
      y.push(t >= 0.5 ? 1 : 0);
    }
  }
  return trainMlp(x, y, {
    hidden: [16],
    epochs: 10,
    learningRate: 0.003,
    l2: 1e-4,
    seed: `${seed}/patch`,
    batchSize: 64,
    inputNames: [...PATCH_FEATURE_NAMES],
  });
}

export function trainFrameModel(captures: readonly Measured[], seed: string): MlpWeights {
  const used = captures.filter(
    (c) => c.spec.label === 'live' || FRAME_MODEL_ATTACKS.includes(c.spec.label as AttackKind),
  );
  const live = used.map((c) => (c.spec.label === 'live' ? 1 : 0));
  const nLive = live.reduce<number>((s, v) => s + v, 0);
  return trainMlp(
    used.map((c) => c.image),
    live,
    {
      hidden: [32],
      epochs: 300,
      learningRate: 0.002,
      l2: 1e-3,
      seed: `${seed}/pad`,
      batchSize: 32,
      classWeights: [1, (used.length - nLive) / Math.max(1, nLive)],
      inputNames: [...DETECTOR_FEATURE_NAMES],
    },
  );
}

/** Block scores of a measured frame under a block model (what patch-mask.onnx computes). */
export function blockScores(capture: Measured, patch: MlpWeights): Float32Array {
  const scores = new Float32Array(PATCH_BLOCKS);
  let k = 0;
  for (let b = 0; b < PATCH_BLOCKS; b++) {
    if (!capture.active[b]) continue;
    scores[b] = mlpPredict(
      patch,
      capture.blocks.subarray(k * PATCH_FEATURE_COUNT, (k + 1) * PATCH_FEATURE_COUNT),
    );
    k++;
  }
  return scores;
}

/** The share of a measured frame's usable iris the patch detector masks, given its block scores. */
export function maskedFraction(capture: Measured, scores: Float32Array): number {
  const blocks = patchBlocks(scores, capture.active, PATCH_BLOCK_THRESHOLD);
  let usable = 0;
  let masked = 0;
  let k = 0;
  for (let b = 0; b < PATCH_BLOCKS; b++) {
    if (!capture.active[b]) continue;
    const n = capture.usable[k++] as number;
    usable += n;
    if (blocks[b]) masked += n;
  }
  return usable > 0 ? masked / usable : 0;
}

/** The score at the `share` lower quantile of these scores (rejecting that share of them). */
export function thresholdForBpcer(liveScores: readonly number[], share: number): number {
  if (liveScores.length === 0) throw new RangeError('no live scores to set a threshold on');
  const sorted = [...liveScores].sort((a, b) => a - b);
  return Math.fround(sorted[Math.min(Math.floor(share * sorted.length), sorted.length - 1)] as number);
}

/** Both models (without `exclude`'s frames, for leave-one-type-out) and their out-of-fold operating points. */
export function trainPad(
  captures: readonly PresentationFeatures[],
  options: { seed: string; exclude?: AttackKind },
): TrainedPad {
  const used = measured(captures).filter((c) => c.spec.label !== options.exclude);
  const liveScores: number[] = [];
  const liveMasked: number[] = [];
  for (let fold = 0; fold < FOLDS; fold++) {
    const fit = used.filter((c) => c.spec.identity % FOLDS !== fold);
    const patch = trainPatchModel(fit, `${options.seed}/fold${fold}`);
    const pad = trainFrameModel(fit, `${options.seed}/fold${fold}`);
    for (const c of used) {
      if (c.spec.identity % FOLDS !== fold || c.spec.label !== 'live') continue;
      liveScores.push(mlpPredict(pad, c.image));
      liveMasked.push(-maskedFraction(c, blockScores(c, patch)));
    }
  }
  return {
    patch: trainPatchModel(used, options.seed),
    pad: trainFrameModel(used, options.seed),
    threshold: thresholdForBpcer(liveScores, TARGET_BPCER),
    patchLimit: Math.max(MIN_PATCH_LIMIT, -thresholdForBpcer(liveMasked, PATCH_LIMIT_BPCER)),
  };
}

/** Whether the trained models call a measured frame live (what the detector decides, in JavaScript). */
export function judgedLive(trained: TrainedPad, capture: Measured): boolean {
  return (
    mlpPredict(trained.pad, capture.image) >= trained.threshold &&
    patchReasons(
      maskedFraction(capture, blockScores(capture, trained.patch)),
      trained.patchLimit,
      capture.limbusCover,
    ).length === 0
  );
}
