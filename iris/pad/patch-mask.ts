/**
 * The patch detector: finds a sticker or printed film over part of the iris in the rubber-sheet image and
 * masks it as occlusion, so that its samples never count as iris. models/patch-mask.onnx scores every block
 * of the rubber sheet (patch-features.ts) with the probability that it lies on a patch; patchBlocks turns
 * the scores into a block mask (a patch is one connected piece: blocks support their neighbours).
 *
 * The masked share of the usable iris (`fraction`) is what the presentation-attack detector reports as
 * `patch_detected`; the pipeline's usable-bits and visible-iris gates count only what is left.
 */
import { fileURLToPath } from 'node:url';
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH, type NormalizedIris } from '../../protocol/iris-code-layout.ts';
import { assertInputNames, loadMlpModel } from './onnx-mlp.ts';
import {
  PATCH_BLOCK_COLUMNS,
  PATCH_BLOCK_ROWS,
  PATCH_BLOCKS,
  PATCH_FEATURE_COUNT,
  PATCH_FEATURE_NAMES,
  PATCH_GRID_COLUMNS,
  PATCH_GRID_ROWS,
  patchBlockFeatures,
} from './patch-features.ts';

export const PATCH_MASK_MODEL_FILE = 'patch-mask.onnx';
export const PATCH_MASK_OUTPUT = 'patch_score';
/** A block is patch where the mean probability around it reaches this. */
export const PATCH_BLOCK_THRESHOLD = 0.6;

export interface PatchMaskResult {
  /** The input with patch samples removed from its mask (pixels shared with the input). */
  normalized: NormalizedIris;
  /** Per block: the model's probability (0 for blocks that take no part). */
  blockScores: Float32Array;
  /** Per block: 1 = masked as patch. */
  blocks: Uint8Array;
  /** Per block: 1 = enough usable samples to be scored. */
  active: Uint8Array;
  /** Share of the input's usable samples masked as patch. */
  fraction: number;
}

export interface PatchMasker {
  readonly modelSha256: string;
  mask(normalized: NormalizedIris): Promise<PatchMaskResult>;
  release(): Promise<void>;
}

/** Calls visit for each block in the 3 x 3 neighbourhood of b, itself included (the angle wraps). */
function neighbourhood(b: number, visit: (nb: number) => void): void {
  const C = PATCH_GRID_COLUMNS;
  const br = Math.floor(b / C);
  const bc = b % C;
  for (let dr = -1; dr <= 1; dr++) {
    const r = br + dr;
    if (r < 0 || r >= PATCH_GRID_ROWS) continue;
    for (let dc = -1; dc <= 1; dc++) visit(r * C + ((bc + dc + C) % C));
  }
}

/**
 * The block decision from block scores: a block is patch where the mean score of the active blocks around
 * it (3 x 3) reaches the threshold (one stray block never masks, a patch's blocks support each other), and
 * the result grows by one block all round (the patch's edge blocks, only partly covered, score lower).
 */
export function patchBlocks(scores: Float32Array, active: Uint8Array, threshold: number): Uint8Array {
  const core = new Uint8Array(PATCH_BLOCKS);
  for (let b = 0; b < PATCH_BLOCKS; b++) {
    if (!active[b]) continue;
    let sum = 0;
    let count = 0;
    neighbourhood(b, (nb) => {
      if (!active[nb]) return;
      sum += scores[nb] as number;
      count++;
    });
    if (sum / count >= threshold) core[b] = 1;
  }
  const grown = core.slice();
  for (let b = 0; b < PATCH_BLOCKS; b++) if (core[b]) neighbourhood(b, (nb) => (grown[nb] = 1));
  return grown;
}

/** Removes the samples of masked blocks from the mask; returns the new rubber sheet and the masked share. */
export function maskBlocks(
  normalized: NormalizedIris,
  blocks: Uint8Array,
): { normalized: NormalizedIris; fraction: number } {
  const mask = normalized.mask.slice();
  let usable = 0;
  let removed = 0;
  for (let r = 0; r < NORMALIZED_HEIGHT; r++) {
    const br = Math.floor(r / PATCH_BLOCK_ROWS);
    for (let c = 0; c < NORMALIZED_WIDTH; c++) {
      const i = r * NORMALIZED_WIDTH + c;
      if (!mask[i]) continue;
      usable++;
      if (blocks[br * PATCH_GRID_COLUMNS + Math.floor(c / PATCH_BLOCK_COLUMNS)]) {
        mask[i] = 0;
        removed++;
      }
    }
  }
  return { normalized: { pixels: normalized.pixels, mask }, fraction: usable > 0 ? removed / usable : 0 };
}

export async function createPatchMasker(options: { manifestPath?: string } = {}): Promise<PatchMasker> {
  const model = await loadMlpModel(
    fileURLToPath(new URL(`../../models/${PATCH_MASK_MODEL_FILE}`, import.meta.url)),
    { ...options, outputName: PATCH_MASK_OUTPUT },
  );
  assertInputNames(model, PATCH_MASK_MODEL_FILE, PATCH_FEATURE_NAMES);
  return {
    modelSha256: model.sha256,
    async mask(normalized) {
      const { features, active } = patchBlockFeatures(normalized);
      const out = await model.predict(features, PATCH_BLOCKS, PATCH_FEATURE_COUNT);
      const blockScores = new Float32Array(PATCH_BLOCKS);
      for (let b = 0; b < PATCH_BLOCKS; b++) if (active[b]) blockScores[b] = out[b] as number;
      const blocks = patchBlocks(blockScores, active, PATCH_BLOCK_THRESHOLD);
      return { ...maskBlocks(normalized, blocks), blockScores, blocks, active };
    },
    release: () => model.release(),
  };
}
