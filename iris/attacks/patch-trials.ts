/**
 * Patch attacks against the whole defence, one trial at a time (a task module for protocol/task-pool.ts):
 *
 * - enrol: a person's live capture (session 0) through the iris pipeline; the packed template.
 * - sybil: the enrolled person comes back (session 1) wearing a patch over `area` of the visible iris and
 *   succeeds when a second identity would be issued: the capture passes the presentation-attack detector
 *   and the two-frame checks (the frame at rest against the most constricted frame of the capture under a
 *   stimulus drawn from the trial's seed: iris/pad/texture-motion.ts, limbus-anchor.ts), the pipeline's quality
 *   gates, and its template matches the enrolment neither whole (raw FHD below DEFAULT_MATCH_THRESHOLD)
 *   nor by any part (DEFAULT_PART_MATCH): the backend's duplicate rule.
 * - sybil with a lens (mode 'lens'): the enrolled person comes back (session 1) wearing a textured cosmetic
 *   lens (contact-lens.ts, a model from its catalogue), under the same success rule. The lens lies over the
 *   whole iris ring: such trials have area 1. This is what a lens the PAD misses is worth to an attacker:
 *   a faint print may pass the PAD and still leave the wearer's own iris to match the enrolment.
 * - impersonation: another person wears a patch showing the victim's iris and succeeds when the capture
 *   passes and its template is recognised as the victim's (iris/matcher.ts `recognises`: the whole template
 *   and every part of it match).
 *
 * Modes: 'random' (patch-random), 'victim-texture' (patch-other-iris with the victim as donor), and
 * 'white-box': the attacker holds our models and pipeline and their own (or the victim's) iris, keeps the
 * physical patch outline of the random (or victim-texture) render, and searches its content with `budget`
 * evaluations of the pipeline to push the distance to the enrolment up (or to the victim's down) while the
 * detector still calls the frame live. Evaluations reuse the first frame's segmentation (the attacker's
 * cheap local loop); the best content is then judged by the full pipeline like any other frame. The content
 * is set pixel by pixel inside the patch as captured (no print or camera limits, only a pixel of blur at
 * its edge), so this attacker is stronger than a physical one.
 */
import { IrisgateError } from '../../protocol/errors.ts';
import type { NormalizedIris } from '../../protocol/iris-code-layout.ts';
import { createIrisEncoder, type IrisEncoder } from '../encoder.ts';
import {
  DEFAULT_MATCH_THRESHOLD,
  DEFAULT_PART_MATCH,
  duplicateDistances,
  matchPacked,
  type PackedIrisCode,
  packIrisCode,
  recognises,
} from '../matcher.ts';
import { normalizeIris } from '../normalization.ts';
import { createPadDetector, type PadDetector } from '../pad/detector.ts';
import { createPatchMasker, type PatchMasker } from '../pad/patch-mask.ts';
import { motionReasons, textureMotion } from '../pad/texture-motion.ts';
import { createIrisPipeline, type IrisPipeline } from '../pipeline.ts';
import { segmentEye } from '../segmentation/index.ts';
import { gaussianBlur } from '../synth/fields.ts';
import { identityOf, LABEL, sessionOf } from '../synth/generate.ts';
import { hashSeed, Rng } from '../synth/random.ts';
import type { GreyImage } from '../types.ts';
import {
  constrictedEnough,
  mostConstricted,
  NO_CONSTRICTION_REASON,
  renderReflexExtremes,
  syntheticSchedule,
} from './reflex-capture.ts';
import { type AttackCapture, renderAttack, renderLive } from './render-attack.ts';

export const PATCH_AREAS = [0.05, 0.1, 0.2, 0.3, 0.4] as const;
export const WHITE_BOX_BUDGET = 500;

export type TrialInput =
  | { type: 'enrol'; seed: string; person: number }
  | {
      type: 'sybil';
      seed: string;
      person: number;
      area: number;
      mode: 'random' | 'white-box';
      enrolment: PackedIrisCode;
      budget?: number;
    }
  | { type: 'sybil'; seed: string; person: number; mode: 'lens'; enrolment: PackedIrisCode }
  | {
      type: 'impersonation';
      seed: string;
      person: number;
      victim: number;
      area: number;
      mode: 'victim-texture' | 'white-box';
      enrolment: PackedIrisCode;
      budget?: number;
    };

export type EnrolOutcome = { ok: true; template: PackedIrisCode } | { ok: false; code: string };

/** What the full defence made of one frame. */
interface Judgement {
  /** The presentation-attack detector's verdict and score (0 when the pipeline refused the frame). */
  live: boolean;
  padScore: number;
  /** The pipeline's refusal code, if it refused the frame. */
  refused?: string;
  /** Share of the usable iris the patch detector masked. */
  maskedFraction: number;
  /**
   * The texture-motion check's share of the iris fixed on the cornea and its largest fixed piece, in blocks
   * (iris/pad/texture-motion.ts).
   */
  fixedShare: number;
  fixedPiece: number;
  /** The limbus-anchor check's edge motion (pixels) and limbus drift (iris/pad/limbus-anchor.ts). */
  edgeMotionPx: number;
  limbusDrift: number;
  /**
   * The detector's reasons, the two-frame checks' (texture motion, limbus anchor) and the pupil reflex's
   * (NO_CONSTRICTION_REASON) included.
   */
  reasons: string[];
  /**
   * The duplicate rule's distances to the enrolment (own for sybil, the victim's for impersonation), over
   * the duplicate search's rolls (iris/matcher.ts duplicateDistances).
   */
  wholeHd?: number;
  partHd?: number;
  /** The backend's duplicate rule: whole or part match. */
  duplicate: boolean;
  /** Whole-template match, and recognition (whole and every part: iris/matcher.ts `recognises`). */
  wholeMatch: boolean;
  recognised: boolean;
}

export interface TrialOutcome extends Judgement {
  type: 'sybil' | 'impersonation';
  mode: string;
  person: number;
  victim?: number;
  area: number;
  /** The covered share of the visible iris measured on the render. */
  renderedArea: number;
  success: boolean;
  evaluations: number;
}

let pipeline: IrisPipeline;
let detector: PadDetector;
let encoder: IrisEncoder;
let masker: PatchMasker;

export async function setup(): Promise<void> {
  [pipeline, detector, encoder, masker] = await Promise.all([
    createIrisPipeline(),
    createPadDetector(),
    createIrisEncoder(),
    createPatchMasker(),
  ]);
}

function person(seed: string, id: number) {
  const identity = identityOf(seed, id);
  return {
    identity,
    enrolSession: sessionOf(seed, identity, 0),
    attackSession: sessionOf(seed, identity, 1),
  };
}

function distances(probe: PackedIrisCode, enrolment: PackedIrisCode) {
  const dup = duplicateDistances(probe, enrolment);
  return {
    ...dup,
    wholeMatch: matchPacked(probe, enrolment).hdRaw < DEFAULT_MATCH_THRESHOLD,
    recognised: recognises(probe, enrolment),
  };
}

/**
 * A capture through the full defence: the frame at rest through the pipeline (with its patch mask and
 * gates) and the detector, the texture-motion check between it and the most constricted frame (whose
 * segmentation must succeed too), the pupil reflex's two-frame stand-in (constrictedEnough, as the held-out
 * PAD's whole capture), and the distances.
 */
async function judge(
  image: GreyImage,
  constricted: GreyImage,
  enrolment: PackedIrisCode,
): Promise<Judgement> {
  try {
    const encoded = await pipeline.encode(image);
    const pad = await detector.assessMeasured(image, encoded);
    const motion = textureMotion(
      { image, segmentation: encoded.segmentation },
      { image: constricted, segmentation: segmentEye(constricted) },
    );
    const reasons = [
      ...pad.reasons,
      ...motionReasons(motion),
      ...(constrictedEnough(motion.constriction) ? [] : [NO_CONSTRICTION_REASON]),
    ];
    return {
      live: reasons.length === 0,
      padScore: pad.score,
      maskedFraction: encoded.quality.patchFraction,
      fixedShare: motion.fixedShare,
      fixedPiece: motion.fixedPiece,
      edgeMotionPx: motion.edgeMotionPx,
      limbusDrift: motion.limbusDrift,
      reasons,
      ...distances(packIrisCode(encoded.code), enrolment),
    };
  } catch (error) {
    if (!(error instanceof IrisgateError)) throw error;
    return {
      live: false,
      padScore: 0,
      refused: error.code,
      maskedFraction: 0,
      fixedShare: 0,
      fixedPiece: 0,
      edgeMotionPx: Number.NaN,
      limbusDrift: Number.NaN,
      reasons: [error.code],
      duplicate: false,
      wholeMatch: false,
      recognised: false,
    };
  }
}

/** The patch's pixels in a capture (LABEL.patch) and the pixels within one pixel of its outline. */
function patchPixels(capture: AttackCapture): { inside: Int32Array; edge: Int32Array } {
  const { width: w, height: h } = capture.image;
  const labels = capture.labels.data;
  const inside: number[] = [];
  const edge: number[] = [];
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const p = labels[i] === LABEL.patch;
      if (p) inside.push(i);
      let mixed = false;
      for (let d = -1; d <= 1 && !mixed; d++) {
        for (let e = -1; e <= 1; e++) if ((labels[i + d * w + e] === LABEL.patch) !== p) mixed = true;
      }
      if (mixed) edge.push(i);
    }
  }
  return { inside: Int32Array.from(inside), edge: Int32Array.from(edge) };
}

/**
 * The attacker's content family over the patch pixels: a brightness (mean times 1 + b), minus g times the
 * high-pass of a reference iris (own iris for sybil, inverted: its bits flip; for impersonation the sign is
 * +, the victim's texture amplified), plus n times a noise field; `r` picks the high-pass scale.
 */
interface Params {
  g: number;
  b: number;
  n: number;
  r: number;
  s: number;
}

/**
 * The attacker's objective: positive exactly when the attack would succeed. Given the best score so far
 * (`toBeat`), it may return any value not above it for a candidate that cannot beat it: the search keeps
 * only candidates that do, so its result is that of the exact objective.
 */
export type AttackerObjective = (image: GreyImage, toBeat: number) => Promise<number>;

/** A random search over Params from the outline of `base`, `budget` evaluations of `evaluate`. */
export async function whiteBoxSearch(
  rng: Rng,
  base: AttackCapture,
  reference: GreyImage,
  sign: 1 | -1,
  budget: number,
  evaluate: AttackerObjective,
): Promise<{ image: GreyImage; evaluations: number }> {
  const { width: w, height: h } = base.image;
  const { inside, edge } = patchPixels(base);
  const radii = [1, 2, 4];
  const blurred = (data: Uint8Array, sigma: number) => {
    const out = Float32Array.from(data);
    gaussianBlur(out, w, h, sigma, sigma);
    return out;
  };
  const highPass = radii.map((r) => {
    const blur = blurred(reference.data, r);
    return Float32Array.from(inside, (i) => (reference.data[i] as number) - (blur[i] as number));
  });
  let mean = 0;
  for (const i of inside) mean += reference.data[i] as number;
  mean /= Math.max(1, inside.length);
  const noise = [0, 1, 2, 3].map((k) => {
    const nr = rng.fork(`noise${k}`);
    const raw = new Uint8Array(w * h);
    for (const i of inside) raw[i] = Math.round(127 + nr.normal(0, 60));
    const smooth = blurred(raw, 1 + k);
    return Float32Array.from(inside, (i) => ((smooth[i] as number) - 127) / 30);
  });
  const compose = (p: Params): GreyImage => {
    const data = base.image.data.slice();
    const hp = highPass[p.r] as Float32Array;
    const nz = noise[p.s] as Float32Array;
    for (let k = 0; k < inside.length; k++) {
      const v = mean * (1 + p.b) + sign * p.g * (hp[k] as number) + p.n * (nz[k] as number);
      data[inside[k] as number] = Math.max(0, Math.min(255, Math.round(v)));
    }
    const blurred = data.slice();
    for (const i of edge) {
      let s = 0;
      for (let d = -1; d <= 1; d++) for (let e = -1; e <= 1; e++) s += data[i + d * w + e] as number;
      blurred[i] = Math.round(s / 9);
    }
    return { width: w, height: h, data: blurred };
  };
  const draw = (): Params => ({
    g: rng.uniform(0, 4),
    b: rng.uniform(-0.3, 0.3),
    n: rng.chance(0.5) ? 0 : rng.uniform(0, 30),
    r: rng.int(0, radii.length - 1),
    s: rng.int(0, noise.length - 1),
  });
  const perturb = (p: Params): Params => ({
    g: Math.max(0, p.g + rng.normal(0, 0.4)),
    b: Math.max(-0.5, Math.min(0.5, p.b + rng.normal(0, 0.05))),
    n: Math.max(0, p.n + rng.normal(0, 4)),
    r: rng.chance(0.2) ? rng.int(0, radii.length - 1) : p.r,
    s: rng.chance(0.2) ? rng.int(0, noise.length - 1) : p.s,
  });
  let best = { g: 1.5, b: 0, n: 0, r: 1, s: 0 };
  let bestScore = await evaluate(compose(best), Number.NEGATIVE_INFINITY);
  for (let k = 1; k < budget; k++) {
    const candidate = rng.chance(0.4) ? draw() : perturb(best);
    const score = await evaluate(compose(candidate), bestScore);
    if (score > bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return { image: compose(best), evaluations: budget };
}

/** A frame the detector refuses scores its PAD score less this: under every frame it passes. */
export const REFUSED_PENALTY = 10;

/**
 * The attacker's cheap evaluation (an AttackerObjective): the first frame's segmentation kept, the rest of
 * the pipeline run. A frame the detector refuses scores at most 1 - REFUSED_PENALTY, a frame it passes its
 * distance margin (above -1): once the search holds a passing frame, a candidate whose margin does not beat
 * it cannot win whatever the detector says, and the detector (the dearest stage) is not run for it. Before
 * that, the detector runs first and a refused frame is never encoded.
 */
export function attackerObjective(
  base: GreyImage,
  enrolment: PackedIrisCode,
  goal: 'evade' | 'match',
): AttackerObjective | undefined {
  let seg: ReturnType<typeof segmentEye>;
  try {
    seg = segmentEye(base);
  } catch {
    return undefined;
  }
  const marginOf = async (normalized: NormalizedIris): Promise<number> => {
    const probe = packIrisCode(await encoder.encode(normalized));
    if (goal === 'match') {
      // Recognition searches +-15 columns only: so does the impersonator.
      return recognises(probe, enrolment) ? 1 : DEFAULT_MATCH_THRESHOLD - matchPacked(probe, enrolment).hdRaw;
    }
    const d = duplicateDistances(probe, enrolment);
    return Math.min(d.wholeHd - DEFAULT_MATCH_THRESHOLD, d.partHd - DEFAULT_PART_MATCH.threshold);
  };
  return async (image, toBeat) => {
    const normalized = normalizeIris(image, seg);
    const patch = await masker.mask(normalized);
    let margin: number | undefined;
    if (toBeat > 1 - REFUSED_PENALTY) {
      margin = await marginOf(patch.normalized);
      if (margin <= toBeat) return margin;
    }
    const pad = await detector.assessMeasured(image, { segmentation: seg, normalized, patch });
    if (!pad.live) return pad.score - REFUSED_PENALTY;
    return margin ?? marginOf(patch.normalized);
  };
}

export async function run(input: TrialInput): Promise<EnrolOutcome | TrialOutcome> {
  if (input.type === 'enrol') {
    const { identity, enrolSession } = person(input.seed, input.person);
    try {
      const encoded = await pipeline.encode(renderLive(identity, enrolSession).image);
      return { ok: true, template: packIrisCode(encoded.code) };
    } catch (error) {
      if (error instanceof IrisgateError) return { ok: false, code: error.code };
      throw error;
    }
  }
  if (input.mode === 'lens') return lensTrial(input);
  const attacker = person(input.seed, input.person);
  const victim = input.type === 'impersonation' ? person(input.seed, input.victim) : undefined;
  const attackSeed = hashSeed(
    input.seed,
    input.type,
    input.person,
    input.area,
    input.type === 'impersonation' ? input.victim : -1,
  );
  const attack = {
    kind: victim ? ('patch-other-iris' as const) : ('patch-random' as const),
    identity: attacker.identity,
    session: attacker.attackSession,
    seed: attackSeed,
    patchFraction: input.area,
    ...(victim ? { donor: victim.identity } : {}),
  };
  const base = renderAttack(attack);
  // The same patch on the same living eye at the capture's most constricted moment (its own sensor noise).
  const moment = mostConstricted({ ...attack, label: attack.kind }, syntheticSchedule(attackSeed));
  const constrictedBase = renderAttack({
    ...attack,
    session: { ...attack.session, dilation: moment.dilation, frame: moment.tMs },
    placedOn: attack.session,
  }).image;
  let image = base.image;
  let constricted = constrictedBase;
  let evaluations = 1;
  if (input.mode === 'white-box') {
    const budget = input.budget ?? WHITE_BOX_BUDGET;
    const objective = attackerObjective(base.image, input.enrolment, victim ? 'match' : 'evade');
    if (objective) {
      // Sybil: the attacker's own iris under the patch, inverted; impersonation: the victim's texture as
      // the patch shows it, amplified.
      const reference = victim ? base.image : renderLive(attacker.identity, attacker.attackSession).image;
      const found = await whiteBoxSearch(
        new Rng(attackSeed),
        base,
        reference,
        victim ? 1 : -1,
        budget,
        objective,
      );
      image = found.image;
      evaluations = found.evaluations + 1;
      // The patch is a physical object on the cornea: the content found is there in every frame, at the
      // same image points, under that frame's own noise.
      const data = constrictedBase.data.slice();
      for (let i = 0; i < data.length; i++) {
        const delta = (image.data[i] as number) - (base.image.data[i] as number);
        if (delta !== 0) data[i] = Math.max(0, Math.min(255, (data[i] as number) + delta));
      }
      constricted = { ...constrictedBase, data };
    }
  }
  const verdict = await judge(image, constricted, input.enrolment);
  return {
    type: input.type,
    mode: input.mode,
    person: input.person,
    ...(input.type === 'impersonation' ? { victim: input.victim } : {}),
    area: input.area,
    renderedArea: base.truth.patchFraction ?? 0,
    ...verdict,
    success: succeeded(verdict, input.type),
    evaluations,
  };
}

/**
 * Whether the attack got what it came for past the whole defence: a second identity (sybil: no duplicate of
 * the enrolment) or the victim's (impersonation: recognised).
 */
function succeeded(verdict: Judgement, type: TrialOutcome['type']): boolean {
  if (!verdict.live || verdict.refused !== undefined) return false;
  return type === 'sybil' ? !verdict.duplicate : verdict.recognised;
}

/** Sybil with a textured lens: the enrolled person's reflex capture wearing it, through the full defence. */
async function lensTrial(input: Extract<TrialInput, { mode: 'lens' }>): Promise<TrialOutcome> {
  const { identity, attackSession } = person(input.seed, input.person);
  const attackSeed = hashSeed(input.seed, 'sybil-lens', input.person);
  const [rest, constricted] = renderReflexExtremes(
    { identity, session: attackSession, label: 'lens', seed: attackSeed },
    syntheticSchedule(attackSeed),
  );
  const verdict = await judge(rest.image, constricted.image, input.enrolment);
  return {
    type: 'sybil',
    mode: 'lens',
    person: input.person,
    area: 1,
    renderedArea: 1,
    ...verdict,
    success: succeeded(verdict, 'sybil'),
    evaluations: 1,
  };
}
