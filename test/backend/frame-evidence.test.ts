/**
 * Frame evidence over HTTP, on PGlite and on the PostgreSQL server: the pixels of signed frames, sent as
 * PNGs beside the signup, must hash to the frame hashes the device signed. A refusal for the (unsigned)
 * evidence is never stored as the signup's decision, and the signup route alone takes large bodies.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hashFrameEvidence,
  MAX_EVIDENCE_FRAMES,
  MAX_EVIDENCE_PNG_BASE64,
} from '../../backend/frame-evidence.ts';
import { encodeGreyPng } from '../../iris/image-input.ts';
import { canonicalMessage } from '../../protocol/canonical.ts';
import { FRAME_PIXELS_DOMAIN, framePixelsSha256, type GreyFrame } from '../../protocol/device-messages.ts';
import { parseSignupEnvelope, signupDigest, signupSigningBytes } from '../../protocol/signup-envelope.ts';
import {
  type CapturedFrame,
  frameEvidence,
  inject,
  type SignupBody,
  startTestBackend,
  syntheticEye,
  type TestBackend,
  type TestDevice,
  testFramePixels,
} from '../support/backend.ts';
import { DATABASE_TARGETS } from '../support/databases.ts';

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** The frame with one pixel's value changed (the PNG keeps its size in pixels). */
function flipped({ width, height, data }: GreyFrame, at = 100): GreyFrame {
  const copy = Uint8Array.from(data);
  copy[at] = (copy[at] as number) ^ 0x01;
  return { width, height, data: copy };
}

/** The frame as a colour (RGB) PNG: the same grey values in three channels. */
function rgbPng({ width, height, data }: GreyFrame): Promise<Buffer> {
  const rgb = new Uint8Array(3 * data.length);
  for (const [i, value] of data.entries()) rgb.fill(value, 3 * i, 3 * i + 3);
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

describe('framePixelsSha256', () => {
  it('is SHA-256 of the canonical frame-pixels message, and refuses a buffer of the wrong size', () => {
    const image = testFramePixels('a frame', { width: 7, height: 5 });
    const message = canonicalMessage(FRAME_PIXELS_DOMAIN).u32(7).u32(5).bytes(image.data).finish();
    expect(Buffer.from(framePixelsSha256(image))).toEqual(createHash('sha256').update(message).digest());
    expect(framePixelsSha256({ ...image, width: 5, height: 7 })).not.toEqual(framePixelsSha256(image));
    expect(() => framePixelsSha256({ ...image, height: 6 })).toThrow(RangeError);
  });

  it('decodes only 8-bit grey PNGs, at most MAX_EVIDENCE_FRAMES of them', async () => {
    const image = testFramePixels('decode', { width: 32, height: 24 });
    const [hashed] = await hashFrameEvidence({
      frames: [{ sequence: 3, png: base64(await encodeGreyPng(image)) }],
    });
    expect(hashed).toMatchObject({ sequence: 3, width: 32, height: 24 });
    expect(hashed?.sha256).toEqual(framePixelsSha256(image));
    const png = base64(await encodeGreyPng(image));
    const tooMany = Array.from({ length: MAX_EVIDENCE_FRAMES + 1 }, (_, sequence) => ({ sequence, png }));
    for (const evidence of [
      { frames: tooMany },
      { frames: [{ sequence: 0, png: 'not base64!' }] },
      { frames: [{ sequence: -1, png }] },
      { frames: [{ sequence: 0, png, extra: 1 }] },
      { frames: {} },
      [],
    ]) {
      await expect(hashFrameEvidence(evidence)).rejects.toMatchObject({ code: 'malformed_evidence' });
    }
    expect(await hashFrameEvidence(undefined)).toEqual([]);
  });
});

describe.each(DATABASE_TARGETS)('frame evidence on %s', (target) => {
  const now = Date.now();
  const clock = () => now;
  let h: TestBackend;
  let device: TestDevice;
  let token: string;
  let seed = 5000;

  beforeAll(async () => {
    h = await startTestBackend(
      target,
      {
        limits: { requestsPerMinute: 10_000, signupsPerDevicePerHour: 10_000 },
      },
      { clock },
    );
    device = await h.device();
    token = await device.authenticate(h.backend);
  });
  afterAll(() => h.close());

  const post = (body: unknown, as = token) => inject(h.backend, 'POST', '/v1/signups', { token: as, body });
  const eyes = () => {
    seed += 1;
    return [{ side: 'left' as const, template: syntheticEye(seed) }];
  };

  /** A signup body for a fresh session; `evidence` as TestDevice.signup takes it. */
  async function signupBody(options: Parameters<TestDevice['signup']>[2] = {}): Promise<SignupBody> {
    const nonce = await device.session(h.backend, token);
    return device.signup(nonce, eyes(), { now, ...options });
  }

  /** A signup body (with the default evidence: the last frame) and every frame its device captured. */
  async function captured(
    options: Parameters<TestDevice['signup']>[2] = {},
  ): Promise<{ body: SignupBody; frames: CapturedFrame[]; last: CapturedFrame }> {
    let frames: CapturedFrame[] = [];
    const body = await signupBody({
      evidence: (all) => {
        frames = all;
        return frameEvidence(all.slice(-1));
      },
      ...options,
    });
    return { body, frames, last: frames.at(-1) as CapturedFrame };
  }

  async function storedDecisions(body: SignupBody): Promise<number> {
    const digest = signupDigest(signupSigningBytes(parseSignupEnvelope(body.envelope)));
    const rows = await h.backend.services.db.query<{ n: string | number }>(
      'select count(*) as n from signup_decisions where signup_digest = $1',
      [digest],
    );
    return Number(rows[0]?.n);
  }

  const auditEntries = async () =>
    (await inject(h.backend, 'GET', '/v1/admin/audit', { token: h.adminToken })).json().entries as number;

  it('accepts a signup whose evidence hashes to the signed frames, one frame or several', async () => {
    const { body, frames, last } = await captured();
    expect(frames).toHaveLength((body.envelope.liveness as { frames: unknown[] }).frames.length);
    expect(body.evidence?.frames.map((f) => f.sequence)).toEqual([last.sequence]);
    const reply = await post(body);
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toMatchObject({ accepted: true });

    const several = await signupBody({
      evidence: (all) => frameEvidence([all[0], all[17], all.at(-1)] as CapturedFrame[]),
    });
    expect(several.evidence?.frames).toHaveLength(3);
    expect((await post(several)).statusCode).toBe(200);
  });

  it('refuses a frame whose pixels changed after signing, and decides the same signup resent with the real ones', async () => {
    const audited = await auditEntries();
    const { body: genuine, last } = await captured();
    const body = { ...genuine, evidence: await frameEvidence([{ ...last, image: flipped(last.image) }]) };
    const tampered = await post(body);
    expect(tampered.statusCode).toBe(422);
    expect(tampered.json()).toMatchObject({
      code: 'frame_evidence_mismatch',
      message: new RegExp(`frame ${last.sequence} hash`),
    });
    // Refused and audited, but nothing stored under the signup's digest: the evidence is not signed.
    expect(await storedDecisions(body)).toBe(0);
    expect(await auditEntries()).toBe(audited + 1);

    const resent = await post(genuine);
    expect(resent.statusCode).toBe(200);
    expect(resent.json()).toMatchObject({ accepted: true });
    expect(await storedDecisions(body)).toBe(1);
    // Now decided, the signup answers the same again, and tampered evidence is still refused.
    expect((await post(genuine)).json()).toEqual(resent.json());
    expect((await post(body)).json()).toMatchObject({ code: 'frame_evidence_mismatch' });
    expect(await auditEntries()).toBe(audited + 3);
  });

  it('refuses a signup without evidence, or with fewer frames than the policy asks for', async () => {
    const { body: genuine, frames } = await captured();
    const { evidence: _, ...body } = genuine;
    for (const payload of [body, { ...body, evidence: { frames: [] } }]) {
      const reply = await post(payload);
      expect(reply.statusCode).toBe(422);
      expect(reply.json()).toMatchObject({
        code: 'insufficient_liveness_evidence',
        message: /no frame evidence/,
      });
    }
    const policy = h.backend.services.config.policy;
    policy.minEvidenceFrames = 2;
    try {
      const one = await post(genuine);
      expect(one.json()).toMatchObject({ code: 'insufficient_liveness_evidence', message: /at least 2/ });
      expect(await storedDecisions(body)).toBe(0);
      const two = await post({ ...body, evidence: await frameEvidence(frames.slice(0, 2)) });
      expect(two.statusCode).toBe(200);
    } finally {
      policy.minEvidenceFrames = 1;
    }
  });

  it('refuses malformed evidence with its code', async () => {
    const { body, last: frame } = await captured();
    const png = body.evidence?.frames[0]?.png as string;
    const as = (pngBytes: Uint8Array, sequence = frame.sequence) => ({
      ...body,
      evidence: { frames: [{ sequence, png: base64(pngBytes) }] },
    });
    const { width, height, data } = frame.image;
    const grey = () => sharp(data, { raw: { width, height, channels: 1 } });
    const evidenceCases: [string, unknown, RegExp][] = [
      ['colour PNG', as(await rgbPng(frame.image)), /colour type 2, bit depth 8/],
      [
        'grey + alpha PNG',
        as(await grey().toColourspace('b-w').ensureAlpha().png().toBuffer()),
        /colour type 4/,
      ],
      ['16-bit PNG', as(await grey().toColourspace('grey16').png().toBuffer()), /bit depth 16/],
      ['palette PNG', as(await grey().png({ palette: true }).toBuffer()), /colour type 3/],
      ['JPEG', as(await grey().jpeg({ quality: 100 }).toBuffer()), /not a PNG/],
      ['not an image', as(Buffer.from('hello, this is not a PNG at all')), /not a PNG/],
      ['truncated PNG', as((await encodeGreyPng(frame.image)).subarray(0, 400)), /does not decode/],
      [
        'too many pixels',
        as(
          await sharp(Buffer.alloc(5000 * 4000), { raw: { width: 5000, height: 4000, channels: 1 } })
            .toColourspace('b-w')
            .png()
            .toBuffer(),
        ),
        /pixel limit/,
      ],
      ['unknown sequence', as(await encodeGreyPng(frame.image), 999), /no frame 999/],
      [
        'repeated sequence',
        { ...body, evidence: { frames: [body.evidence?.frames[0], body.evidence?.frames[0]] } },
        /sent twice/,
      ],
    ];
    for (const [what, payload, message] of evidenceCases) {
      const reply = await post(payload);
      expect(reply.json(), what).toMatchObject({ code: 'malformed_evidence', message });
      expect(reply.statusCode, what).toBe(400);
    }
    // What the route's schema refuses first: the backend's usual malformed_request.
    const frameWith = (png: string) => ({
      ...body,
      evidence: { frames: [{ sequence: frame.sequence, png }] },
    });
    const schemaCases: [string, unknown][] = [
      ['garbage base64', frameWith('%%%not base64')],
      ['base64 cut short', frameWith(png.slice(0, -1))],
      ['an oversized PNG', frameWith('A'.repeat(MAX_EVIDENCE_PNG_BASE64 + 4))],
      [
        'too many frames',
        {
          ...body,
          evidence: {
            frames: Array.from({ length: MAX_EVIDENCE_FRAMES + 1 }, () => body.evidence?.frames[0]),
          },
        },
      ],
      ['unknown field', { ...body, evidence: { frames: [], extra: 1 } }],
      ['not an object', { ...body, evidence: 'frames' }],
    ];
    for (const [what, payload] of schemaCases) {
      const reply = await post(payload);
      expect(reply.json(), what).toMatchObject({ code: 'malformed_request' });
      expect(reply.statusCode, what).toBe(400);
    }
    expect(await storedDecisions(body)).toBe(0);
    expect((await post(body)).statusCode).toBe(200);
  });

  it('verifies the signup signature before the evidence', async () => {
    const body = await signupBody();
    const badSignature = `${body.signature.slice(0, 10)}${body.signature[10] === '0' ? '1' : '0'}${body.signature.slice(11)}`;
    const forged = await post({ ...body, signature: badSignature });
    expect(forged.json()).toMatchObject({ code: 'invalid_signature' });
    expect(forged.statusCode).toBe(401);
    const byAttestationKey = await device.keys.attestation.sign(
      signupSigningBytes(parseSignupEnvelope(body.envelope)),
    );
    expect(
      (await post({ ...body, signature: Buffer.from(byAttestationKey).toString('hex') })).json(),
    ).toMatchObject({
      code: 'invalid_signature',
    });
    const unsigned = await post({ envelope: body.envelope, evidence: body.evidence });
    expect([unsigned.statusCode, unsigned.json().code]).toEqual([400, 'malformed_request']);
    // Bad evidence does not hide a bad signature either.
    const both = await post({
      ...body,
      signature: badSignature,
      evidence: { frames: [{ sequence: 999, png: 'AAAA' }] },
    });
    expect(both.json()).toMatchObject({ code: 'invalid_signature' });
    const tampered = await post({
      ...body,
      envelope: { ...body.envelope, counter: (body.envelope.counter as number) + 100 },
    });
    expect(tampered.json()).toMatchObject({ code: 'invalid_signature' });
    expect((await post(body)).statusCode).toBe(200);
  });

  it('takes a signup of full-size frames (~1.6 MB) while the other routes keep their limit', async () => {
    const body = await signupBody({
      frameSize: { width: 640, height: 480 },
      evidence: (frames) => frameEvidence(frames.slice(-MAX_EVIDENCE_FRAMES)),
    });
    const size = JSON.stringify(body).length;
    expect(size).toBeGreaterThan(1_500_000);
    expect(size).toBeLessThan(2 * 1024 * 1024);
    const reply = await post(body);
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toMatchObject({ accepted: true });

    const raw = (url: string, payload: string, as?: string) =>
      h.backend.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', ...(as ? { authorization: `Bearer ${as}` } : {}) },
        payload,
      });
    const overSignupLimit = await raw(
      '/v1/signups',
      JSON.stringify({ ...body, pad: 'x'.repeat(2 * 1024 * 1024) }),
      token,
    );
    expect([overSignupLimit.statusCode, overSignupLimit.json().code]).toEqual([413, 'body_too_large']);
    const big = JSON.stringify({
      challenge: '00'.repeat(32),
      signature: '00'.repeat(64),
      pad: 'x'.repeat(300 * 1024),
    });
    for (const url of [`/v1/devices/${device.deviceId}/token`, '/v1/admin/devices']) {
      const refused = await raw(url, big, url.includes('admin') ? h.adminToken : undefined);
      expect([refused.statusCode, refused.json().code], url).toEqual([413, 'body_too_large']);
    }
  });
});
