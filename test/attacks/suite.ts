/**
 * The robustness suite: presentation-attack detection on a held-out synthetic set (seeds train:pad never
 * uses), leave-one-attack-type-out, Sybil by patch and impersonation by patch (iris/attacks/patch-trials.ts).
 * `npm test` runs it on a reduced sample (robustness.test.ts); `npm run eval:attacks` at full size
 * (eval-attacks.ts). Every run is deterministic by its seeds.
 */
import { fileURLToPath } from 'node:url';
import {
  type EnrolOutcome,
  PATCH_AREAS,
  type TrialInput,
  type TrialOutcome,
  WHITE_BOX_BUDGET,
} from '../../iris/attacks/patch-trials.ts';
import { constrictedEnough, NO_CONSTRICTION_REASON } from '../../iris/attacks/reflex-capture.ts';
import { ATTACK_KINDS, type AttackKind } from '../../iris/attacks/render-attack.ts';
import { DEFAULT_MATCH_THRESHOLD, type PackedIrisCode } from '../../iris/matcher.ts';
import { PAD_MODEL_FILE, PATCH_LIMIT_KEY, patchReasons, THRESHOLD_KEY } from '../../iris/pad/detector.ts';
import { LIMBUS_MISFIT_REASON } from '../../iris/pad/limbus-anchor.ts';
import { type PadReport, type PadSample, summarizePad } from '../../iris/pad/metrics.ts';
import type { MotionOutcome } from '../../iris/pad/motion-task.ts';
import { loadMlpModel } from '../../iris/pad/onnx-mlp.ts';
import { PATCH_BLOCKS, PATCH_FEATURE_COUNT } from '../../iris/pad/patch-features.ts';
import { PATCH_MASK_MODEL_FILE, PATCH_MASK_OUTPUT } from '../../iris/pad/patch-mask.ts';
import { FIXED_TEXTURE_REASON, motionReasons } from '../../iris/pad/texture-motion.ts';
import {
  measurePresentations,
  presentationSpecs,
  TRAINING_SEED,
  TRAINING_SET,
  trainingCacheKey,
} from '../../iris/pad/train.ts';
import { judgedLive, maskedFraction, measured, trainPad } from '../../iris/pad/train-models.ts';
import type { PresentationFeatures, PresentationSpec } from '../../iris/pad/training-task.ts';
import { startProgress } from '../../iris/progress.ts';
import { mapInWorkers } from '../../protocol/task-pool.ts';

/** Seeds never used for training (train:pad uses TRAINING_SEED). */
export const EVAL_SEEDS = { pad: 'pad-eval-v1', patches: 'patch-eval-v1' } as const;
const TRIALS = new URL('../../iris/attacks/patch-trials.ts', import.meta.url);
const MOTION = new URL('../../iris/pad/motion-task.ts', import.meta.url);
const modelPath = (file: string) => fileURLToPath(new URL(`../../models/${file}`, import.meta.url));

export interface SuiteSize {
  /** Held-out PAD identities: one live and one of each attack type per identity. */
  padIdentities: number;
  /** Training identities x sessions for leave-one-type-out (train:pad's set, from its cache); 0 = skip. */
  looTraining: { identities: number; sessions: number } | null;
  /** Persons enrolled then coming back with a random patch at every area (Sybil). */
  sybilRandom: number;
  /** Persons coming back wearing a textured cosmetic lens (Sybil; the lens covers the whole iris ring). */
  sybilLens: number;
  /** Persons coming back with a white-box patch at every area, and the attacker's evaluation budget. */
  sybilWhiteBox: number;
  whiteBoxBudget: number;
  /** Attacker-victim pairs with a patch of the victim's iris at every area, and white-box pairs. */
  impersonation: number;
  impersonationWhiteBox: number;
  areas: readonly number[];
  /**
   * Patch and lens trials take the enrolled persons from this index on: 0 for a whole run, K to run a
   * shard of one (each trial depends only on its person and its victim, the next enrolled person, so
   * shards of persons 0-39 and 40-99 give the trials of one run of 100).
   */
  firstPerson: number;
}

export const FULL_SIZE: SuiteSize = {
  padIdentities: 300,
  looTraining: TRAINING_SET,
  sybilRandom: 300,
  sybilLens: 300,
  sybilWhiteBox: 300,
  whiteBoxBudget: WHITE_BOX_BUDGET,
  impersonation: 300,
  impersonationWhiteBox: 300,
  areas: PATCH_AREAS,
  firstPerson: 0,
};

/**
 * Scores measured frames as the detector does, with the shipped models (patch-mask.onnx, pad.onnx): the
 * frame model's score, or 0 when the patch detector masks the patch limit or more; refused frames score 0.
 */
export async function scoreWithShippedModels(
  captures: readonly PresentationFeatures[],
): Promise<{ samples: PadSample[]; threshold: number }> {
  const patch = await loadMlpModel(modelPath(PATCH_MASK_MODEL_FILE), { outputName: PATCH_MASK_OUTPUT });
  const pad = await loadMlpModel(modelPath(PAD_MODEL_FILE));
  const threshold = Number(pad.metadata[THRESHOLD_KEY]);
  const patchLimit = Number(pad.metadata[PATCH_LIMIT_KEY]);
  const samples: PadSample[] = [];
  for (const c of captures) {
    if (!c.ok) {
      samples.push({ label: c.spec.label, score: 0 });
      continue;
    }
    const n = c.blocks.length / PATCH_FEATURE_COUNT;
    const scores = new Float32Array(PATCH_BLOCKS);
    if (n > 0) {
      const out = await patch.predict(c.blocks, n, PATCH_FEATURE_COUNT);
      let k = 0;
      for (let b = 0; b < PATCH_BLOCKS; b++) if (c.active[b]) scores[b] = out[k++] as number;
    }
    const frame = (await pad.predict(c.image, 1, c.image.length))[0] as number;
    const patched = patchReasons(maskedFraction(c, scores), patchLimit, c.limbusCover).length > 0;
    samples.push({ label: c.spec.label, score: patched ? 0 : frame });
  }
  await Promise.all([patch.release(), pad.release()]);
  return { samples, threshold };
}

export interface LeaveOneOut {
  type: AttackKind;
  presentations: number;
  accepted: number;
  apcer: number;
  threshold: number;
}

/** Trains without each attack type in turn (on train:pad's set) and measures that type's APCER held out. */
export function leaveOneTypeOut(
  training: readonly PresentationFeatures[],
  heldOut: readonly PresentationFeatures[],
  onType?: (type: AttackKind) => void,
): LeaveOneOut[] {
  return ATTACK_KINDS.map((type) => {
    onType?.(type);
    const trained = trainPad(training, { seed: TRAINING_SEED, exclude: type });
    const frames = heldOut.filter((c) => c.spec.label === type);
    const accepted = measured(frames).filter((c) => judgedLive(trained, c)).length;
    return {
      type,
      presentations: frames.length,
      accepted,
      apcer: frames.length ? accepted / frames.length : 0,
      threshold: trained.threshold,
    };
  });
}

export interface PatchTrialSummary {
  type: 'sybil' | 'impersonation';
  mode: string;
  area: number;
  trials: number;
  successes: number;
  /** Trials refused by the detector (not live), by the pipeline (quality); matched: duplicate (sybil) or
   * recognised as the victim (impersonation). */
  refusedByDetector: number;
  /** Of those refused by the detector: refused by the texture-motion check (alone or with the frame). */
  refusedByMotion: number;
  /** Of those refused by the detector: refused by the limbus-anchor check (alone or not). */
  refusedByLimbus: number;
  /** Of those refused by the detector: the pupil did not constrict (the reflex stand-in, alone or not). */
  refusedByReflex: number;
  refusedByPipeline: number;
  matched: number;
  /** Impersonation: whole-template matches that a part of the probe contradicts (not recognised). */
  wholeOnly: number;
  /**
   * Sybil trials only the part lane stopped: live captures (through the pipeline and the whole PAD)
   * whose whole template missed at every pre-roll of the duplicate search (iris/matcher.ts
   * duplicateDistances) and which a part caught. Without part matching each would be a success.
   */
  caughtByPartsOnly: number;
  meanMaskedFraction: number;
}

export function summarizeTrials(outcomes: readonly TrialOutcome[]): PatchTrialSummary[] {
  const groups = new Map<string, TrialOutcome[]>();
  for (const o of outcomes) {
    const key = `${o.type}/${o.mode}/${o.area}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  return [...groups.values()].map((g) => {
    const first = g[0] as TrialOutcome;
    const passed = g.filter((o) => o.refused === undefined);
    return {
      type: first.type,
      mode: first.mode,
      area: first.area,
      trials: g.length,
      successes: g.filter((o) => o.success).length,
      refusedByDetector: passed.filter((o) => !o.live).length,
      refusedByMotion: passed.filter((o) => o.reasons.includes(FIXED_TEXTURE_REASON)).length,
      refusedByLimbus: passed.filter((o) => o.reasons.includes(LIMBUS_MISFIT_REASON)).length,
      refusedByReflex: passed.filter((o) => o.reasons.includes(NO_CONSTRICTION_REASON)).length,
      refusedByPipeline: g.length - passed.length,
      matched: g.filter((o) => (o.type === 'sybil' ? o.duplicate : o.recognised)).length,
      wholeOnly: g.filter((o) => o.wholeMatch && !o.recognised).length,
      // An impersonation's duplicate is of the victim, which is not what the attacker came for.
      caughtByPartsOnly: g.filter(
        (o) => o.type === 'sybil' && o.live && o.duplicate && !((o.wholeHd ?? 1) < DEFAULT_MATCH_THRESHOLD),
      ).length,
      meanMaskedFraction: passed.reduce((s, o) => s + o.maskedFraction, 0) / Math.max(1, passed.length),
    };
  });
}

/**
 * The whole capture's PAD: a presentation passes when its frame passes the shipped models, its texture
 * moves with its pupil and its fitted limbus is where the iris is anchored (texture-motion.ts,
 * limbus-anchor.ts), and its pupil constricted between the two frames by at least
 * the reflex check's smallest amplitude. That last test stands in for the pupil-reflex fit over a whole
 * capture (protocol/pupil-reflex.ts), which would need every frame of it rendered.
 */
export function captureSamples(
  frames: readonly PadSample[],
  motion: readonly MotionOutcome[],
): {
  samples: PadSample[];
  refusedByMotion: Record<string, number>;
  refusedByReflex: Record<string, number>;
} {
  const refusedByMotion: Record<string, number> = {};
  const refusedByReflex: Record<string, number> = {};
  const count = (into: Record<string, number>, label: string) => {
    into[label] = (into[label] ?? 0) + 1;
  };
  const samples = frames.map((frame, k) => {
    const m = motion[k] as MotionOutcome;
    if (m.spec.label !== frame.label) throw new Error(`motion outcome ${k} is for ${m.spec.label}`);
    const reflex = m.ok && constrictedEnough(m.constriction);
    const moves = m.ok && motionReasons(m).length === 0;
    if (!reflex) count(refusedByReflex, frame.label);
    else if (!moves) count(refusedByMotion, frame.label);
    return { label: frame.label, score: reflex && moves ? frame.score : 0 };
  });
  return { samples, refusedByMotion, refusedByReflex };
}

export interface SuiteReport {
  pad: PadReport;
  /** PAD of the whole capture (captureSamples): the frame models, the texture motion, the pupil's reflex. */
  capturePad: PadReport;
  /**
   * Presentations the frame models passed or not that the two-frame checks (texture motion, limbus anchor)
   * or the reflex refused.
   */
  refusedByMotion: Record<string, number>;
  refusedByReflex: Record<string, number>;
  padFailures: Record<string, number>;
  leaveOneOut: LeaveOneOut[] | null;
  patches: PatchTrialSummary[];
  /** Every successful patch attack, to look into. */
  patchSuccesses: TrialOutcome[];
  enrolFailures: number;
  seconds: number;
}

/** The patch and lens trials of a run (or of its shard: size.firstPerson) over the enrolled persons. */
export function trialInputs(size: SuiteSize, enrolled: Map<number, PackedIrisCode>): TrialInput[] {
  const seed = EVAL_SEEDS.patches;
  const people = [...enrolled.keys()];
  const template = (person: number) => enrolled.get(person) as PackedIrisCode;
  const inputs: TrialInput[] = [];
  const budget = size.whiteBoxBudget;
  const first = size.firstPerson;
  const shard = (count: number) => people.slice(first, first + count);
  for (const person of shard(size.sybilLens)) {
    inputs.push({ type: 'sybil', seed, person, mode: 'lens', enrolment: template(person) });
  }
  for (const area of size.areas) {
    const sybil = (count: number, mode: 'random' | 'white-box') => {
      for (const person of shard(count)) {
        inputs.push({ type: 'sybil', seed, person, area, mode, enrolment: template(person), budget });
      }
    };
    const impersonation = (count: number, mode: 'victim-texture' | 'white-box') => {
      for (const [k, person] of shard(count).entries()) {
        const victim = people[first + k + 1];
        if (victim === undefined) throw new Error(`patch trials: no enrolled person after ${person}`);
        inputs.push({
          type: 'impersonation',
          seed,
          person,
          victim,
          area,
          mode,
          enrolment: template(victim),
          budget,
        });
      }
    };
    sybil(size.sybilRandom, 'random');
    sybil(size.sybilWhiteBox, 'white-box');
    impersonation(size.impersonation, 'victim-texture');
    impersonation(size.impersonationWhiteBox, 'white-box');
  }
  return inputs;
}

/** Runs the suite at `size`; `log` gets a line per stage. */
export async function runSuite(
  size: SuiteSize,
  options: { workers?: number; log?: (line: string) => void; cache?: boolean } = {},
): Promise<SuiteReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const workers = options.workers ? { workers: options.workers } : {};

  log(`PAD held-out set: ${size.padIdentities} identities x (live + ${ATTACK_KINDS.length} attack types)`);
  const heldOut = await measurePresentations(presentationSpecs(EVAL_SEEDS.pad, size.padIdentities, 1), {
    label: 'held-out presentations',
    ...(options.cache ? { cacheKey: trainingCacheKey(EVAL_SEEDS.pad, size.padIdentities, 1) } : {}),
    ...workers,
  });
  const { samples, threshold } = await scoreWithShippedModels(heldOut);
  const pad = summarizePad(samples, threshold);
  const motionProgress = startProgress('reflex captures (texture motion)', heldOut.length);
  const motion = await mapInWorkers<PresentationSpec, MotionOutcome>(
    MOTION,
    heldOut.map((c) => c.spec),
    { ...workers, onProgress: (done) => motionProgress.update(done) },
  );
  motionProgress.stop();
  const capture = captureSamples(samples, motion);
  const capturePad = summarizePad(capture.samples, threshold);
  const padFailures: Record<string, number> = {};
  for (const c of heldOut) if (!c.ok) padFailures[c.spec.label] = (padFailures[c.spec.label] ?? 0) + 1;

  let leaveOneOut: LeaveOneOut[] | null = null;
  if (size.looTraining) {
    const { identities, sessions } = size.looTraining;
    const training = await measurePresentations(presentationSpecs(TRAINING_SEED, identities, sessions), {
      label: 'training presentations',
      cacheKey: trainingCacheKey(TRAINING_SEED, identities, sessions),
      ...workers,
    });
    leaveOneOut = leaveOneTypeOut(training, heldOut, (type) =>
      log(`leave-one-out: training without ${type}`),
    );
  }

  // The persons are numbered by enrolment, refused ones skipped: enrolling in order until the shard's last
  // person and the next (a victim) are in gives every shard the numbering of a whole run.
  const wanted =
    size.firstPerson +
    Math.max(
      size.sybilRandom,
      size.sybilLens,
      size.sybilWhiteBox,
      size.impersonation,
      size.impersonationWhiteBox,
    ) +
    1;
  log(`patch trials: enrolling ${wanted} people`);
  const enrolled = new Map<number, PackedIrisCode>();
  let enrolFailures = 0;
  for (let next = 0; enrolled.size < wanted; ) {
    if (enrolFailures > wanted) throw new Error(`patch trials: ${enrolFailures} enrolments refused`);
    const batch = Array.from(
      { length: wanted - enrolled.size },
      (_, k): TrialInput => ({
        type: 'enrol',
        seed: EVAL_SEEDS.patches,
        person: next + k,
      }),
    );
    const outcomes = await mapInWorkers<TrialInput, EnrolOutcome>(TRIALS, batch, workers);
    outcomes.forEach((o, k) => {
      if (o.ok) enrolled.set(next + k, o.template);
      else enrolFailures++;
    });
    next += batch.length;
  }
  const inputs = trialInputs(size, enrolled);
  log(`patch trials: ${inputs.length} trials`);
  const progress = startProgress('patch trials', inputs.length);
  const outcomes = await mapInWorkers<TrialInput, TrialOutcome>(TRIALS, inputs, {
    ...workers,
    onProgress: (done) => progress.update(done),
  });
  progress.stop();
  return {
    pad,
    capturePad,
    refusedByMotion: capture.refusedByMotion,
    refusedByReflex: capture.refusedByReflex,
    padFailures,
    leaveOneOut,
    patches: summarizeTrials(outcomes),
    patchSuccesses: outcomes.filter((o) => o.success),
    enrolFailures,
    seconds: Math.round((performance.now() - started) / 1000),
  };
}
