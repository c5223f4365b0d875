/**
 * One synthetic presentation rendered and measured for PAD training and evaluation (a task module for
 * protocol/task-pool.ts): the capture (live or an attack, deterministic by seed, identity and session), its
 * segmentation, rubber sheet, image-level and segmentation features, and the patch detector's block
 * features with each block's ground-truth patch share (from the render's label map, through the same
 * rubber sheet), and the covered-limbus ratio. A capture whose segmentation or quality gates fail is
 * reported with the error's code.
 */
import { IrisgateError } from '../../protocol/errors.ts';
import { NORMALIZED_WIDTH } from '../../protocol/iris-code-layout.ts';
import {
  type AttackKind,
  type PresentationLabel,
  renderAttack,
  renderLive,
} from '../attacks/render-attack.ts';
import { rubberSheet } from '../normalization.ts';
import { measureFrame } from '../pipeline.ts';
import { identityOf, LABEL, type Seed, sessionOf } from '../synth/generate.ts';
import { hashSeed } from '../synth/random.ts';
import { segmentationFeatures } from './detector-features.ts';
import { padFeatures } from './features.ts';
import { limbusCover } from './limbus-cover.ts';
import {
  PATCH_BLOCK_COLUMNS,
  PATCH_BLOCK_ROWS,
  PATCH_BLOCKS,
  PATCH_FEATURE_COUNT,
  PATCH_GRID_COLUMNS,
  patchBlockFeatures,
} from './patch-features.ts';

/**
 * Bumped whenever what a presentation measures changes for the same feature names (segmentation, the
 * limbus-cover ratio), so that cached measurements (train.ts trainingCacheKey) are not reused and the shipped
 * models, whose metadata names the key they were trained on, fail their test until retrained. 2: the
 * limbus fit's circular search (b67da9c) and the limbus cover's rays (83986d7). 3: upper lids that hide the
 * limbus beyond them are taken without brighter skin above them (segmentation/eyelids.ts).
 */
export const MEASUREMENT_REVISION = 'measurement-3';

export interface PresentationSpec {
  seed: Seed;
  identity: number;
  session: number;
  label: PresentationLabel;
}

export type PresentationFeatures =
  | {
      spec: PresentationSpec;
      ok: true;
      /** The frame model's input (DETECTOR_FEATURE_NAMES). */
      image: Float32Array;
      /** Block features of the active blocks, PATCH_FEATURE_COUNT each, in block order. */
      blocks: Float32Array;
      active: Uint8Array;
      /** Ground-truth patch share of each active block's usable samples. */
      truth: Float32Array;
      /** Usable samples of each active block (to weigh blocks into a masked share of the iris). */
      usable: Uint16Array;
      /** The covered-limbus ratio (limbus-cover.ts; NaN when undecidable). */
      limbusCover: number;
    }
  | { spec: PresentationSpec; ok: false; code: string };

/** Renders the presentation a spec names. */
export function renderPresentation(spec: PresentationSpec) {
  const identity = identityOf(spec.seed, spec.identity);
  const session = sessionOf(spec.seed, identity, spec.session);
  if (spec.label === 'live') return renderLive(identity, session);
  return renderAttack({
    kind: spec.label as AttackKind,
    identity,
    session,
    seed: hashSeed(spec.seed, 'presentation', spec.identity, spec.session),
  });
}

export async function run(spec: PresentationSpec): Promise<PresentationFeatures> {
  const capture = renderPresentation(spec);
  try {
    const { segmentation: seg, normalized } = measureFrame(capture.image);
    const image = Float32Array.from([
      ...padFeatures(capture.image, seg, normalized),
      ...segmentationFeatures(seg),
    ]);
    const { features, active } = patchBlockFeatures(normalized);
    const labels = rubberSheet(
      capture.labels,
      { pupil: seg.pupilEllipse, iris: seg.irisEllipse, orientation: seg.orientation },
      null,
      { interpolation: 'nearest' },
    );
    const rows: number[] = [];
    const truth: number[] = [];
    const usableCounts: number[] = [];
    for (let b = 0; b < PATCH_BLOCKS; b++) {
      if (!active[b]) continue;
      for (let k = 0; k < PATCH_FEATURE_COUNT; k++)
        rows.push(features[b * PATCH_FEATURE_COUNT + k] as number);
      const br = Math.floor(b / PATCH_GRID_COLUMNS);
      const bc = b % PATCH_GRID_COLUMNS;
      let usable = 0;
      let patch = 0;
      for (let r = br * PATCH_BLOCK_ROWS; r < (br + 1) * PATCH_BLOCK_ROWS; r++) {
        for (let c = bc * PATCH_BLOCK_COLUMNS; c < (bc + 1) * PATCH_BLOCK_COLUMNS; c++) {
          const i = r * NORMALIZED_WIDTH + c;
          if (!normalized.mask[i]) continue;
          usable++;
          if (Math.round((labels.pixels[i] as number) * 255) === LABEL.patch) patch++;
        }
      }
      truth.push(usable > 0 ? patch / usable : 0);
      usableCounts.push(usable);
    }
    return {
      spec,
      ok: true,
      image,
      blocks: Float32Array.from(rows),
      active,
      truth: Float32Array.from(truth),
      usable: Uint16Array.from(usableCounts),
      limbusCover: limbusCover(capture.image, seg).ratio,
    };
  } catch (error) {
    if (error instanceof IrisgateError) return { spec, ok: false, code: error.code };
    throw error;
  }
}
