/**
 * The signup envelope: everything a device asserts about one enrolment, signed with its iris-code key.
 *
 * On the wire it is JSON, `{ "envelope": {...}, "signature": "<128 hex>" }`. What is signed is never that
 * text: it is `signupSigningBytes(envelope)`, the canonical encoding (protocol/canonical.ts) of the parsed
 * meaning, in this order after the domain "irisgate/signup/v1":
 *
 *   u8 version (1) | string deviceId | bytes sessionNonce (32) | u64 counter | u64 deviceTimeMs
 *   | bytes identityCommitment (32, big-endian field element)
 *   | list eyes, sorted left then right: string side, bytes packed template (4,096: code then mask)
 *   | liveness: list scores sorted by name (string name, f64 value)
 *              list stimulus pulses (u64 startMs, u32 durationMs, f64 level)
 *              list frames in sequence order (u32 sequence, u64 capturedAtMs, bytes sha256 (32),
 *                                              bytes signature (64), f64 pupilRadiusPx)
 *   | list models sorted by name (string name, bytes sha256 (32)) | string softwareVersion
 *
 * Parsing is strict and bounded: every violation is IrisgateError('malformed_envelope') naming the field.
 */
import { createHash } from 'node:crypto';
import { bigIntToBytes, fromHex } from './bytes.ts';
import { canonicalMessage } from './canonical.ts';
import { IrisgateError } from './errors.ts';
import type { IrisCode } from './iris-code-layout.ts';
import {
  decodeIrisTemplate,
  encodeIrisTemplate,
  packedTemplateBytes,
  type WireTemplate,
} from './iris-template.ts';

export const SIGNUP_ENVELOPE_VERSION = 1;
export const SIGNUP_DOMAIN = 'irisgate/signup/v1';
/** The BN254 scalar field order: Semaphore identity commitments are elements of this field. */
export const SNARK_SCALAR_FIELD =
  21888242871839275222246405745257275088548364400416034343698204186575808495617n;

export const SIGNUP_LIMITS = {
  maxFrames: 256,
  maxStimulusPulses: 64,
  maxScores: 16,
  maxModels: 16,
  maxNameLength: 64,
  maxSoftwareVersionLength: 64,
} as const;

export type EyeSide = 'left' | 'right';

export interface LivenessFrame {
  sequence: number;
  capturedAtMs: number;
  /** SHA-256 of the frame's pixels, 32 bytes. */
  sha256: Uint8Array;
  /** The attestation key's signature over the frame statement (see frameSigningBytes), 64 bytes r||s. */
  signature: Uint8Array;
  /** The device's measurement; 0 (UNMEASURED_PUPIL_PX) where it saw no pupil (a blink). */
  pupilRadiusPx: number;
}

/**
 * The `liveness` score at which a presentation is judged live: the backend's default minimum, and where the
 * device's calibrated scale puts its detector's operating threshold, so both judge a capture alike.
 */
export const LIVE_SCORE = 0.5;

export interface SignupEnvelope {
  version: typeof SIGNUP_ENVELOPE_VERSION;
  deviceId: string;
  sessionNonce: Uint8Array;
  counter: number;
  deviceTimeMs: number;
  identityCommitment: bigint;
  eyes: { side: EyeSide; template: IrisCode }[];
  liveness: {
    scores: Record<string, number>;
    stimulus: { startMs: number; durationMs: number; level: number }[];
    frames: LivenessFrame[];
  };
  models: { name: string; sha256: Uint8Array }[];
  softwareVersion: string;
}

export interface SignedSignup {
  envelope: SignupEnvelope;
  signature: Uint8Array;
}

function malformed(path: string, why: string): IrisgateError {
  return new IrisgateError('malformed_envelope', `${path}: ${why}`);
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string, keys: readonly string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed(path, 'must be an object');
  const unknown = Object.keys(value).filter((key) => !keys.includes(key));
  if (unknown.length > 0) throw malformed(path, `unknown field ${unknown.join(', ')}`);
  return value as Json;
}

function array(value: unknown, path: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) throw malformed(path, 'must be an array');
  if (value.length < min || value.length > max) throw malformed(path, `must hold ${min} to ${max} items`);
  return value;
}

function integer(value: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw malformed(path, `must be an integer in [0, ${max}]`);
  }
  return value;
}

function finite(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw malformed(path, 'must be a finite number');
  return value;
}

function text(value: unknown, path: string, pattern: RegExp, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || !pattern.test(value)) {
    throw malformed(path, `must be 1-${max} characters matching ${pattern}`);
  }
  return value;
}

const HEX = /^[0-9a-f]*$/;

function hexBytes(value: unknown, path: string, length: number): Uint8Array {
  if (typeof value !== 'string' || value.length !== 2 * length || !HEX.test(value)) {
    throw malformed(path, `must be ${length} bytes as ${2 * length} lower-case hex digits`);
  }
  return fromHex(value);
}

const NAME = /^[a-z][a-z0-9._-]*$/;
const DEVICE_ID = /^[A-Za-z0-9._-]+$/;
const SOFTWARE_VERSION = /^[0-9A-Za-z.+-]+$/;

function commitment(value: unknown, path: string): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,76})$/.test(value)) {
    throw malformed(path, 'must be a decimal field element without leading zeros');
  }
  const parsed = BigInt(value);
  if (parsed === 0n || parsed >= SNARK_SCALAR_FIELD) throw malformed(path, 'must be in [1, field order)');
  return parsed;
}

function eyes(value: unknown): SignupEnvelope['eyes'] {
  const parsed = array(value, 'eyes', 1, 2).map((item, i) => {
    const eye = object(item, `eyes[${i}]`, ['side', 'template']);
    if (eye.side !== 'left' && eye.side !== 'right')
      throw malformed(`eyes[${i}].side`, 'must be "left" or "right"');
    try {
      return { side: eye.side as EyeSide, template: decodeIrisTemplate(eye.template) };
    } catch (error) {
      throw malformed(`eyes[${i}].template`, (error as Error).message);
    }
  });
  if (parsed.length === 2 && parsed[0]?.side === parsed[1]?.side)
    throw malformed('eyes', 'the two eyes must differ');
  return parsed.sort((a, b) => a.side.localeCompare(b.side));
}

function liveness(value: unknown): SignupEnvelope['liveness'] {
  const json = object(value, 'liveness', ['scores', 'stimulus', 'frames']);
  const scoresJson = object(json.scores, 'liveness.scores', Object.keys(json.scores ?? {}));
  const scoreNames = Object.keys(scoresJson);
  if (scoreNames.length > SIGNUP_LIMITS.maxScores) throw malformed('liveness.scores', 'too many scores');
  const scores: Record<string, number> = {};
  for (const name of scoreNames) {
    text(name, 'liveness.scores (name)', NAME, SIGNUP_LIMITS.maxNameLength);
    scores[name] = finite(scoresJson[name], `liveness.scores.${name}`);
  }
  const stimulus = array(json.stimulus, 'liveness.stimulus', 0, SIGNUP_LIMITS.maxStimulusPulses).map(
    (item, i) => {
      const pulse = object(item, `liveness.stimulus[${i}]`, ['startMs', 'durationMs', 'level']);
      return {
        startMs: integer(pulse.startMs, `liveness.stimulus[${i}].startMs`),
        durationMs: integer(pulse.durationMs, `liveness.stimulus[${i}].durationMs`, 0xffff_ffff),
        level: finite(pulse.level, `liveness.stimulus[${i}].level`),
      };
    },
  );
  const frames = array(json.frames, 'liveness.frames', 0, SIGNUP_LIMITS.maxFrames).map((item, i) => {
    const path = `liveness.frames[${i}]`;
    const frame = object(item, path, ['sequence', 'capturedAtMs', 'sha256', 'signature', 'pupilRadiusPx']);
    const sequence = integer(frame.sequence, `${path}.sequence`, 0xffff_ffff);
    if (sequence !== i)
      throw malformed(`${path}.sequence`, `must be ${i}: frames are listed in capture order from 0`);
    return {
      sequence,
      capturedAtMs: integer(frame.capturedAtMs, `${path}.capturedAtMs`),
      sha256: hexBytes(frame.sha256, `${path}.sha256`, 32),
      signature: hexBytes(frame.signature, `${path}.signature`, 64),
      pupilRadiusPx: finite(frame.pupilRadiusPx, `${path}.pupilRadiusPx`),
    };
  });
  return { scores, stimulus, frames };
}

function models(value: unknown): SignupEnvelope['models'] {
  const parsed = array(value, 'models', 1, SIGNUP_LIMITS.maxModels).map((item, i) => {
    const model = object(item, `models[${i}]`, ['name', 'sha256']);
    return {
      name: text(model.name, `models[${i}].name`, NAME, SIGNUP_LIMITS.maxNameLength),
      sha256: hexBytes(model.sha256, `models[${i}].sha256`, 32),
    };
  });
  const names = parsed.map((m) => m.name);
  if (new Set(names).size !== names.length) throw malformed('models', 'a model is listed twice');
  return parsed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Parses and validates the envelope part of a signup (the JSON object under "envelope"). */
export function parseSignupEnvelope(json: unknown): SignupEnvelope {
  const envelope = object(json, 'envelope', [
    'version',
    'deviceId',
    'sessionNonce',
    'counter',
    'deviceTimeMs',
    'identityCommitment',
    'eyes',
    'liveness',
    'models',
    'softwareVersion',
  ]);
  if (envelope.version !== SIGNUP_ENVELOPE_VERSION) {
    throw new IrisgateError(
      'unsupported_envelope_version',
      `envelope version ${String(envelope.version)}, expected 1`,
    );
  }
  return {
    version: SIGNUP_ENVELOPE_VERSION,
    deviceId: text(envelope.deviceId, 'deviceId', DEVICE_ID, 64),
    sessionNonce: hexBytes(envelope.sessionNonce, 'sessionNonce', 32),
    counter: integer(envelope.counter, 'counter'),
    deviceTimeMs: integer(envelope.deviceTimeMs, 'deviceTimeMs'),
    identityCommitment: commitment(envelope.identityCommitment, 'identityCommitment'),
    eyes: eyes(envelope.eyes),
    liveness: liveness(envelope.liveness),
    models: models(envelope.models),
    softwareVersion: text(envelope.softwareVersion, 'softwareVersion', SOFTWARE_VERSION, 64),
  };
}

/** Parses a whole signed signup: `{ envelope, signature }`. */
export function parseSignedSignup(json: unknown): SignedSignup {
  const signup = object(json, 'signup', ['envelope', 'signature']);
  return {
    envelope: parseSignupEnvelope(signup.envelope),
    signature: hexBytes(signup.signature, 'signature', 64),
  };
}

/** The bytes the iris-code key signs (see the layout in this module's comment). */
export function signupSigningBytes(envelope: SignupEnvelope): Uint8Array {
  const scoreNames = Object.keys(envelope.liveness.scores).sort();
  return canonicalMessage(SIGNUP_DOMAIN)
    .u8(envelope.version)
    .string(envelope.deviceId)
    .bytes(envelope.sessionNonce)
    .u64(envelope.counter)
    .u64(envelope.deviceTimeMs)
    .bytes(bigIntToBytes(envelope.identityCommitment, 32))
    .list(envelope.eyes, (w, eye) => w.string(eye.side).bytes(packedTemplateBytes(eye.template)))
    .list(scoreNames, (w, name) => w.string(name).f64(envelope.liveness.scores[name] as number))
    .list(envelope.liveness.stimulus, (w, p) => w.u64(p.startMs).u32(p.durationMs).f64(p.level))
    .list(envelope.liveness.frames, (w, f) =>
      w.u32(f.sequence).u64(f.capturedAtMs).bytes(f.sha256).bytes(f.signature).f64(f.pupilRadiusPx),
    )
    .list(envelope.models, (w, m) => w.string(m.name).bytes(m.sha256))
    .string(envelope.softwareVersion)
    .finish();
}

/**
 * The signup's identity for idempotency, receipts and the audit log: SHA-256 of its signing bytes
 * (signupSigningBytes, passed in because whoever needs the digest has just signed or verified them).
 */
export function signupDigest(signingBytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(signingBytes).digest());
}

/** The JSON form of an envelope, as a device sends it. parseSignupEnvelope(toJson(e)) gives e back. */
export function signupEnvelopeToJson(envelope: SignupEnvelope): Record<string, unknown> {
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  return {
    version: envelope.version,
    deviceId: envelope.deviceId,
    sessionNonce: hex(envelope.sessionNonce),
    counter: envelope.counter,
    deviceTimeMs: envelope.deviceTimeMs,
    identityCommitment: envelope.identityCommitment.toString(),
    eyes: envelope.eyes.map((eye): { side: EyeSide; template: WireTemplate } => ({
      side: eye.side,
      template: encodeIrisTemplate(eye.template),
    })),
    liveness: {
      scores: envelope.liveness.scores,
      stimulus: envelope.liveness.stimulus,
      frames: envelope.liveness.frames.map((f) => ({
        ...f,
        sha256: hex(f.sha256),
        signature: hex(f.signature),
      })),
    },
    models: envelope.models.map((m) => ({ name: m.name, sha256: hex(m.sha256) })),
    softwareVersion: envelope.softwareVersion,
  };
}
