/**
 * What must hold beyond one request: concurrent signups of one person, restarts, tampering with stored
 * templates, production mode, rate limits and the operations routes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TEMPLATE_KEY_FILE } from '../../backend/backend-secrets.ts';
import { WRAPPED_TEMPLATE_KEY_FILE } from '../../backend/template-key.ts';
import { packIrisCode } from '../../iris/matcher.ts';
import { fromHex } from '../../protocol/bytes.ts';
import { receiptFromJson, verifyReceipt } from '../../protocol/signup-receipt.ts';
import { inject, recapture, startTestBackend, syntheticEye, type TestBackend } from '../support/backend.ts';
import { DATABASE_TARGETS } from '../support/databases.ts';
import { sharedHsmFixture, uniqueKeyLabel } from '../support/hsm.ts';

describe.each(DATABASE_TARGETS)('signup durability on %s', (target) => {
  let h: TestBackend | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('accepts exactly one of two concurrent signups of the same person', async () => {
    h = await startTestBackend(target);
    const { backend } = h;
    const devices = [await h.device(), await h.device(), await h.device()];
    const eye = syntheticEye(41);
    const bodies = await Promise.all(
      devices.map(async (device, i) => {
        const token = await device.authenticate(backend);
        const nonce = await device.session(backend, token);
        return { token, body: await device.signup(nonce, [{ side: 'left', template: recapture(eye, i) }]) };
      }),
    );
    const replies = await Promise.all(
      bodies.map(({ token, body }) => inject(backend, 'POST', '/v1/signups', { token, body })),
    );
    expect(replies.map((r) => r.statusCode).sort()).toEqual([200, 409, 409]);
    expect(replies.filter((r) => r.statusCode === 409).map((r) => r.json().code)).toEqual([
      'duplicate_identity',
      'duplicate_identity',
    ]);
    expect((await inject(h.backend, 'GET', '/v1/group/root')).json().size).toBe(1);
  });

  it('gives one receipt and one member for the same signup sent many times at once', async () => {
    h = await startTestBackend(target);
    const { backend } = h;
    const device = await h.device();
    const token = await device.authenticate(backend);
    const body = await device.signup(await device.session(backend, token), [
      { side: 'left', template: syntheticEye(42) },
    ]);
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => inject(backend, 'POST', '/v1/signups', { token, body })),
    );
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(replies.map((r) => r.body)).size).toBe(1);
    expect((await inject(h.backend, 'GET', '/v1/group/root')).json().size).toBe(1);
  });

  it('keeps the gallery, the root, the root history and the decisions across a restart', async () => {
    let now = Date.now();
    h = await startTestBackend(target, {}, { clock: () => now });
    const device = await h.device();
    let token = await device.authenticate(h.backend);
    const eyes = [syntheticEye(43), syntheticEye(44), syntheticEye(45)];
    const accepted = [];
    for (const eye of eyes) {
      const body = await device.signup(
        await device.session(h.backend, token),
        [{ side: 'right', template: eye }],
        {
          now,
        },
      );
      const reply = await inject(h.backend, 'POST', '/v1/signups', { token, body });
      expect(reply.statusCode).toBe(200);
      accepted.push({ body, answer: reply.json() });
      now += 1000;
    }
    const rootBefore = (await inject(h.backend, 'GET', '/v1/group/root')).json();
    const info = (await inject(h.backend, 'GET', '/v1/info')).json();

    await h.restart();
    expect((await inject(h.backend, 'GET', '/v1/group/root')).json()).toEqual(rootBefore);
    expect((await inject(h.backend, 'GET', '/readyz')).json()).toEqual({
      status: 'ready',
      members: 3,
      enrolledEyes: 3,
    });
    expect((await inject(h.backend, 'GET', '/v1/info')).json()).toEqual(info);
    const firstRoot = accepted[0]?.answer.receipt.root;
    expect((await inject(h.backend, 'GET', `/v1/group/roots/${firstRoot}`)).json()).toMatchObject({
      status: 'valid',
    });
    // Tokens do not survive a restart; the device authenticates again.
    const stale = await inject(h.backend, 'POST', '/v1/sessions', { token });
    expect(stale.json()).toMatchObject({ code: 'invalid_token' });
    token = await device.authenticate(h.backend);
    // The same signup again: the same signed receipt, still valid under the same key.
    const resend = await inject(h.backend, 'POST', '/v1/signups', { token, body: accepted[1]?.body });
    expect(resend.json()).toEqual(accepted[1]?.answer);
    await verifyReceipt(receiptFromJson(resend.json().receipt), fromHex(info.receiptKey.publicKey));
    // The gallery came back: each person is still a duplicate.
    for (const [i, eye] of eyes.entries()) {
      const body = await device.signup(
        await device.session(h.backend, token),
        [{ side: 'left', template: recapture(eye, 100 + i) }],
        { now },
      );
      const reply = await inject(h.backend, 'POST', '/v1/signups', { token, body });
      expect(reply.json()).toMatchObject({ code: 'duplicate_identity' });
    }
    const audit = (await inject(h.backend, 'GET', '/v1/admin/audit', { token: h.adminToken })).json();
    expect(audit.entries).toBe(6);
    now += 60 * 60_000 + 1;
    expect((await inject(h.backend, 'GET', `/v1/group/roots/${firstRoot}`)).json()).toMatchObject({
      status: 'expired',
      valid: false,
    });
    expect((await inject(h.backend, 'GET', `/v1/group/roots/${rootBefore.root}`)).json()).toMatchObject({
      status: 'current',
    });
    expect((await inject(h.backend, 'GET', '/v1/group/roots/12345')).json()).toMatchObject({
      status: 'unknown',
    });
  });

  it('stores templates encrypted, bound to their member, and refuses to start on tampered ones', async () => {
    h = await startTestBackend(target);
    const device = await h.device();
    const token = await device.authenticate(h.backend);
    const eye = syntheticEye(46);
    for (const template of [eye, syntheticEye(47)]) {
      const body = await device.signup(await device.session(h.backend, token), [{ side: 'left', template }]);
      expect((await inject(h.backend, 'POST', '/v1/signups', { token, body })).statusCode).toBe(200);
    }
    const { db } = h.backend.services;
    const rows = await db.query<{ member_index: string; ciphertext: Uint8Array }>(
      'select member_index, ciphertext from enrolled_templates order by member_index',
    );
    expect(rows).toHaveLength(2);
    // What an unencrypted row would hold: the packed template (1,024 little-endian words), plus the GCM tag.
    const plaintext = Buffer.from(packIrisCode(eye).buffer);
    const stored = Buffer.from(rows[0]?.ciphertext ?? []);
    expect(stored.length).toBe(plaintext.length + 16);
    for (let at = 0; at < plaintext.length; at += 512) {
      expect(stored.includes(plaintext.subarray(at, at + 32))).toBe(false);
    }
    // Give member 0 member 1's ciphertext: it decrypts only as member 1's, so the backend refuses to start.
    await db.query(
      'update enrolled_templates set ciphertext = (select ciphertext from enrolled_templates where member_index = 1) where member_index = 0',
    );
    await expect(h.restart()).rejects.toMatchObject({ code: 'group_integrity' });
  });

  it('keeps the template key under the SoftHSM token when asked, and still finds duplicates after a restart', async () => {
    const fixture = sharedHsmFixture();
    h = await startTestBackend(
      target,
      {},
      {
        templateKeyToken: {
          module: fixture.softhsm.module,
          tokenLabel: fixture.softhsm.tokenLabel,
          pin: fixture.softhsm.pin,
          keyLabel: uniqueKeyLabel('template-kek'),
        },
      },
    );
    expect(existsSync(join(h.secretsDir, TEMPLATE_KEY_FILE))).toBe(false);
    expect(existsSync(join(h.secretsDir, WRAPPED_TEMPLATE_KEY_FILE))).toBe(true);
    const device = await h.device();
    let token = await device.authenticate(h.backend);
    const eye = syntheticEye(49);
    const body = await device.signup(await device.session(h.backend, token), [
      { side: 'left', template: eye },
    ]);
    expect((await inject(h.backend, 'POST', '/v1/signups', { token, body })).statusCode).toBe(200);
    await h.restart();
    token = await device.authenticate(h.backend);
    const again = await device.signup(await device.session(h.backend, token), [
      { side: 'left', template: recapture(eye, 7) },
    ]);
    expect((await inject(h.backend, 'POST', '/v1/signups', { token, body: again })).json()).toMatchObject({
      code: 'duplicate_identity',
    });
  });

  it('in production refuses development devices and accepts a SoftHSM device end to end', async () => {
    h = await startTestBackend(target, { production: true });
    await expect(h.device()).rejects.toThrow(/development_key/);
    const fixture = sharedHsmFixture();
    const device = await h.device({ token: fixture.softhsm, pin: fixture.softhsm.pin });
    expect(device.keys.irisCode.algorithm).toBe('ecdsa-secp256k1-sha256');
    const token = await device.authenticate(h.backend);
    const body = await device.signup(await device.session(h.backend, token), [
      { side: 'left', template: syntheticEye(48) },
    ]);
    const reply = await inject(h.backend, 'POST', '/v1/signups', { token, body });
    expect(reply.statusCode).toBe(200);
    expect((await inject(h.backend, 'GET', '/v1/info')).json().mode).toBe('production');
  });

  it('limits requests per minute (the verify API on its own) and signup attempts per device per hour', async () => {
    h = await startTestBackend(target, {
      limits: { requestsPerMinute: 1000, signupsPerDevicePerHour: 2 },
    });
    const device = await h.device();
    const token = await device.authenticate(h.backend);
    const codes = [];
    for (let i = 0; i < 3; i++) {
      const body = await device.signup(await device.session(h.backend, token), [
        { side: 'left', template: syntheticEye(60 + i) },
      ]);
      const reply = await inject(h.backend, 'POST', '/v1/signups', { token, body });
      codes.push(reply.statusCode === 200 ? 'ok' : reply.json().code);
    }
    expect(codes).toEqual(['ok', 'ok', 'device_budget_exhausted']);
    await h.close();

    h = await startTestBackend(target, {
      limits: { requestsPerMinute: 5, verifyRequestsPerMinute: 3, signupsPerDevicePerHour: 100 },
    });
    const replies = [];
    for (let i = 0; i < 7; i++) replies.push(await inject(h.backend, 'GET', '/v1/group/root'));
    // The harness's own CA trust request was the first of this address's five.
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 429, 429, 429]);
    expect(replies[6]?.json()).toMatchObject({ code: 'rate_limited' });
    // The verify API has a limit of its own (apps' servers verify at volume): 3 here, whatever the rest used.
    const verifies = [];
    for (let i = 0; i < 4; i++) {
      verifies.push(
        await inject(h.backend, 'POST', '/v1/verify/app_x', { body: { action: 'vote', proof: {} } }),
      );
    }
    expect(verifies.map((r) => r.json().code)).toEqual([
      'invalid_format',
      'invalid_format',
      'invalid_format',
      'rate_limited',
    ]);
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    h = await startTestBackend(target);
    expect((await inject(h.backend, 'GET', '/healthz')).json()).toEqual({ status: 'ok' });
    expect((await inject(h.backend, 'GET', '/readyz')).json()).toEqual({
      status: 'ready',
      members: 0,
      enrolledEyes: 0,
    });
    const device = await h.device();
    const token = await device.authenticate(h.backend);
    const body = await device.signup(await device.session(h.backend, token), [
      { side: 'left', template: syntheticEye(70) },
    ]);
    await inject(h.backend, 'POST', '/v1/signups', { token, body });
    await inject(h.backend, 'POST', '/v1/signups', { token, body: { ...body, signature: '11'.repeat(64) } });
    const metrics = await inject(h.backend, 'GET', '/metrics');
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toContain('irisgate_signups_total{outcome="accepted",reason="ok"} 1');
    expect(metrics.body).toContain('irisgate_signups_total{outcome="rejected",reason="invalid_signature"} 1');
    expect(metrics.body).toContain('irisgate_group_members 1');
    expect(metrics.body).toContain('irisgate_gallery_eyes 1');
    expect(metrics.body).toMatch(/irisgate_signup_duration_seconds_count 2/);
    const docs = (await inject(h.backend, 'GET', '/docs/json')).json();
    expect(docs.openapi).toMatch(/^3\./);
    for (const path of [
      '/v1/signups',
      '/v1/sessions',
      '/v1/devices/{deviceId}/token',
      '/v1/group/roots/{root}',
    ]) {
      expect(docs.paths).toHaveProperty([path]);
    }
    expect(docs.paths['/v1/signups'].post.requestBody.content['application/json'].schema.required).toEqual([
      'envelope',
      'signature',
    ]);
    const page = await inject(h.backend, 'GET', '/docs');
    expect([200, 302]).toContain(page.statusCode);
    const missing = await inject(h.backend, 'GET', '/v1/nothing');
    expect([missing.statusCode, missing.json().code]).toEqual([404, 'not_found']);
  });
});
