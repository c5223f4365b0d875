/**
 * The signup policy: what a correctly signed envelope must also satisfy before its person is even looked
 * for in the gallery. Every check here depends only on the envelope, the device's keys, the policy and the
 * clock; the stateful ones (nonce, counter, uniqueness) are in signup-gate.ts, and so is the check of the
 * unsigned frame evidence against the signed frame hashes (frame-evidence.ts, minEvidenceFrames here).
 */
import { readFileSync } from 'node:fs';
import { assertUsableBits } from '../iris/quality.ts';
import { toHex } from '../protocol/bytes.ts';
import { frameSigningBytes } from '../protocol/device-messages.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { usableBits } from '../protocol/iris-code-layout.ts';
import {
  CAPTURE_MS,
  checkCapturedReflex,
  measuredReflexFrames,
  stimulusSchedule,
} from '../protocol/pupil-reflex.ts';
import { type SignatureAlgorithm, verifySignature } from '../protocol/signature.ts';
import { LIVE_SCORE, type SignupEnvelope } from '../protocol/signup-envelope.ts';

export type VersionStatus = 'allowed' | 'deprecated' | 'blocked';

export interface SignupPolicy {
  /** How far the device's clock may be from the backend's. */
  maxClockSkewMs: number;
  /**
   * How late a signup signed in time may arrive (its nonce's issue to its delivery): the device's outbox
   * keeps signups through a backend outage. The nonce must still have been live when the device signed.
   */
  maxDeliveryDelayMs: number;
  /** Model name -> the sha256 (hex) values allowed for it. Every model named here must be listed. */
  models: Record<string, string[]>;
  softwareVersions: Record<string, VersionStatus>;
  /** The status of a version not listed in softwareVersions. */
  unknownSoftwareVersion: VersionStatus;
  /**
   * The fewest frames whose pixels a signup must send as evidence (backend/frame-evidence.ts). Checked by
   * the gate before the rest of the policy, and never stored as the signup's decision: the evidence is not
   * signed, so a refusal for it is the request's, and a resend with the right evidence is decided normally.
   */
  minEvidenceFrames: number;
  liveness: {
    minFrames: number;
    /** The frames must span at least this, first to last (the stimulus and the pupil's answer to it). */
    minReflexSpanMs: number;
    /** Score name -> the minimum value; each must be present. */
    minScores: Record<string, number>;
    /** The longest a capture may take, first frame to envelope. */
    maxCaptureMs: number;
  };
}

/** The models this checkout ships (models/manifest.json), allowed under their file names without .onnx. */
export function shippedModels(): Record<string, string[]> {
  const manifest = JSON.parse(readFileSync(new URL('../models/manifest.json', import.meta.url), 'utf8')) as {
    models: { file: string; sha256: string }[];
  };
  return Object.fromEntries(manifest.models.map((m) => [m.file.replace(/\.onnx$/, ''), [m.sha256]]));
}

export function defaultSignupPolicy(softwareVersion: string): SignupPolicy {
  return {
    maxClockSkewMs: 120_000,
    maxDeliveryDelayMs: 24 * 60 * 60 * 1000,
    models: shippedModels(),
    softwareVersions: { [softwareVersion]: 'allowed' },
    unknownSoftwareVersion: 'blocked',
    minEvidenceFrames: 1,
    liveness: {
      minFrames: 20,
      minReflexSpanMs: CAPTURE_MS - 500,
      minScores: { liveness: LIVE_SCORE },
      maxCaptureMs: 60_000,
    },
  };
}

export interface PolicyVerdict {
  /** Accepted but worth telling the operator (e.g. deprecated_software_version). */
  warnings: string[];
}

/**
 * Checks the envelope against the policy; throws the first failure as an IrisgateError. `frameSignatures`
 * is verifyFrameSignatures' answer for this envelope, started by the caller as early as it likes (the
 * verifications run on the thread pool while the caller does other work); it is judged last.
 */
export async function checkSignupPolicy(
  envelope: SignupEnvelope,
  policy: SignupPolicy,
  frameSignatures: Promise<void>,
  now: number,
): Promise<PolicyVerdict> {
  const warnings: string[] = [];
  // Signed in the future, or longer ago than any delivery may take (the nonce check is the precise one).
  const skew = envelope.deviceTimeMs - now;
  if (skew > policy.maxClockSkewMs || -skew > policy.maxDeliveryDelayMs + policy.maxClockSkewMs) {
    throw new IrisgateError('stale_timestamp', `device time is ${skew} ms from backend time`);
  }
  checkModels(envelope, policy.models);
  const status = policy.softwareVersions[envelope.softwareVersion] ?? policy.unknownSoftwareVersion;
  if (status === 'blocked') {
    throw new IrisgateError('blocked_version', `software version ${envelope.softwareVersion} is blocked`);
  }
  if (status === 'deprecated') warnings.push('deprecated_software_version');
  for (const eye of envelope.eyes) assertUsableBits(usableBits(eye.template));

  checkLivenessEvidence(envelope, policy.liveness);
  await frameSignatures;
  return { warnings };
}

function checkModels(envelope: SignupEnvelope, allowed: SignupPolicy['models']): void {
  for (const model of envelope.models) {
    if (!allowed[model.name]?.includes(toHex(model.sha256))) {
      throw new IrisgateError(
        'model_not_allowed',
        `model ${model.name} ${toHex(model.sha256)} is not allowed`,
      );
    }
  }
  const listed = new Set(envelope.models.map((m) => m.name));
  const missing = Object.keys(allowed).filter((name) => !listed.has(name));
  if (missing.length > 0)
    throw new IrisgateError('missing_model', `required models not listed: ${missing.join(', ')}`);
}

function checkLivenessEvidence(envelope: SignupEnvelope, policy: SignupPolicy['liveness']): void {
  const { frames, scores, stimulus } = envelope.liveness;
  const measured = measuredReflexFrames(frames);
  if (measured.length < policy.minFrames) {
    throw new IrisgateError(
      'insufficient_liveness_evidence',
      `${measured.length} frames with a measured pupil (of ${frames.length}), the policy needs at least ${policy.minFrames}`,
    );
  }
  if (measured.some((frame) => frame.pupilRadiusPx < 0)) {
    throw new IrisgateError('invalid_liveness_evidence', 'a pupil radius is negative');
  }
  for (const [name, min] of Object.entries(policy.minScores)) {
    const score = scores[name];
    if (score === undefined) throw new IrisgateError('insufficient_liveness_evidence', `no ${name} score`);
    if (score < min) throw new IrisgateError('liveness_failed', `${name} score is below ${min}`);
  }
  const first = frames[0]?.capturedAtMs ?? envelope.deviceTimeMs;
  const span = (frames.at(-1)?.capturedAtMs ?? first) - first;
  if (span < policy.minReflexSpanMs) {
    throw new IrisgateError(
      'insufficient_liveness_evidence',
      `the frames span ${span} ms, the pupil reflex needs ${policy.minReflexSpanMs}`,
    );
  }
  const invalid = (why: string) => new IrisgateError('invalid_liveness_evidence', why);
  if (envelope.deviceTimeMs - first > policy.maxCaptureMs) throw invalid('the capture took too long');
  for (const [i, frame] of frames.entries()) {
    if (frame.capturedAtMs > envelope.deviceTimeMs) throw invalid(`frame ${i} is later than the envelope`);
    if (i > 0 && frame.capturedAtMs < (frames[i - 1]?.capturedAtMs ?? 0)) {
      throw invalid(`frame ${i} was captured before frame ${i - 1}`);
    }
  }
  // The stimulus must be the one the session nonce commands, from the first frame on...
  const schedule = stimulusSchedule(envelope.sessionNonce);
  const commanded = schedule.map((pulse) => ({ ...pulse, startMs: first + pulse.startMs }));
  const sameStimulus =
    stimulus.length === commanded.length &&
    stimulus.every((pulse, i) => {
      const expected = commanded[i];
      return (
        expected !== undefined &&
        pulse.startMs === expected.startMs &&
        pulse.durationMs === expected.durationMs &&
        pulse.level === expected.level
      );
    });
  if (!sameStimulus) throw invalid('the stimulus is not the one the session nonce commands');
  // ...and the pupil must answer it as a living pupil does.
  const verdict = checkCapturedReflex(schedule, frames);
  if (!verdict.live) {
    throw new IrisgateError(
      'liveness_failed',
      `the pupil does not answer the stimulus: ${verdict.reasons.join(', ')}`,
    );
  }
}

/**
 * Every frame's signature (the device's attestation key) over its statement, chained to the previous
 * frame; verified concurrently. Rejects with invalid_frame_signature. The promise is marked handled, so a
 * caller that gives up on the signup early leaves no unhandled rejection behind.
 */
export function verifyFrameSignatures(
  envelope: SignupEnvelope,
  key: { algorithm: SignatureAlgorithm; publicKey: Uint8Array },
): Promise<void> {
  const verified = checkFrameSignatures(envelope, key);
  verified.catch(() => {});
  return verified;
}

async function checkFrameSignatures(
  envelope: SignupEnvelope,
  key: { algorithm: SignatureAlgorithm; publicKey: Uint8Array },
): Promise<void> {
  const zero = new Uint8Array(32);
  await Promise.all(
    envelope.liveness.frames.map(async (frame, i) => {
      const statement = frameSigningBytes({
        deviceId: envelope.deviceId,
        sessionNonce: envelope.sessionNonce,
        sequence: frame.sequence,
        capturedAtMs: frame.capturedAtMs,
        frameSha256: frame.sha256,
        previousFrameSha256: envelope.liveness.frames[i - 1]?.sha256 ?? zero,
      });
      try {
        await verifySignature(key.algorithm, key.publicKey, statement, frame.signature);
      } catch (cause) {
        throw new IrisgateError(
          'invalid_frame_signature',
          `frame ${frame.sequence}: ${(cause as Error).message}`,
          { cause },
        );
      }
    }),
  );
}
