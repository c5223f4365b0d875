/**
 * One capture session on the device, as an explicit state machine:
 *
 *   reading_identity -> authenticating -> fetching_nonce -> capturing -> fusing -> checking_liveness
 *   -> signing -> queued                        (any state) -> failed, with a stable code and a message
 *
 * reading_identity: the user's Semaphore identity commitment, from a QR payload given by the operator or
 *   read from a QR code the user's phone shows the camera (device/identity-qr.ts).
 * authenticating / fetching_nonce: the backend's challenge signed with the attestation key, then a session
 *   nonce; the stimulus schedule is derived from it (protocol/pupil-reflex.ts).
 * capturing: CAPTURE_MS of frames from the first one, while the IR LED plays the schedule. Every frame is
 *   hashed (protocol framePixelsSha256), signed by the attestation key over a statement chained to the
 *   previous frame, and segmented for its pupil radius (the reflex evidence; UNMEASURED_PUPIL_PX in a
 *   frame with no pupil, a blink, and at most a fifth of the frames may be so); the frames that pass the
 *   quality gates compete for the best `fusedFrames` places by visible iris x sharpness, and a frame
 *   entering them is encoded and judged by the presentation-attack detector at once, so little is left to
 *   do after the last frame.
 * fusing: the best frames' codes become one (device/template-fusion.ts).
 * checking_liveness: the device's own verdicts before it spends a signup: the pupil must answer the
 *   stimulus (the check the backend repeats), the iris texture must move with the pupil between the
 *   widest and the narrowest measured pupil (iris/pad/texture-motion.ts: a lens or a patch stays on the
 *   cornea), the texture must stand still at the fitted limbus (iris/pad/limbus-anchor.ts: a ring over
 *   the iris's outer edge moves the fit inwards), and the frames must pass the presentation-attack
 *   detector.
 * signing: the envelope (its counter was reserved with the nonce), signed by the iris-code key, with the
 *   reference frame's pixels as evidence; queued: written durably to the outbox, which delivers it.
 */
import type { DeviceKeys } from '../hsm/provisioning.ts';
import { encodeGreyPng } from '../iris/image-input.ts';
import { PATCH_REASONS, type PadAssessment, type PadDetector } from '../iris/pad/detector.ts';
import { LIMBUS_DRIFT_LIMIT, LIMBUS_MISFIT_REASON, limbusAnchored } from '../iris/pad/limbus-anchor.ts';
import {
  FIXED_TEXTURE_REASON,
  type MotionFrame,
  movesWithPupil,
  textureMotion,
} from '../iris/pad/texture-motion.ts';
import type { EncodedEye, IrisPipeline, MeasuredFrameStages } from '../iris/pipeline.ts';
import { assertUsableBits } from '../iris/quality.ts';
import type { GreyImage } from '../iris/types.ts';
import { toHex } from '../protocol/bytes.ts';
import { framePixelsSha256, frameSigningBytes } from '../protocol/device-messages.ts';
import { type ErrorCode, IrisgateError } from '../protocol/errors.ts';
import { usableBits } from '../protocol/iris-code-layout.ts';
import {
  CAPTURE_MS,
  checkCapturedReflex,
  measuredReflexFrames,
  stimulusSchedule,
  UNMEASURED_PUPIL_PX,
} from '../protocol/pupil-reflex.ts';
import {
  type EyeSide,
  LIVE_SCORE,
  type LivenessFrame,
  type SignupEnvelope,
  signupDigest,
  signupEnvelopeToJson,
  signupSigningBytes,
} from '../protocol/signup-envelope.ts';
import type { BackendClient } from './backend-client.ts';
import type { CameraSource, CaptureStimulus } from './camera/camera-source.ts';
import { nextCounter } from './device-counter.ts';
import type { FrameMeasurement } from './frame-measurement.ts';
import { parseIdentityQrPayload, readIdentityQr } from './identity-qr.ts';
import type { IrLed } from './ir-led.ts';
import type { Outbox } from './outbox.ts';
import { fuseIrisCodes } from './template-fusion.ts';

export const SESSION_STATES = [
  'reading_identity',
  'authenticating',
  'fetching_nonce',
  'capturing',
  'fusing',
  'checking_liveness',
  'signing',
  'queued',
  'failed',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** The transitions a session may take; anything else is a bug and throws. */
const NEXT: Record<SessionState, readonly SessionState[]> = {
  reading_identity: ['authenticating'],
  authenticating: ['fetching_nonce'],
  fetching_nonce: ['capturing'],
  capturing: ['fusing'],
  fusing: ['checking_liveness'],
  checking_liveness: ['signing'],
  signing: ['queued'],
  queued: [],
  failed: [],
};

export interface CaptureOptions {
  /** Which eye the camera films (default left). */
  eye: EyeSide;
  /** Frames from the first one to this (default CAPTURE_MS: the stimulus and the last recovery). */
  captureMs: number;
  /** Frames fused into the template (default 3). */
  fusedFrames: number;
  /** How long to look for the user's QR code (default 30 s). */
  identityTimeoutMs: number;
}

export const DEFAULT_CAPTURE_OPTIONS: CaptureOptions = {
  eye: 'left',
  captureMs: CAPTURE_MS,
  fusedFrames: 3,
  identityTimeoutMs: 30_000,
};

export interface DeviceContext {
  deviceId: string;
  keys: DeviceKeys;
  client: BackendClient;
  camera: CameraSource;
  led: IrLed;
  pipeline: IrisPipeline;
  pad: PadDetector;
  /** device/frame-measurement.ts measureCaptureFrame, in the agent's measurement threads. */
  measureFrame(image: GreyImage): Promise<FrameMeasurement>;
  outbox: Outbox;
  /** Where the counter lives. */
  stateDir: string;
  models: SignupEnvelope['models'];
  softwareVersion: string;
  options: CaptureOptions;
}

export interface SessionEvent {
  state: SessionState;
  detail?: string;
  /** While capturing: frames so far, and how far into the capture window the last one is. */
  frames?: { captured: number; elapsedMs: number; captureMs: number };
}

export type SessionResult =
  | {
      ok: true;
      /** SHA-256 of the signed bytes, hex: the outbox id and the backend's idempotency key. */
      digest: string;
      commitment: bigint;
      /** ms from the last captured frame's arrival in the capture loop to the signup durably in the outbox. */
      lastFrameToQueuedMs: number;
      /**
       * ms from the last frame's capture (its timestamp) to the signup in the outbox: what the person waits
       * for, including frames still queued when the loop falls behind the camera.
       */
      lastCaptureToQueuedMs: number;
      /** Where that time went, ms: the last frame, fusion, liveness, counter and signature, outbox. */
      afterLastFrameMs: {
        lastFrame: number;
        fusion: number;
        liveness: number;
        signing: number;
        queueing: number;
      };
      frames: number;
      liveness: number;
    }
  | { ok: false; state: SessionState; code: ErrorCode; message: string };

interface Candidate {
  key: number;
  sequence: number;
  image: GreyImage;
  eye: EncodedEye;
  pad: PadAssessment;
}

/**
 * The detector's score on the policy's scale: its operating threshold maps to LIVE_SCORE (0.5), 0 and 1 stay
 * where they are, linear on each side.
 */
export function calibratedLiveness(score: number, threshold: number): number {
  return score < threshold
    ? (LIVE_SCORE * score) / threshold
    : LIVE_SCORE + ((1 - LIVE_SCORE) * (score - threshold)) / (1 - threshold);
}

/**
 * The best frames' verdicts as one: the median calibrated score (frames of one session are alike, so one
 * odd frame does not decide), live when it reaches LIVE_SCORE, the score the backend asks for, so the
 * device never queues a signup the backend will refuse on it. A patch seen in any frame is one too many.
 */
export function padLiveness(
  verdicts: readonly PadAssessment[],
  threshold: number,
): { live: boolean; score: number; patchFraction: number; reasons: string[] } {
  const scores = verdicts.map((v) => calibratedLiveness(v.score, threshold)).sort((a, b) => a - b);
  const middle = scores.length >> 1;
  const score =
    scores.length % 2 === 1
      ? (scores[middle] as number)
      : ((scores[middle - 1] as number) + (scores[middle] as number)) / 2;
  const patched = verdicts.some((v) => v.reasons.some((r) => PATCH_REASONS.includes(r)));
  return {
    live: score >= LIVE_SCORE && !patched,
    score,
    patchFraction: Math.max(...verdicts.map((v) => v.patchFraction)),
    reasons: [...new Set(verdicts.filter((v) => !v.live).flatMap((v) => v.reasons))],
  };
}

/** The share of a capture's frames whose pupil must be measured (the rest: blinks, the eye moving). */
const MIN_MEASURED_SHARE = 0.8;

/** How much better (visible iris x sharpness) a frame must be than the worst best frame to replace it. */
const CANDIDATE_MARGIN = 1.02;

const fail = (code: ErrorCode, message: string) => new IrisgateError(code, message);

/** The pipeline's refusal code that stopped most frames (what the operator should fix), or no_eye_found. */
function commonestRefusal(refusals: Map<ErrorCode, number>): ErrorCode {
  let best: ErrorCode = 'no_eye_found';
  let count = 0;
  for (const [code, n] of refusals) if (n > count) [best, count] = [code, n];
  return best;
}

export async function runCaptureSession(
  context: DeviceContext,
  {
    identityQr,
    onEvent,
    signal,
  }: {
    identityQr?: string;
    onEvent?: (event: SessionEvent) => void;
    /**
     * Stops waiting for the user's QR code (the session ends `cancelled`). Once someone is identified the
     * session runs to its end: a capture stopped halfway would only waste their time and the nonce.
     */
    signal?: AbortSignal;
  } = {},
): Promise<SessionResult> {
  let state: SessionState = 'reading_identity';
  const enter = (next: SessionState, detail?: string) => {
    if (!NEXT[state].includes(next)) throw new Error(`capture session: ${state} -> ${next} is not allowed`);
    state = next;
    onEvent?.({ state, detail });
  };
  onEvent?.({ state });
  const { camera, led } = context;
  try {
    const commitment = identityQr ? parseIdentityQrPayload(identityQr) : await readIdentity(context, signal);
    enter('authenticating', `identity commitment ${commitment.toString().slice(0, 12)}…`);
    await context.client.authenticate();
    enter('fetching_nonce');
    // The counter is reserved now, durably, so the write is off the path from the last frame to the signup.
    const [{ nonce }, counter] = await Promise.all([
      context.client.sessionNonce(),
      nextCounter(context.stateDir),
    ]);
    enter('capturing', `stimulus from nonce ${toHex(nonce).slice(0, 12)}…`);
    const capture = await captureFrames(context, nonce, (captured, elapsedMs) =>
      onEvent?.({ state, frames: { captured, elapsedMs, captureMs: context.options.captureMs } }),
    ).finally(() => {
      led.stop();
      camera.setStimulus?.(undefined);
    });
    const marks = [capture.lastFrameArrivedAt, performance.now()];
    enter('fusing', `${capture.candidates.length} frames`);
    const fused = fuseIrisCodes(capture.candidates.map((c) => c.eye.code));
    assertUsableBits(usableBits(fused.code));
    marks.push(performance.now());
    enter('checking_liveness');
    const liveness = checkLiveness(context, capture);
    marks.push(performance.now());
    enter('signing');
    const reference = capture.candidates[fused.reference] as Candidate;
    const envelope: SignupEnvelope = {
      version: 1,
      deviceId: context.deviceId,
      sessionNonce: nonce,
      counter,
      deviceTimeMs: Date.now(),
      identityCommitment: commitment,
      eyes: [{ side: context.options.eye, template: fused.code }],
      liveness: {
        scores: liveness.scores,
        stimulus: capture.stimulus.schedule.map((p) => ({
          ...p,
          startMs: capture.stimulus.startAtMs + p.startMs,
        })),
        frames: capture.frames,
      },
      models: context.models,
      softwareVersion: context.softwareVersion,
    };
    const signingBytes = signupSigningBytes(envelope);
    const [signature, png] = await Promise.all([
      context.keys.irisCode.sign(signingBytes),
      encodeGreyPng(reference.image),
    ]);
    const digest = toHex(signupDigest(signingBytes));
    marks.push(performance.now());
    await context.outbox.put(digest, {
      envelope: signupEnvelopeToJson(envelope),
      signature: toHex(signature),
      evidence: { frames: [{ sequence: reference.sequence, png: png.toString('base64') }] },
    });
    marks.push(performance.now());
    enter('queued', `signup ${digest.slice(0, 12)}… in the outbox`);
    const step = (i: number) => (marks[i + 1] as number) - (marks[i] as number);
    return {
      ok: true,
      digest,
      commitment,
      lastFrameToQueuedMs: (marks.at(-1) as number) - capture.lastFrameArrivedAt,
      lastCaptureToQueuedMs: Date.now() - (capture.frames.at(-1)?.capturedAtMs ?? 0),
      afterLastFrameMs: {
        lastFrame: step(0),
        fusion: step(1),
        liveness: step(2),
        signing: step(3),
        queueing: step(4),
      },
      frames: capture.frames.length,
      liveness: liveness.scores.liveness as number,
    };
  } catch (error) {
    const known =
      error instanceof IrisgateError
        ? error
        : signal?.aborted
          ? fail('cancelled', 'the session was cancelled')
          : fail('internal_error', error instanceof Error ? error.message : String(error));
    const failedIn = state;
    state = 'failed';
    onEvent?.({ state, detail: `${known.code}: ${known.message}` });
    return { ok: false, state: failedIn, code: known.code, message: known.message };
  }
}

async function readIdentity(context: DeviceContext, signal?: AbortSignal): Promise<bigint> {
  const deadline = Date.now() + context.options.identityTimeoutMs;
  for await (const frame of context.camera.frames()) {
    signal?.throwIfAborted();
    const commitment = readIdentityQr(frame.image);
    if (commitment !== undefined) return commitment;
    if (Date.now() > deadline) break;
  }
  throw fail(
    'identity_qr_not_found',
    `no identity QR code seen in ${context.options.identityTimeoutMs / 1000} s: ask the user to show the wallet's code`,
  );
}

interface Capture {
  stimulus: CaptureStimulus;
  frames: LivenessFrame[];
  candidates: Candidate[];
  /** The measured frames with the widest and the narrowest pupil (the texture-motion check's pair). */
  widest: MotionFrame;
  narrowest: MotionFrame;
  lastFrameArrivedAt: number;
}

async function captureFrames(
  context: DeviceContext,
  nonce: Uint8Array,
  onFrame: (captured: number, elapsedMs: number) => void,
): Promise<Capture> {
  const { camera, led, keys, pipeline, pad, options } = context;
  const schedule = stimulusSchedule(nonce);
  const frames: LivenessFrame[] = [];
  const candidates: Candidate[] = [];
  const refusals = new Map<ErrorCode, number>();
  let stimulus: CaptureStimulus | undefined;
  let previous: Uint8Array = new Uint8Array(32);
  let lastFrameArrivedAt = 0;
  let widest: MotionFrame | undefined;
  let narrowest: MotionFrame | undefined;
  const refuse = (code: ErrorCode) => refusals.set(code, (refusals.get(code) ?? 0) + 1);
  /** Encodes and judges a frame that makes the best `fusedFrames` (one at a time, in `judging`). */
  const considerCandidate = async (image: GreyImage, sequence: number, stages: MeasuredFrameStages) => {
    const key = stages.quality.occlusion90 * stages.quality.sharpness;
    const worst = candidates.at(-1);
    // Frames of one capture differ little; a frame must be clearly better to be encoded and replace one.
    if (candidates.length >= options.fusedFrames && !(worst && key > worst.key * CANDIDATE_MARGIN)) return;
    try {
      const eye = await pipeline.encodeMeasured(stages);
      const verdict = await pad.assessMeasured(image, eye);
      candidates.push({ key, sequence, image, eye, pad: verdict });
      candidates.sort((a, b) => b.key - a.key);
      candidates.length = Math.min(candidates.length, options.fusedFrames);
    } catch (error) {
      if (!(error instanceof IrisgateError)) throw error;
      refuse(error.code);
    }
  };
  // Frames are measured in the measurement threads while the loop signs the next ones; the best are
  // encoded and judged here as their measurements come back.
  const measurements: Promise<void>[] = [];
  let judging = Promise.resolve();
  for await (const frame of camera.frames()) {
    const arrivedAt = performance.now();
    if (!stimulus) {
      stimulus = { schedule, startAtMs: frame.capturedAtMs };
      led.play(stimulus);
      camera.setStimulus?.(stimulus);
    }
    const tMs = frame.capturedAtMs - stimulus.startAtMs;
    lastFrameArrivedAt = arrivedAt;
    const sequence = frames.length;
    const sha256 = framePixelsSha256(frame.image);
    const signature = await keys.attestation.sign(
      frameSigningBytes({
        deviceId: context.deviceId,
        sessionNonce: nonce,
        sequence,
        capturedAtMs: frame.capturedAtMs,
        frameSha256: sha256,
        previousFrameSha256: previous,
      }),
    );
    previous = sha256;
    // A blink, or the eye moved: the frame stays in the signed chain with no pupil measured.
    const entry: LivenessFrame = {
      sequence,
      capturedAtMs: frame.capturedAtMs,
      sha256,
      signature,
      pupilRadiusPx: UNMEASURED_PUPIL_PX,
    };
    frames.push(entry);
    measurements.push(
      context.measureFrame(frame.image).then((measurement) => {
        entry.pupilRadiusPx = measurement.pupilRadiusPx;
        if ('refused' in measurement) {
          refuse(measurement.refused);
          return;
        }
        const measured = { image: frame.image, segmentation: measurement.stages.segmentation };
        if (!widest || measured.segmentation.pupil.r > widest.segmentation.pupil.r) widest = measured;
        if (!narrowest || measured.segmentation.pupil.r < narrowest.segmentation.pupil.r)
          narrowest = measured;
        judging = judging.then(() => considerCandidate(frame.image, sequence, measurement.stages));
      }),
    );
    onFrame(frames.length, tMs);
    // The first frame at or past the end of the window is the last: no waiting for one more.
    if (tMs >= options.captureMs) break;
  }
  await Promise.all(measurements);
  await judging;
  if (!stimulus || frames.length === 0)
    throw fail('camera_unavailable', `${camera.description} gave no frames`);
  const spanMs = (frames.at(-1)?.capturedAtMs ?? 0) - stimulus.startAtMs;
  if (spanMs < options.captureMs - 1000 / 3) {
    throw fail(
      'camera_unavailable',
      `${camera.description} stopped after ${spanMs} ms of the ${options.captureMs} ms capture`,
    );
  }
  const measured = measuredReflexFrames(frames).length;
  if (measured < MIN_MEASURED_SHARE * frames.length) {
    const code = commonestRefusal(refusals);
    throw fail(
      code,
      `the eye was lost in ${frames.length - measured} of ${frames.length} frames (mostly ${code}): keep still and look at the device`,
    );
  }
  if (candidates.length < options.fusedFrames || !widest || !narrowest) {
    const code = commonestRefusal(refusals);
    throw fail(
      code,
      `only ${candidates.length} of ${frames.length} frames passed the quality gates (mostly ${code})`,
    );
  }
  return { stimulus, frames, candidates, widest, narrowest, lastFrameArrivedAt };
}

function checkLiveness(context: DeviceContext, capture: Capture): { scores: Record<string, number> } {
  const reflex = checkCapturedReflex(capture.stimulus.schedule, capture.frames);
  if (!reflex.live) {
    throw fail('liveness_failed', `the pupil does not answer the IR stimulus (${reflex.reasons.join(', ')})`);
  }
  const motion = textureMotion(capture.widest, capture.narrowest);
  if (!movesWithPupil(motion)) {
    throw fail(
      'liveness_failed',
      `${(100 * motion.fixedShare).toFixed(0)}% of the iris texture, ${motion.fixedPiece} neighbouring blocks of it in one piece, stays on the cornea while the pupil moves (${FIXED_TEXTURE_REASON}: a textured lens or a patch)`,
    );
  }
  if (!limbusAnchored(motion)) {
    const evidence =
      motion.limbusDrift >= LIMBUS_DRIFT_LIMIT
        ? `the two frames' limbus radii differ by ${(100 * motion.limbusDrift).toFixed(0)}%`
        : `the texture at it moved ${motion.edgeMotionPx.toFixed(1)} px with the pupil`;
    throw fail(
      'liveness_failed',
      `the fitted limbus is not where the iris is anchored: ${evidence} (${LIMBUS_MISFIT_REASON}: something over the iris's outer edge)`,
    );
  }
  const verdicts = capture.candidates.map((c) => c.pad);
  const pad = padLiveness(verdicts, context.pad.threshold);
  if (!pad.live) {
    const refused = verdicts.filter((v) => !v.live).length;
    throw fail(
      'liveness_failed',
      `${refused} of ${verdicts.length} best frames look like an attack (score ${pad.score.toFixed(2)}: ${pad.reasons.join(', ')})`,
    );
  }
  return {
    scores: {
      liveness: pad.score,
      patch_fraction: pad.patchFraction,
      reflex_amplitude: reflex.fit.amplitude,
      texture_fixed: motion.fixedShare,
      // 0 when the pupil moved too little for texture_fixed to measure anything (it then passes unmeasured):
      // a policy may require a minimum, at the price of the live eyes whose pupil hardly moves.
      texture_decidable: motion.decidableShare,
    },
  };
}
