/**
 * Backend test harness: a whole backend (openBackend) on a test database, a manufacturer CA it trusts,
 * and devices that talk to it the way the device agent will: challenge, token, session nonce, a signup
 * envelope with chained frame signatures (attestation key) signed with the iris-code key, and the frame
 * evidence: the frames are deterministic noise images whose framePixelsSha256 the device signs, and the
 * last one travels as a PNG beside the envelope.
 *
 * Iris templates here are synthetic bit strings: a "person" is a random code with a mask; capturing the
 * person again flips a fraction of the bits (genuine raw FHD ~ that fraction), another person is ~0.5 away.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_TOKEN_FILE } from '../../backend/backend-secrets.ts';
import {
  type Backend,
  type BackendConfigOverrides,
  backendConfig,
  openBackend,
} from '../../backend/service.ts';
import { shippedModels } from '../../backend/signup-policy.ts';
import type { Pkcs11TemplateKeyConfig } from '../../backend/template-key.ts';
import { createManufacturerCa, type ManufacturerCa } from '../../hsm/manufacturer-ca.ts';
import type { Pkcs11TokenConfig } from '../../hsm/pkcs11-signer.ts';
import { type DeviceKeys, openDeviceKeys, provisionDevice } from '../../hsm/provisioning.ts';
import { encodeGreyPng } from '../../iris/image-input.ts';
import { seededUint32 } from '../../iris/seeded-random.ts';
import { fromHex, toHex } from '../../protocol/bytes.ts';
import {
  deviceAuthSigningBytes,
  framePixelsSha256,
  frameSigningBytes,
  type GreyFrame,
} from '../../protocol/device-messages.ts';
import { CODE_BITS, type IrisCode } from '../../protocol/iris-code-layout.ts';
import {
  CAPTURE_MS,
  livePupilRadius,
  type StimulusPulse,
  stimulusSchedule,
} from '../../protocol/pupil-reflex.ts';
import {
  type EyeSide,
  type SignupEnvelope,
  signupEnvelopeToJson,
  signupSigningBytes,
} from '../../protocol/signup-envelope.ts';
import { SOFTWARE_VERSION } from '../../protocol/software-version.ts';
import { type DatabaseTarget, testDatabaseLocation } from './databases.ts';

export const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `irisgate-${name}-`));

/** Frames of a test capture: every 100 ms over the whole stimulus window (41). */
const FRAME_INTERVAL_MS = 100;
const FRAMES = CAPTURE_MS / FRAME_INTERVAL_MS + 1;

/** The size of test frames unless a signup asks for another: small, so a signup stays small. */
export const TEST_FRAME_SIZE: { width: number; height: number } = { width: 32, height: 24 };

/** A frame's pixels: deterministic noise from `seed` (noise: its PNG hardly compresses, like a real sensor's). */
export function testFramePixels(seed: string, { width, height } = TEST_FRAME_SIZE): GreyFrame {
  const next = seededUint32(createHash('sha256').update(seed).digest().readUInt32BE(0));
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i += 4) {
    const value = next();
    for (let j = 0; j < 4 && i + j < data.length; j++) data[i + j] = (value >>> (8 * j)) & 0xff;
  }
  return { width, height, data };
}

/** A frame of the signed envelope with the pixels its sha256 was computed from. */
export interface CapturedFrame {
  sequence: number;
  image: GreyFrame;
}

export interface EvidenceJson {
  frames: { sequence: number; png: string }[];
}

/** A signup request body: the signed envelope and the unsigned frame evidence (when sent). */
export interface SignupBody {
  envelope: Record<string, unknown>;
  signature: string;
  evidence?: EvidenceJson;
}

/** The evidence for `frames`: each as a base64 PNG under its sequence. */
export async function frameEvidence(frames: readonly CapturedFrame[]): Promise<EvidenceJson> {
  return {
    frames: await Promise.all(
      frames.map(async ({ sequence, image }) => ({
        sequence,
        png: (await encodeGreyPng(image)).toString('base64'),
      })),
    ),
  };
}

/** A living pupil (30 px, 20 % constriction per unit of stimulus, 250 ms latency), measured exactly. */
export const LIVE_PUPIL = (schedule: StimulusPulse[], tMs: number) =>
  livePupilRadius(schedule, tMs, { baselinePx: 30, amplitude: 0.2, latencyMs: 250 });

/** A synthetic person's eye: a random code, and a mask with a few occluded rows' worth of bits. */
export function syntheticEye(seed: number): IrisCode {
  const next = seededUint32(seed);
  const code = new Uint8Array(CODE_BITS);
  const mask = new Uint8Array(CODE_BITS);
  for (let i = 0; i < CODE_BITS; i++) {
    code[i] = next() & 1;
    mask[i] = next() % 10 === 0 ? 0 : 1;
  }
  return { code, mask };
}

/** The same eye captured again: `fraction` of its code bits flipped. */
export function recapture(eye: IrisCode, seed: number, fraction = 0.12): IrisCode {
  const next = seededUint32(seed);
  const code = Uint8Array.from(eye.code);
  for (let i = 0; i < CODE_BITS; i++) if (next() / 2 ** 32 < fraction) code[i] = (code[i] as number) ^ 1;
  return { code, mask: Uint8Array.from(eye.mask) };
}

export async function inject(
  backend: Backend,
  method: 'GET' | 'POST',
  url: string,
  { body, token }: { body?: unknown; token?: string } = {},
): Promise<LightMyRequestResponse> {
  return backend.app.inject({
    method,
    url,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

/** A device as the backend sees it: its keys and the protocol steps. */
export class TestDevice {
  counter = 0;

  constructor(
    readonly deviceId: string,
    readonly keys: DeviceKeys,
    readonly certificatePem: string,
  ) {}

  async authenticate(backend: Backend): Promise<string> {
    const challengeReply = await inject(backend, 'POST', `/v1/devices/${this.deviceId}/challenge`);
    if (challengeReply.statusCode !== 200) throw new Error(`challenge: ${challengeReply.body}`);
    const { audience, challenge, issuedAtMs } = challengeReply.json();
    const signature = await this.keys.attestation.sign(
      deviceAuthSigningBytes({
        audience,
        deviceId: this.deviceId,
        challenge: fromHex(challenge),
        issuedAtMs,
      }),
    );
    const reply = await inject(backend, 'POST', `/v1/devices/${this.deviceId}/token`, {
      body: { challenge, signature: toHex(signature) },
    });
    if (reply.statusCode !== 200) throw new Error(`token: ${reply.body}`);
    return reply.json().token;
  }

  async session(backend: Backend, token: string): Promise<Uint8Array> {
    const reply = await inject(backend, 'POST', '/v1/sessions', { token });
    if (reply.statusCode !== 200) throw new Error(`session: ${reply.body}`);
    return fromHex(reply.json().nonce);
  }

  /**
   * A complete, correctly signed envelope with its frame evidence (the last frame's PNG); `change` edits
   * the envelope after the frames are signed and before the envelope is, and `evidence` chooses what
   * evidence goes with it from the signed envelope's frames (undefined: none).
   */
  async signup(
    nonce: Uint8Array,
    eyes: { side: EyeSide; template: IrisCode }[],
    {
      commitment = BigInt(`0x${toHex(createHash('sha256').update(nonce).digest()).slice(0, 60)}`),
      now = Date.now(),
      frames = FRAMES,
      pupil = LIVE_PUPIL,
      change = (e: SignupEnvelope) => e,
      frameSize = TEST_FRAME_SIZE,
      evidence = (captured: CapturedFrame[]) => frameEvidence(captured.slice(-1)),
    }: {
      commitment?: bigint;
      now?: number;
      frames?: number;
      /** The pupil the frames show: a living one answering the stimulus by default. */
      pupil?: (schedule: StimulusPulse[], tMs: number) => number;
      change?: (e: SignupEnvelope) => SignupEnvelope;
      /** The frames' size in pixels. */
      frameSize?: { width: number; height: number };
      /**
       * The evidence to send, given the signed envelope's frames whose pixels this signup made, in envelope
       * order (after `change`: a frame it moved keeps its pixels, one it invented has none).
       */
      evidence?: (frames: CapturedFrame[]) => EvidenceJson | undefined | Promise<EvidenceJson | undefined>;
    } = {},
  ): Promise<SignupBody> {
    this.counter += 1;
    const frameList: SignupEnvelope['liveness']['frames'] = [];
    const pixels = new Map<string, GreyFrame>();
    const schedule = stimulusSchedule(nonce);
    const firstFrameMs = now - CAPTURE_MS - 100;
    let previous: Uint8Array = new Uint8Array(32);
    for (let sequence = 0; sequence < frames; sequence++) {
      const image = testFramePixels(`${this.deviceId}/${now}/${sequence}`, frameSize);
      const sha256 = framePixelsSha256(image);
      pixels.set(toHex(sha256), image);
      const capturedAtMs = firstFrameMs + FRAME_INTERVAL_MS * sequence;
      const signature = await this.keys.attestation.sign(
        frameSigningBytes({
          deviceId: this.deviceId,
          sessionNonce: nonce,
          sequence,
          capturedAtMs,
          frameSha256: sha256,
          previousFrameSha256: previous,
        }),
      );
      frameList.push({
        sequence,
        capturedAtMs,
        sha256,
        signature,
        pupilRadiusPx: pupil(schedule, capturedAtMs - firstFrameMs),
      });
      previous = sha256;
    }
    const envelope = change({
      version: 1,
      deviceId: this.deviceId,
      sessionNonce: nonce,
      counter: this.counter,
      deviceTimeMs: now,
      identityCommitment: commitment,
      eyes,
      liveness: {
        scores: { liveness: 0.97 },
        stimulus: schedule.map((pulse) => ({ ...pulse, startMs: firstFrameMs + pulse.startMs })),
        frames: frameList,
      },
      models: Object.entries(shippedModels()).map(([name, [sha256]]) => ({
        name,
        sha256: fromHex(sha256 as string),
      })),
      softwareVersion: SOFTWARE_VERSION,
    });
    const signature = await this.keys.irisCode.sign(signupSigningBytes(envelope));
    const captured = envelope.liveness.frames.flatMap(({ sequence, sha256 }) => {
      const image = pixels.get(toHex(sha256));
      return image ? [{ sequence, image }] : [];
    });
    const sent = await evidence(captured);
    return {
      envelope: signupEnvelopeToJson(envelope),
      signature: toHex(signature),
      ...(sent ? { evidence: sent } : {}),
    };
  }
}

export interface TestBackend {
  backend: Backend;
  ca: ManufacturerCa;
  adminToken: string;
  secretsDir: string;
  /** Provisions, registers and returns a device (development keys unless a PKCS#11 token is given). */
  device(options?: {
    token?: Pkcs11TokenConfig;
    pin?: string;
    deviceId?: string;
    register?: boolean;
  }): Promise<TestDevice>;
  /** Closes the backend and opens it again on the same database and secrets. */
  restart(): Promise<Backend>;
  close(): Promise<void>;
}

/**
 * Opens a backend on a fresh database of `target`, with a trusted development CA (a factory CA when
 * production); `close()` closes everything it opened and drops the database.
 */
export async function startTestBackend(
  target: DatabaseTarget,
  overrides: Partial<BackendConfigOverrides> = {},
  { clock, templateKeyToken }: { clock?: () => number; templateKeyToken?: Pkcs11TemplateKeyConfig } = {},
): Promise<TestBackend> {
  const open: { close(): Promise<void> }[] = [];
  const location = await testDatabaseLocation(target);
  open.push(location);
  const secretsDir = tempDir('backend-secrets');
  const config = backendConfig({ production: false, ...overrides });
  const ca = await createManufacturerCa(tempDir('backend-ca'), { development: !config.production });
  const openIt = async () => {
    const opened = await openBackend({
      database: location.location,
      secretsDir,
      config,
      clock,
      templateKeyToken,
    });
    open.push({ close: () => opened.close().catch(() => {}) });
    return opened;
  };
  let backend = await openIt();
  const adminToken = readFileSync(join(secretsDir, ADMIN_TOKEN_FILE), 'utf8').trim();
  const trust = await inject(backend, 'POST', '/v1/admin/cas', {
    token: adminToken,
    body: { certificate: ca.cert.toString('pem') },
  });
  if (trust.statusCode !== 200) throw new Error(`trust CA: ${trust.body}`);
  return {
    get backend() {
      return backend;
    },
    ca,
    adminToken,
    secretsDir,
    async device({ token, pin, deviceId, register = true } = {}) {
      const dir = tempDir('backend-device');
      const tokenConfig = token ?? { kind: 'development' as const };
      const { profile, certificate } = await provisionDevice({ dir, token: tokenConfig, pin, ca, deviceId });
      const keys = await openDeviceKeys(dir, profile, pin);
      open.push({ close: async () => keys.close() });
      const pem = certificate.toString('pem');
      if (register) {
        const reply = await inject(backend, 'POST', '/v1/admin/devices', {
          token: adminToken,
          body: { certificate: pem },
        });
        if (reply.statusCode !== 201) throw new Error(`register: ${reply.body}`);
      }
      return new TestDevice(profile.deviceId, keys, pem);
    },
    async restart() {
      await backend.close();
      backend = await openIt();
      return backend;
    },
    async close() {
      for (const item of open.splice(0).reverse()) await item.close();
    },
  };
}
