/**
 * models/pad.card.md, written by `npm run train:pad`: what the two PAD models are, what they were trained
 * on, their operating point, and their sha256. The held-out figures
 * (never-seen seeds, 300+ presentations per attack type) come from `npm run eval:attacks`.
 */
import { writeFileSync } from 'node:fs';
import { MODELS_DIR } from '../../models/build.ts';
import { PATCH_LIMIT_KEY, THRESHOLD_KEY, TRAINING_SET_KEY } from './detector.ts';
import { DETECTOR_FEATURE_NAMES } from './detector-features.ts';
import { PATCH_FEATURE_NAMES } from './patch-features.ts';
import {
  FRAME_MODEL_ATTACKS,
  MIN_PATCH_LIMIT,
  PATCH_LIMIT_BPCER,
  TARGET_BPCER,
  type TrainedPad,
} from './train-models.ts';
import type { PresentationFeatures } from './training-task.ts';

export interface PadCardInput {
  captures: readonly PresentationFeatures[];
  trained: TrainedPad;
  seed: string;
  identities: number;
  sessions: number;
  /** The set's cache key (train.ts trainingCacheKey), also in pad.onnx's metadata. */
  trainingSet: string;
  files: Array<{ file: string; sha256: string; bytes: number }>;
}

export function padCardMarkdown(input: PadCardInput): string {
  const { captures, trained, seed, identities, sessions, trainingSet } = input;
  const labels = [...new Set(captures.map((c) => c.spec.label))];
  const rows = labels.map((label) => {
    const all = captures.filter((c) => c.spec.label === label);
    return `| ${label} | ${all.length} | ${all.filter((c) => !c.ok).length} |`;
  });
  const files = input.files.map((f) => `| ${f.file} | ${f.bytes} | \`${f.sha256}\` |`);
  return `# PAD models: patch detector and frame model

Written by \`npm run train:pad\` (iris/pad/train.ts); do not edit by hand. Held-out figures: \`npm run eval:attacks\`.

| file | bytes | sha256 |
|---|---|---|
${files.join('\n')}

## What they are
- **patch-mask.onnx**: the patch detector. Input: ${PATCH_FEATURE_NAMES.length} features of one 8 x 16 block of the
  rubber-sheet image (iris/pad/patch-features.ts: brightness, contrast, grain, orientation, row coherence and
  edges relative to the block's ring, and its neighbours'): ${PATCH_FEATURE_NAMES.join(', ')}.
  Output: probability that the block lies on a patch. MLP ${PATCH_FEATURE_NAMES.length}-16-1 (ReLU, sigmoid). The
  pipeline masks blocks whose 3 x 3 mean score reaches 0.6, grown by one block (iris/pad/patch-mask.ts).
- **pad.onnx**: the frame model. Input: ${DETECTOR_FEATURE_NAMES.length} features of one frame
  (iris/pad/features.ts, detector-features.ts): spectra of iris and skin, noise residuals, specular highlights,
  levels, geometry, rubber-sheet texture and segmentation support. Output: probability that the frame shows a
  live eye. MLP ${DETECTOR_FEATURE_NAMES.length}-32-1, trained on live frames against ${FRAME_MODEL_ATTACKS.join(', ')} (patches
  are the patch detector's).
- **Operating point** (pad.onnx metadata): a frame is live when the frame model's score is at least
  **${trained.threshold.toFixed(4)}** (\`${THRESHOLD_KEY}\`: rejects ${100 * TARGET_BPCER}% of live frames out of fold) and the patch
  detector masks less than **${(100 * trained.patchLimit).toFixed(1)}%** of its iris (\`${PATCH_LIMIT_KEY}\`: the masked share exceeded by
  ${100 * PATCH_LIMIT_BPCER}% of live frames out of fold, at least ${100 * MIN_PATCH_LIMIT}%).

## Training data
Synthetic near-infrared captures from iris/synth and iris/attacks, seed \`${seed}\`: ${identities} identities x
${sessions} sessions, each session captured live and as every attack kind (print, screen, textured lens,
prosthetic, patches of 5-40% of the visible iris with random, another person's iris and printed content).
The operating point is set out of fold (five folds by identity: each fold's live frames scored by models
trained without it); the shipped models are trained on every fold. Frames whose segmentation or quality gates
fail are not used (the pipeline refuses them before any model sees them). Class weights balance live against
the attacks. Deterministic: the same seed gives the same bytes.

Measured as \`${trainingSet}\`
(pad.onnx metadata \`${TRAINING_SET_KEY}\`: the seed, the set's size, the feature names and the measurement revision).
test/iris/pad-detector.test.ts fails when that is not what the code now measures for train:pad's default
set: a change to the features or to the measurement needs retrained models.

| label | frames | refused by segmentation/quality |
|---|---|---|
${rows.join('\n')}

## Limits
- Synthetic data only: the attacks are this project's own renderings (iris/attacks). Real prints, screens,
  lenses and stickers differ; the model must be retrained on real captures before production.
- An unseen attack type is what breaks PAD models (LivDet): see the leave-one-type-out figures of
  \`npm run eval:attacks\`. Prints, screens and prosthetics are also refused by the multi-frame pupil-reflex
  check (protocol/pupil-reflex.ts), which this single-frame model does not replace.
`;
}

export function writePadCard(input: PadCardInput): void {
  writeFileSync(`${MODELS_DIR}pad.card.md`, padCardMarkdown(input));
}
