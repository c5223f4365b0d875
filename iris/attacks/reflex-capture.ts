/**
 * A synthetic capture under the IR LED stimulus (protocol/pupil-reflex.ts): frames over the capture window,
 * each rendered by the synthetic camera with the pupil as it is at that moment. A living pupil (a live eye,
 * and an eye under a lens or a patch: the eye behind them is alive) constricts and recovers after its
 * latency, r(t) = r0 (1 - a c(t - L)) with the session's own pupil as r0; a print, a screen replay and a
 * prosthetic eye cannot, so their pupil stays as it is. The device's segmentation then measures the radius
 * in every frame, and the backend checks those radii against the schedule its nonce commands.
 *
 *   const frames = renderReflexCapture({ identity, session, label: 'live', seed: 1 }, stimulusSchedule(nonce));
 */
import {
  CAPTURE_MS,
  livePupilRadius,
  REFLEX_THRESHOLDS,
  type StimulusPulse,
  stimulusSchedule,
} from '../../protocol/pupil-reflex.ts';
import { hashSeed, Rng, type Seed } from '../synth/random.ts';
import type { IdentityParams, SessionParams } from '../synth/types.ts';
import type { GreyImage } from '../types.ts';
import { type AttackKind, type PresentationLabel, renderAttack, renderLive } from './render-attack.ts';

/**
 * The evaluation's stand-in for the pupil-reflex fit over a whole capture (which would need every frame
 * rendered): the pupil measured in the most constricted frame is smaller than at rest by at least the fit's
 * smallest live amplitude. `constriction` is 1 - r_constricted / r_rest (texture-motion.ts measures it).
 * A print's pupil does not move; neither does the hole of a patch laid over the pupil's margin.
 */
export const NO_CONSTRICTION_REASON = 'no_constriction';
export function constrictedEnough(constriction: number): boolean {
  return constriction >= REFLEX_THRESHOLDS.minAmplitude;
}

/** Attacks whose "eye" cannot constrict: a picture of an eye, or a manufactured one. */
export const NO_REFLEX: readonly AttackKind[] = ['print', 'screen', 'prosthetic'];

export interface ReflexCaptureFrame {
  /** ms after the first frame. */
  tMs: number;
  image: GreyImage;
  /** The pupil/iris radius ratio the frame was rendered with (ground truth). */
  dilation: number;
}

export interface ReflexCaptureOptions {
  /** Frames per second (default 10) over durationMs (default CAPTURE_MS). */
  fps?: number;
  durationMs?: number;
}

/** The person's pupil response, drawn from the seed: relative constriction 8-30%, latency 190-310 ms. */
export function pupilResponse(seed: Seed): { amplitude: number; latencyMs: number } {
  const rng = new Rng(hashSeed('pupil-response', seed));
  return { amplitude: rng.uniform(0.08, 0.3), latencyMs: rng.uniform(190, 310) };
}

export interface ReflexPresentation {
  identity: IdentityParams;
  session: SessionParams;
  label: PresentationLabel;
  seed: Seed;
  /** A patch's share of the visible iris (render-attack.ts draws one from the seed when absent). */
  patchFraction?: number;
}

/** The pupil/iris ratio of the presentation `tMs` after the first frame of a capture under `schedule`. */
export function reflexDilation(
  { identity, session, label, seed }: ReflexPresentation,
  schedule: readonly StimulusPulse[],
  tMs: number,
): number {
  const reacts = label === 'live' || !NO_REFLEX.includes(label);
  const response = { baselinePx: session.dilation, ...pupilResponse(hashSeed(seed, identity.id)) };
  return reacts ? livePupilRadius(schedule, tMs, response) : session.dilation;
}

/**
 * The presentation with its pupil at `dilation`. A frame of a sequence (`frame`: any number naming it)
 * draws its own sensor noise; without one, the capture is the session's single capture.
 */
export function renderPresentation(
  { identity, session, label, seed, patchFraction }: ReflexPresentation,
  dilation: number,
  frame?: number,
): GreyImage {
  const moment = { ...session, dilation, ...(frame === undefined ? {} : { frame }) };
  const patch = patchFraction === undefined ? {} : { patchFraction };
  return label === 'live'
    ? renderLive(identity, moment).image
    : renderAttack({ kind: label, identity, session: moment, seed, placedOn: session, ...patch }).image;
}

/** One frame of the presentation `tMs` after the first frame of a capture under `schedule`. */
export function renderReflexFrame(
  presentation: ReflexPresentation,
  schedule: readonly StimulusPulse[],
  tMs: number,
): Omit<ReflexCaptureFrame, 'tMs'> {
  const dilation = reflexDilation(presentation, schedule, tMs);
  return { image: renderPresentation(presentation, dilation, tMs), dilation };
}

/** The stimulus a session nonce drawn from `seed` commands (a synthetic backend's session). */
export function syntheticSchedule(seed: Seed): StimulusPulse[] {
  const rng = new Rng(hashSeed('session-nonce', seed));
  return stimulusSchedule(new Uint8Array(32).map(() => rng.nextU32() & 0xff));
}

/** The most constricted moment of a capture at `fps` (the first, at rest, when the pupil never moves). */
export function mostConstricted(
  presentation: ReflexPresentation,
  schedule: readonly StimulusPulse[],
  options: ReflexCaptureOptions = {},
): { tMs: number; dilation: number } {
  const fps = options.fps ?? 10;
  const duration = options.durationMs ?? CAPTURE_MS;
  let constricted = { tMs: 0, dilation: reflexDilation(presentation, schedule, 0) };
  for (let k = 1; k * 1000 < duration * fps; k++) {
    const tMs = Math.round((k * 1000) / fps);
    const dilation = reflexDilation(presentation, schedule, tMs);
    if (dilation < constricted.dilation) constricted = { tMs, dilation };
  }
  return constricted;
}

/**
 * The two frames of a capture the texture-motion check compares (iris/pad/texture-motion.ts): the first
 * (the pupil at rest: the session's single capture) and the most constricted of the frames at `fps`.
 */
export function renderReflexExtremes(
  presentation: ReflexPresentation,
  schedule: readonly StimulusPulse[],
  options: ReflexCaptureOptions = {},
): [ReflexCaptureFrame, ReflexCaptureFrame] {
  const rest = reflexDilation(presentation, schedule, 0);
  const constricted = mostConstricted(presentation, schedule, options);
  return [
    { tMs: 0, dilation: rest, image: renderPresentation(presentation, rest) },
    { ...constricted, image: renderPresentation(presentation, constricted.dilation, constricted.tMs) },
  ];
}

export function renderReflexCapture(
  presentation: ReflexPresentation,
  schedule: readonly StimulusPulse[],
  options: ReflexCaptureOptions = {},
): ReflexCaptureFrame[] {
  const fps = options.fps ?? 10;
  const duration = options.durationMs ?? CAPTURE_MS;
  const frames: ReflexCaptureFrame[] = [];
  for (let k = 0; k * 1000 < duration * fps; k++) {
    const tMs = Math.round((k * 1000) / fps);
    frames.push({ tMs, ...renderReflexFrame(presentation, schedule, tMs) });
  }
  return frames;
}
