/**
 * The capture session (device/capture-session.ts) of a real agent (development keys, the real iris
 * pipeline and presentation-attack models) against a real backend over HTTP, filmed by the synthetic
 * camera at 5 fps: the states of a live person's session in their documented order and the signed signup
 * it queues, checked piece by piece; then every way a session is refused (no QR code, a QR code that is not
 * an identity, a printed eye, an unregistered, unreachable or revoked device, a camera that stops, an
 * operator who cancels), each in the state the session had reached, with nothing queued (and no counter
 * reserved when it failed before asking for a nonce). One synthetic capture (about 8 s on a small machine)
 * is all this file affords; the other captures film still frames rendered once.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeviceAgent, openDeviceAgent } from '../../device/agent.ts';
import { loadAgentConfig } from '../../device/agent-config.ts';
import { BackendClient } from '../../device/backend-client.ts';
import type { CameraFrame, CameraSource } from '../../device/camera/camera-source.ts';
import { FolderReplayCamera } from '../../device/camera/replay-camera.ts';
import { SyntheticCamera } from '../../device/camera/synthetic-camera.ts';
import {
  calibratedLiveness,
  type DeviceContext,
  padLiveness,
  runCaptureSession,
  SESSION_STATES,
  type SessionEvent,
  type SessionResult,
} from '../../device/capture-session.ts';
import { identityQrPayload } from '../../device/identity-qr.ts';
import { syntheticVisit } from '../../device/synthetic-visit.ts';
import { openDeviceKeys, provisionDevice } from '../../hsm/provisioning.ts';
import type { ReflexPresentation } from '../../iris/attacks/reflex-capture.ts';
import { renderReflexFrame } from '../../iris/attacks/reflex-capture.ts';
import { matchIrisCodes } from '../../iris/matcher.ts';
import { FIXED_SHARE_LIMIT } from '../../iris/pad/texture-motion.ts';
import { identityOf, sessionOf, writeGreyPng } from '../../iris/synth/generate.ts';
import { hashSeed } from '../../iris/synth/random.ts';
import { toHex } from '../../protocol/bytes.ts';
import { framePixelsSha256, frameSigningBytes } from '../../protocol/device-messages.ts';
import { CAPTURE_MS, stimulusSchedule } from '../../protocol/pupil-reflex.ts';
import { verifySignature } from '../../protocol/signature.ts';
import { parseSignedSignup, signupDigest, signupSigningBytes } from '../../protocol/signup-envelope.ts';
import { inject, startTestBackend, type TestBackend, tempDir } from '../support/backend.ts';
import { failure } from '../support/device.ts';
import { closedPort } from '../support/network.ts';

const SEED = 'capture-session-test';
const IDENTITY_TIMEOUT_MS = 1500;
const COMMITMENT = 123_456_789_012_345_678_901_234_567_890n;

let h: TestBackend;
let backendUrl: string;
let deviceDir: string;
let stateDir: string;
let camera: SyntheticCamera;
let agent: DeviceAgent;

function eye(id: number, label: ReflexPresentation['label'] = 'live', session = 0): ReflexPresentation {
  const identity = identityOf(SEED, id);
  return { identity, session: sessionOf(SEED, identity, session), label, seed: `${SEED}/${id}` };
}

/** The signup counter file's content (none before the first reservation). */
function storedCounter(): string | undefined {
  try {
    return readFileSync(join(stateDir, 'counter'), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Runs a session that must be refused: checks it failed with `code` in `state`, that the last event says
 * so, that it queued nothing, and that a session refused before it asked for a nonce reserved no counter
 * (the counter is reserved with the nonce). Returns the result and the events.
 */
async function expectRefused(
  session: (onEvent: (event: SessionEvent) => void) => Promise<SessionResult>,
  state: (typeof SESSION_STATES)[number],
  code: string,
): Promise<{ result: SessionResult & { ok: false }; events: SessionEvent[] }> {
  const outboxBefore = await agent.outbox.counts();
  const counterBefore = storedCounter();
  const events: SessionEvent[] = [];
  const result = await session((event) => events.push(event));
  expect(result, failure(result)).toMatchObject({ ok: false, state, code });
  if (result.ok) throw new Error('unreachable');
  expect(result.message).not.toBe('');
  expect(events.at(-1)).toEqual({ state: 'failed', detail: `${code}: ${result.message}` });
  // The states entered before the failure are a prefix of the documented order, ending in `state`.
  const entered = [...new Set(events.slice(0, -1).map((e) => e.state))];
  expect(entered).toEqual(SESSION_STATES.slice(0, SESSION_STATES.indexOf(state) + 1));
  expect(await agent.outbox.counts()).toEqual(outboxBefore);
  if (SESSION_STATES.indexOf(state) < SESSION_STATES.indexOf('fetching_nonce')) {
    expect(storedCounter()).toBe(counterBefore);
  }
  return { result, events };
}

/** The agent's session on another device's keys, another camera or another backend client. */
function withContext(change: Partial<DeviceContext>): DeviceContext {
  return { ...agent.context, ...change };
}

/**
 * A camera that films `images` in turn, `count` frames at 5 fps stamped with their own instant, then ends
 * (a camera unplugged, or a replay that runs out).
 */
class TestCamera implements CameraSource {
  readonly description: string;
  constructor(
    readonly images: CameraFrame['image'][],
    readonly count = images.length,
  ) {
    this.description = `test camera (${count} frames)`;
  }
  async *frames(): AsyncGenerator<CameraFrame> {
    const start = Date.now();
    for (let k = 0; k < this.count; k++) {
      const at = start + 200 * k;
      const wait = at - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      yield { image: this.images[k % this.images.length] as CameraFrame['image'], capturedAtMs: at };
    }
  }
  async close(): Promise<void> {}
}

beforeAll(async () => {
  h = await startTestBackend('pglite');
  backendUrl = await h.backend.listen({ port: 0, host: '127.0.0.1' });
  deviceDir = tempDir('session-device');
  stateDir = tempDir('session-state');
  const { certificate } = await provisionDevice({ dir: deviceDir, token: { kind: 'development' }, ca: h.ca });
  const registered = await inject(h.backend, 'POST', '/v1/admin/devices', {
    token: h.adminToken,
    body: { certificate: certificate.toString('pem') },
  });
  expect(registered.statusCode).toBe(201);
  camera = new SyntheticCamera({ fps: 5, renderThreads: 1 });
  const config = loadAgentConfig(undefined, {
    backendUrl,
    deviceDir,
    stateDir,
    fps: 5,
    identityTimeoutMs: IDENTITY_TIMEOUT_MS,
  });
  agent = await openDeviceAgent(config, { camera });
}, 120_000);

afterAll(async () => {
  await agent?.close();
  await h?.close();
});

describe('capture session: a live person', () => {
  it('goes through the states in order and queues a signup whose every part verifies', async () => {
    const events: SessionEvent[] = [];
    const started = Date.now();
    const result = await syntheticVisit(agent, camera, { commitment: COMMITMENT, eye: eye(1) }, (event) =>
      events.push(event),
    );
    expect(result.ok, failure(result)).toBe(true);
    if (!result.ok) return;

    // The states, each entered once, in the documented order; frame progress only while capturing.
    const states = events.map((e) => e.state).filter((s, i, all) => s !== all[i - 1]);
    expect(states).toEqual(SESSION_STATES.filter((s) => s !== 'failed'));
    const progress = events.filter((e) => e.frames);
    expect(progress.every((e) => e.state === 'capturing')).toBe(true);
    expect(progress.map((e) => e.frames?.captured)).toEqual(progress.map((_, i) => i + 1));
    expect(progress.length).toBe(result.frames);
    expect(progress[0]?.frames?.elapsedMs).toBe(0);
    const elapsed = progress.map((e) => e.frames?.elapsedMs as number);
    for (let i = 1; i < elapsed.length; i++) expect(elapsed[i]).toBeGreaterThan(elapsed[i - 1] as number);
    expect(elapsed.at(-1)).toBeGreaterThanOrEqual(CAPTURE_MS);
    expect(progress.every((e) => e.frames?.captureMs === CAPTURE_MS)).toBe(true);
    // 5 fps over the 5 s window: 26 frames (0 ms to 5000 ms).
    expect(result.frames).toBe(26);
    expect(events.find((e) => e.state === 'queued')?.detail).toBe(
      `signup ${result.digest.slice(0, 12)}… in the outbox`,
    );
    expect(result.commitment).toBe(COMMITMENT);
    for (const part of Object.values(result.afterLastFrameMs)) expect(part).toBeGreaterThanOrEqual(0);

    // The outbox record: the signed signup and the evidence beside it.
    const item = await agent.outbox.get(result.digest);
    if (item?.state !== 'pending') throw new Error(`the signup is ${item?.state ?? 'not'} in the outbox`);
    const { evidence, ...signed } = item.record.body as {
      envelope: unknown;
      signature: string;
      evidence: { frames: { sequence: number; png: string }[] };
    };
    const { envelope, signature } = parseSignedSignup(signed);
    const signingBytes = signupSigningBytes(envelope);
    expect(toHex(signupDigest(signingBytes))).toBe(result.digest);
    const { irisCode, attestation } = agent.context.keys;
    await verifySignature(irisCode.algorithm, irisCode.publicKey, signingBytes, signature);
    expect(irisCode.algorithm).toBe('ecdsa-secp256k1-sha256');
    expect(envelope).toMatchObject({
      version: 1,
      deviceId: agent.context.deviceId,
      identityCommitment: COMMITMENT,
      softwareVersion: agent.context.softwareVersion,
    });
    expect(envelope.deviceTimeMs).toBeGreaterThanOrEqual(started);
    expect(envelope.deviceTimeMs).toBeLessThanOrEqual(Date.now());
    expect(String(envelope.counter)).toBe(readFileSync(join(stateDir, 'counter'), 'utf8').trim());
    expect(envelope.models.map((m) => m.name).sort()).toEqual(
      agent.software.models.map((m) => m.name).sort(),
    );

    // The frames: consecutive, chained by their hashes and signed by the attestation key.
    const frames = envelope.liveness.frames;
    expect(frames.map((f) => f.sequence)).toEqual(frames.map((_, i) => i));
    let previous: Uint8Array = new Uint8Array(32);
    for (const frame of frames) {
      await verifySignature(
        attestation.algorithm,
        attestation.publicKey,
        frameSigningBytes({
          deviceId: envelope.deviceId,
          sessionNonce: envelope.sessionNonce,
          sequence: frame.sequence,
          capturedAtMs: frame.capturedAtMs,
          frameSha256: frame.sha256,
          previousFrameSha256: previous,
        }),
        frame.signature,
      );
      previous = frame.sha256;
    }
    // A frame signed out of its chain does not verify: the chain is what the signatures cover.
    const second = frames[1];
    if (!second) throw new Error('no second frame');
    await expect(
      verifySignature(
        attestation.algorithm,
        attestation.publicKey,
        frameSigningBytes({
          deviceId: envelope.deviceId,
          sessionNonce: envelope.sessionNonce,
          sequence: 1,
          capturedAtMs: second.capturedAtMs,
          frameSha256: second.sha256,
          previousFrameSha256: new Uint8Array(32),
        }),
        second.signature,
      ),
    ).rejects.toMatchObject({ code: 'invalid_signature' });

    // The evidence frame's pixels are the ones whose hash its sequence signed.
    expect(evidence.frames).toHaveLength(1);
    const shown = evidence.frames[0] as { sequence: number; png: string };
    const png = sharp(Buffer.from(shown.png, 'base64'));
    expect(await png.metadata()).toMatchObject({
      format: 'png',
      channels: 1,
      depth: 'uchar',
      hasAlpha: false,
    });
    const { data, info } = await png.toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([640, 480, 1]);
    const pixels = framePixelsSha256({ width: info.width, height: info.height, data: new Uint8Array(data) });
    expect(toHex(pixels)).toBe(toHex(frames[shown.sequence]?.sha256 as Uint8Array));

    // The stimulus: the nonce's schedule, from the first frame.
    const firstFrameMs = frames[0]?.capturedAtMs as number;
    expect(envelope.liveness.stimulus).toEqual(
      stimulusSchedule(envelope.sessionNonce).map((p) => ({ ...p, startMs: firstFrameMs + p.startMs })),
    );
    // The pupil answered it: its radius moved over the capture.
    const radii = frames.map((f) => f.pupilRadiusPx);
    expect(Math.max(...radii) - Math.min(...radii)).toBeGreaterThan(1);

    const { liveness, texture_fixed, texture_decidable } = envelope.liveness.scores;
    expect(liveness).toBeGreaterThanOrEqual(0.5);
    expect(liveness).toBeLessThanOrEqual(1);
    expect(result.liveness).toBe(liveness);
    // The texture-motion check measured this eye: part of its iris could decide, little of it stayed put.
    expect(texture_decidable).toBeGreaterThan(0.2);
    expect(texture_decidable).toBeLessThanOrEqual(1);
    expect(texture_fixed).toBeLessThan(FIXED_SHARE_LIMIT);

    // The template is this person's iris: a frame of the same eye on another day matches it (about 0.1),
    // another person's does not (about 0.47).
    const template = envelope.eyes[0]?.template;
    expect(envelope.eyes.map((e) => e.side)).toEqual(['left']);
    if (!template) throw new Error('no template');
    const again = await agent.context.pipeline.encode(renderReflexFrame(eye(1, 'live', 1), [], 0).image);
    const other = await agent.context.pipeline.encode(renderReflexFrame(eye(2), [], 0).image);
    expect(matchIrisCodes(again.code, template).hdRaw).toBeLessThan(0.25);
    expect(matchIrisCodes(other.code, template).hdRaw).toBeGreaterThan(0.4);

    // And the backend takes it as it is.
    agent.startSending();
    const outcome = await agent.outcome(result.digest, { timeoutMs: 30_000 });
    expect(outcome.state, outcome.state === 'rejected' ? outcome.record.message : '').toBe('delivered');
  }, 120_000);
});

describe('capture session: refusals', () => {
  it('times out in reading_identity when no QR code is shown', async () => {
    camera.present({ kind: 'empty' });
    const started = Date.now();
    const { result } = await expectRefused(
      (onEvent) => agent.capture({ onEvent }),
      'reading_identity',
      'identity_qr_not_found',
    );
    const tookMs = Date.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(IDENTITY_TIMEOUT_MS);
    expect(tookMs).toBeLessThan(IDENTITY_TIMEOUT_MS + 1500);
    expect(result.message).toContain('1.5 s');
  });

  it('refuses an identity QR payload that is not ours, given or shown', async () => {
    for (const identityQr of ['hello', 'irisgate:commitment:v1:0', `irisgate:commitment:v1:0${COMMITMENT}`]) {
      await expectRefused(
        (onEvent) => agent.capture({ identityQr, onEvent }),
        'reading_identity',
        'invalid_identity_qr',
      );
    }
    camera.present({ kind: 'qr', payload: 'https://wallet.example/not-an-identity' });
    try {
      await expectRefused((onEvent) => agent.capture({ onEvent }), 'reading_identity', 'invalid_identity_qr');
    } finally {
      camera.present({ kind: 'empty' });
    }
  });

  it('is cancelled through its signal while it looks for the QR code', async () => {
    camera.present({ kind: 'empty' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    await expectRefused(
      (onEvent) => agent.capture({ onEvent, signal: controller.signal }),
      'reading_identity',
      'cancelled',
    );
    // Long before the identity timeout: at the next frame.
    expect(Date.now() - started).toBeLessThan(IDENTITY_TIMEOUT_MS);
  });

  it('refuses a textured lens on a living eye in checking_liveness: its texture stays on the cornea', async () => {
    // The eye behind the lens constricts (the reflex passes); the lens's print does not stretch with it.
    const identity = identityOf('pad-train-v1', 1);
    const lens: ReflexPresentation = {
      identity,
      session: sessionOf('pad-train-v1', identity, 0),
      label: 'lens',
      seed: hashSeed('pad-train-v1', 'presentation', 1, 0),
    };
    const { result } = await expectRefused(
      (onEvent) => syntheticVisit(agent, camera, { commitment: COMMITMENT, eye: lens }, onEvent),
      'checking_liveness',
      'liveness_failed',
    );
    expect(result.message).toMatch(
      /% of the iris texture, \d+ neighbouring blocks of it in one piece, stays on the cornea while the pupil moves \(texture_fixed_on_cornea/,
    );
  }, 120_000);

  it('refuses a ring over the limbus in checking_liveness: the texture at its fitted limbus moves', async () => {
    // patch-eval-v1's random Sybil patch of person 215 at 40%: a ring across the iris's outer edge. The
    // limbus fit takes its inner edge, and the iris texture just inside still stretches with the pupil
    // (iris/pad/limbus-anchor.ts); nothing of the ring's smooth print stays put on the cornea to see.
    const identity = identityOf('patch-eval-v1', 215);
    const ringed: ReflexPresentation = {
      identity,
      session: sessionOf('patch-eval-v1', identity, 1),
      label: 'patch-random',
      seed: hashSeed('patch-eval-v1', 'sybil', 215, 0.4, -1),
      patchFraction: 0.4,
    };
    const { result } = await expectRefused(
      (onEvent) => syntheticVisit(agent, camera, { commitment: COMMITMENT, eye: ringed }, onEvent),
      'checking_liveness',
      'liveness_failed',
    );
    expect(result.message).toMatch(/the fitted limbus is not where the iris is anchored: .* \(limbus_misfit/);
  }, 120_000);

  it('refuses a printed eye, which cannot answer the stimulus, in checking_liveness', async () => {
    // A print held before the camera looks the same in every frame: its pupil cannot constrict (the
    // synthetic camera renders it alike for every instant too, at about 1 s a frame; filmed here once).
    const print = renderReflexFrame(eye(2, 'print'), [], 0).image;
    // The operator stops the agent during the capture: once someone is identified, the session runs to
    // its end regardless (the signal only cuts the wait for a QR code short).
    const stop = new AbortController();
    const { result } = await expectRefused(
      (onEvent) =>
        runCaptureSession(withContext({ camera: new TestCamera([print], 40) }), {
          identityQr: identityQrPayload(COMMITMENT),
          signal: stop.signal,
          onEvent(event) {
            if (event.frames?.captured === 2) stop.abort();
            onEvent(event);
          },
        }),
      'checking_liveness',
      'liveness_failed',
    );
    expect(stop.signal.aborted).toBe(true);
    expect(result.message).toMatch(/^the pupil does not answer the IR stimulus/);
  }, 60_000);

  it('refuses an unregistered device in authenticating', async () => {
    const dir = tempDir('session-unregistered');
    const { profile } = await provisionDevice({ dir, token: { kind: 'development' }, ca: h.ca });
    const keys = await openDeviceKeys(dir, profile);
    try {
      const client = new BackendClient({
        baseUrl: backendUrl,
        deviceId: profile.deviceId,
        attestation: keys.attestation,
      });
      const { result } = await expectRefused(
        (onEvent) =>
          runCaptureSession(withContext({ deviceId: profile.deviceId, keys, client }), {
            identityQr: identityQrPayload(COMMITMENT),
            onEvent,
          }),
        'authenticating',
        'unknown_device',
      );
      expect(result.message).toContain(profile.deviceId);
    } finally {
      keys.close();
    }
  });

  it('refuses in authenticating when nobody listens at the backend URL', async () => {
    const client = new BackendClient({
      baseUrl: `http://127.0.0.1:${await closedPort()}`,
      deviceId: agent.context.deviceId,
      attestation: agent.context.keys.attestation,
    });
    await expectRefused(
      (onEvent) =>
        runCaptureSession(withContext({ client }), { identityQr: identityQrPayload(COMMITMENT), onEvent }),
      'authenticating',
      'backend_unreachable',
    );
  });

  it('refuses in capturing when the camera stops after a second', async () => {
    const images = [0, 200, 400, 600, 800].map((tMs) => renderReflexFrame(eye(1), [], tMs).image);
    const { result } = await expectRefused(
      (onEvent) =>
        runCaptureSession(withContext({ camera: new TestCamera(images) }), {
          identityQr: identityQrPayload(COMMITMENT),
          onEvent,
        }),
      'capturing',
      'camera_unavailable',
    );
    expect(result.message).toContain('stopped after 800 ms of the 5000 ms capture');

    // The same frames replayed from a folder of PNGs.
    const folder = tempDir('session-replay');
    await mkdir(folder, { recursive: true });
    await Promise.all(images.map((image, i) => writeGreyPng(join(folder, `frame-${i}.png`), image)));
    const replay = await FolderReplayCamera.open({ kind: 'folder', dir: folder, fps: 5, loop: false });
    const replayed = await expectRefused(
      (onEvent) =>
        runCaptureSession(withContext({ camera: replay }), {
          identityQr: identityQrPayload(COMMITMENT),
          onEvent,
        }),
      'capturing',
      'camera_unavailable',
    );
    expect(replayed.result.message).toMatch(/stopped after \d+ ms of the 5000 ms capture/);
  }, 60_000);

  it('refuses in capturing when the camera gives no frame at all', async () => {
    const { result } = await expectRefused(
      (onEvent) =>
        runCaptureSession(withContext({ camera: new TestCamera([]) }), {
          identityQr: identityQrPayload(COMMITMENT),
          onEvent,
        }),
      'capturing',
      'camera_unavailable',
    );
    expect(result.message).toBe('test camera (0 frames) gave no frames');
  });

  it('refuses a revoked device in authenticating', async () => {
    const revoked = await inject(h.backend, 'POST', `/v1/admin/devices/${agent.context.deviceId}/revoke`, {
      token: h.adminToken,
      body: { reason: 'stolen from the shop' },
    });
    expect(revoked.statusCode).toBe(200);
    const { result } = await expectRefused(
      (onEvent) => agent.capture({ identityQr: identityQrPayload(COMMITMENT), onEvent }),
      'authenticating',
      'revoked_device',
    );
    expect(result.message).toContain('stolen from the shop');
  });
});

describe('calibratedLiveness', () => {
  it("maps the detector's threshold to 0.5 and keeps 0 and 1, monotonic and continuous", () => {
    for (const threshold of [0.05, 0.3, 0.5, 0.72, 0.95]) {
      expect(calibratedLiveness(threshold, threshold)).toBeCloseTo(0.5, 12);
      expect(calibratedLiveness(0, threshold)).toBe(0);
      expect(calibratedLiveness(1, threshold)).toBeCloseTo(1, 12);
      // Just below the threshold: just below 0.5 (no jump).
      expect(calibratedLiveness(threshold - 1e-9, threshold)).toBeCloseTo(0.5, 6);
      expect(calibratedLiveness(threshold - 1e-9, threshold)).toBeLessThan(0.5);
      let last = -1;
      for (let i = 0; i <= 1000; i++) {
        const value = calibratedLiveness(i / 1000, threshold);
        expect(value).toBeGreaterThan(last);
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(1 + 1e-12);
        last = value;
      }
    }
  });

  it('is linear on each side of the threshold', () => {
    expect(calibratedLiveness(0.2, 0.4)).toBeCloseTo(0.25, 12);
    expect(calibratedLiveness(0.7, 0.4)).toBeCloseTo(0.75, 12);
    expect(calibratedLiveness(0.1, 0.8)).toBeCloseTo(0.0625, 12);
    expect(calibratedLiveness(0.9, 0.8)).toBeCloseTo(0.75, 12);
  });
});

describe('padLiveness', () => {
  const verdict = (score: number, reasons: string[] = [], patchFraction = 0) => ({
    live: score >= 0.4 && reasons.length === 0,
    score,
    reasons: score >= 0.4 ? reasons : ['texture', ...reasons],
    patchFraction,
  });

  it('sends the score it judged by: two frames just live and one far off give a live median', () => {
    // The mean of these (0.41 calibrated) is what once went out and the backend refused at 0.5.
    const pad = padLiveness([verdict(0.41), verdict(0.42), verdict(0.01)], 0.4);
    expect(pad.live).toBe(true);
    expect(pad.score).toBeCloseTo(calibratedLiveness(0.41, 0.4), 12);
    expect(pad.score).toBeGreaterThanOrEqual(0.5);
  });

  it('refuses when the middle frame is below the threshold, with the reasons of the refused frames', () => {
    const pad = padLiveness([verdict(0.9), verdict(0.39), verdict(0.1)], 0.4);
    expect(pad.live).toBe(false);
    expect(pad.score).toBeLessThan(0.5);
    expect(pad.reasons).toEqual(['texture']);
  });

  it('averages the middle two of an even count, and refuses below 0.5', () => {
    expect(padLiveness([verdict(0.45), verdict(0.2)], 0.4).live).toBe(false);
    expect(padLiveness([verdict(0.9), verdict(0.35)], 0.4).live).toBe(true);
  });

  it('refuses a patch seen in any frame, and reports the largest patch', () => {
    const pad = padLiveness(
      [verdict(0.9), verdict(0.9, ['patch_detected'], 0.12), verdict(0.8, [], 0.03)],
      0.4,
    );
    expect(pad.live).toBe(false);
    expect(pad.patchFraction).toBe(0.12);
  });

  it('refuses a covered limbus seen in any frame, as a patch', () => {
    const pad = padLiveness([verdict(0.9), verdict(0.9, ['limbus_covered']), verdict(0.8)], 0.4);
    expect(pad.live).toBe(false);
    expect(pad.reasons).toEqual(['limbus_covered']);
  });
});
