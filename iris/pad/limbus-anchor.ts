/**
 * Is the fitted limbus where the iris is anchored? The iris stroma is stretched between the pupil margin
 * and its root at the limbus: when the pupil constricts, a point of the texture moves outwards by (1 - rho)
 * times the pupil radius change, and the texture at the limbus does not move at all. A smooth ring over the
 * outer iris (a sticker or a printed lens the colour of the sclera; the strongest Sybil patches of
 * patch-eval-v1) hides the true limbus: the segmentation takes the ring's inner edge for it, the fitted
 * iris is 10-25% too small, and every bit of the template is sampled at the wrong radius. The texture
 * just inside that edge still moves with the pupil, by (1 - rho) of the change at its true rho.
 *
 * Between the most dilated and the most constricted frame (texture-motion.ts's pair, the eye's own motion
 * removed by limbus-registration.ts), the constricted frame is resampled under hypotheses kappa: the texture
 * at the fitted limbus moved inwards by kappa times the pupil radius change (the rubber sheet's outer
 * boundary pulled in by that much; rho in between follows linearly, as it does for a true limbus at
 * rho_fit = 1 - kappa). kappa is the hypothesis whose radial band-pass correlates best with the dilated
 * frame's, over the blocks of the sheet within ANCHOR_MAX_RHO (the outermost block row holds the fitted
 * edge itself, fixed on the cornea under a patch; it would pull kappa to 0), weighted by rho (kappa moves
 * the outer rows most). A correct fit gives kappa near 0; the edge's motion in pixels is kappa times the
 * pupil change.
 *
 * The two frames' limbus fits must also agree: the limbus is rigid, so radii that differ by more than
 * LIMBUS_DRIFT_LIMIT mean one frame's fit took something else (a ring's outer edge in one, its inner edge
 * in the other).
 *
 * Measured on the tuning seed pad-tune-v1 (identities 0-199 x 2 sessions, live reflex captures as
 * motion-task.ts renders them): edge motion inwards at most 0.89 px (99th percentile 0.69 px), outwards at
 * most 1.75 px, one capture undecidable; limbus drift 99th percentile 1.3%, at most 3.7% but in two
 * captures whose limbus fit was lost in one frame (11% and 81%). The white-box Sybil successes of stop 25
 * (patch-eval-v1): rings whose fit was 12-25% too small move their fitted edge 1.02-4.04 px; the ring
 * whose outer edge was fitted in one frame drifts 40%. Not caught: an arc whose fit is off-centre over a
 * small pupil that hardly moves (person 41: inwards on one side, outwards on the other, 0.28 px in all),
 * and a fit too large in both frames (its edge moves outwards, as some live ones do; random person 264).
 * See iris/CARD.md. About 150 ms per capture.
 */
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH, type NormalizedIris } from '../../protocol/iris-code-layout.ts';
import { rubberSheet } from '../normalization.ts';
import type { Ellipse } from '../segmentation/geometry.ts';
import { parabolicPeakOffset } from '../segmentation/rays.ts';
import type { GreyImage } from '../types.ts';
import {
  blockCorrelation,
  MIN_BLOCK_SAMPLES,
  MOTION_BLOCK_COLUMNS,
  MOTION_BLOCK_ROWS,
  radialBandPass,
} from './motion-sheets.ts';

const H = NORMALIZED_HEIGHT;
const W = NORMALIZED_WIDTH;
/** Blocks whose centre lies further out than this (rubber-sheet rho) take no part. */
const ANCHOR_MAX_RHO = 0.85;
/** The coarse search over kappa (then refined by half a step either side and a parabola). */
const KAPPA_MIN = -0.5;
const KAPPA_MAX = 0.7;
const KAPPA_STEP = 0.1;
/** A capture whose fitted limbus moved inwards by this much (pixels) is refused. */
export const EDGE_MOTION_LIMIT_PX = 1.0;
/** A capture whose two limbus fits differ in radius by this share is refused. */
export const LIMBUS_DRIFT_LIMIT = 0.08;
/** Why such a capture is refused (a PAD reason code). */
export const LIMBUS_MISFIT_REASON = 'limbus_misfit';

export interface LimbusAnchor {
  /** The share of the pupil radius change the texture at the fitted limbus moved inwards (NaN: no block). */
  kappa: number;
  /** kappa times the pupil radius change, pixels. */
  edgeMotionPx: number;
  /** |constricted / dilated - 1| of the two frames' fitted limbus radii. */
  limbusDrift: number;
}

/** Whether a capture's fitted limbus is where its iris is anchored (an undecidable one, NaN, counts). */
export function limbusAnchored(motion: { edgeMotionPx: number; limbusDrift: number }): boolean {
  return !(motion.edgeMotionPx >= EDGE_MOTION_LIMIT_PX) && !(motion.limbusDrift >= LIMBUS_DRIFT_LIMIT);
}

export interface AnchorInput {
  /** The dilated frame's rubber sheet over its fitted boundaries (with its usable mask). */
  dilated: NormalizedIris;
  /** The constricted frame, its usable mask, its pupil and the dilated frame's limbus moved with the eye. */
  image: GreyImage;
  usable: Uint8Array;
  pupil: Ellipse;
  limbus: Ellipse;
  orientation: number;
  /** Dilated less constricted pupil radius, pixels. */
  pupilChange: number;
  /** The two frames' own fitted limbus radii, pixels. */
  limbusRadii: { dilated: number; constricted: number };
}

export function limbusAnchor(input: AnchorInput): LimbusAnchor {
  const limbusDrift = Math.abs(input.limbusRadii.constricted / input.limbusRadii.dilated - 1);
  // Hypotheses are counted in quarter steps (integers: no rounding decides whether one lies in the range,
  // and the refinement reuses what the coarse search scored; each score costs a resampling).
  const quarter = KAPPA_STEP / 4;
  const first = Math.round(KAPPA_MIN / quarter);
  const last = Math.round(KAPPA_MAX / quarter);
  const scored = new Map<number, number>();
  const score = (q: number): number => {
    let s = scored.get(q);
    if (s === undefined) {
      s = q < first || q > last ? Number.NaN : agreement(input, q * quarter);
      scored.set(q, s);
    }
    return s;
  };
  const best = (qs: readonly number[]): number | undefined => {
    let at: number | undefined;
    for (const q of qs) if (score(q) > (at === undefined ? Number.NEGATIVE_INFINITY : score(at))) at = q;
    return at;
  };
  const coarse = best(Array.from({ length: (last - first) / 4 + 1 }, (_, i) => first + 4 * i));
  if (coarse === undefined) return { kappa: Number.NaN, edgeMotionPx: Number.NaN, limbusDrift };
  const centre = best([coarse, coarse - 2, coarse + 2]) as number;
  const around = [score(centre - 1), score(centre), score(centre + 1)];
  const offset = around.some(Number.isNaN) ? 0 : parabolicPeakOffset(around, 1);
  const kappa = (centre + offset) * quarter;
  return { kappa, edgeMotionPx: kappa * input.pupilChange, limbusDrift };
}

/**
 * The rho-weighted mean block correlation between the dilated sheet and the constricted frame resampled
 * with its outer boundary pulled in by kappa times the pupil change (NaN when no block takes part).
 */
function agreement(input: AnchorInput, kappa: number): number {
  const pull = kappa * input.pupilChange;
  const limbus = { ...input.limbus, a: input.limbus.a - pull, b: input.limbus.b - pull };
  const sheet = rubberSheet(
    input.image,
    { pupil: input.pupil, iris: limbus, orientation: input.orientation },
    input.usable,
  );
  const mask = new Uint8Array(H * W);
  for (let i = 0; i < mask.length; i++)
    mask[i] = (input.dilated.mask[i] as number) & (sheet.mask[i] as number);
  const pa = radialBandPass(input.dilated, mask);
  const pb = radialBandPass(sheet, mask);
  let total = 0;
  let weight = 0;
  for (let br = 0; br < H / MOTION_BLOCK_ROWS; br++) {
    const rho = ((br + 0.5) * MOTION_BLOCK_ROWS) / (H - 1);
    if (rho > ANCHOR_MAX_RHO) continue;
    for (let bc = 0; bc < W / MOTION_BLOCK_COLUMNS; bc++) {
      const { n, correlation } = blockCorrelation(pa, pb, mask, br, bc);
      if (n < MIN_BLOCK_SAMPLES) continue;
      total += rho * n * correlation;
      weight += rho * n;
    }
  }
  return weight > 0 ? total / weight : Number.NaN;
}
