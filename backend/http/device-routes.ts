/**
 * The routes a device uses, in the order of a capture session: a challenge, a token for the signed
 * challenge, a session nonce, the signup.
 */
import { fromHex, toHex } from '../../protocol/bytes.ts';
import { issueChallenge, verifyChallengeAnswer } from '../device-auth.ts';
import type { ActiveDevice } from '../device-directory.ts';
import type { BackendServices } from '../service.ts';
import { issueNonce } from '../session-nonces.ts';
import { type App, bearer } from './app.ts';
import { httpStatus } from './error-status.ts';
import {
  ChallengeReply,
  DeviceIdParam,
  ERROR_REPLIES,
  SessionReply,
  SignupReply,
  SignupRequest,
  TokenReply,
  TokenRequest,
} from './schemas.ts';

const device = [{ device: [] }];

export function deviceRoutes(services: BackendServices) {
  const { config, db, devices, tokens, gate, budget, metrics, clock } = services;

  /** The device a request's token names, checked to be registered and unrevoked now. */
  function authenticated(request: Parameters<typeof bearer>[0]): Promise<ActiveDevice> {
    return devices.active(tokens.verify(bearer(request), clock()), clock());
  }

  return async (app: App) => {
    app.post(
      '/v1/devices/:deviceId/challenge',
      {
        schema: {
          tags: ['device'],
          summary: 'A single-use challenge for the device to sign with its attestation key',
          params: DeviceIdParam,
          response: { 200: ChallengeReply, ...ERROR_REPLIES },
        },
      },
      async (request) => {
        const { deviceId } = request.params;
        await devices.active(deviceId, clock());
        const issued = await issueChallenge(db, deviceId, { ttlMs: config.challengeTtlMs, now: clock() });
        return {
          audience: config.audience,
          challenge: toHex(issued.challenge),
          issuedAtMs: issued.issuedAtMs,
          expiresAtMs: issued.expiresAtMs,
        };
      },
    );

    app.post(
      '/v1/devices/:deviceId/token',
      {
        schema: {
          tags: ['device'],
          summary: 'A short-lived device token for a signed challenge',
          params: DeviceIdParam,
          body: TokenRequest,
          response: { 200: TokenReply, ...ERROR_REPLIES },
        },
      },
      async (request) => {
        const { deviceId } = request.params;
        const active = await devices.active(deviceId, clock());
        await verifyChallengeAnswer(db, {
          audience: config.audience,
          deviceId,
          challenge: fromHex(request.body.challenge),
          signature: fromHex(request.body.signature),
          key: active.key('attestation'),
          now: clock(),
        });
        request.log.info({ deviceId }, 'device authenticated');
        return tokens.issue(deviceId, clock());
      },
    );

    app.post(
      '/v1/sessions',
      {
        schema: {
          tags: ['device'],
          summary: 'A single-use, expiring session nonce bound to the device',
          security: device,
          response: { 200: SessionReply, ...ERROR_REPLIES },
        },
      },
      async (request) => {
        const { deviceId } = (await authenticated(request)).device;
        const { nonce, expiresAtMs } = await issueNonce(db, deviceId, {
          ttlMs: config.nonceTtlMs,
          now: clock(),
        });
        return { nonce: toHex(nonce), expiresAtMs };
      },
    );

    app.post(
      '/v1/signups',
      {
        // The only route with large bodies: the evidence PNGs.
        bodyLimit: config.limits.signupBodyBytes,
        schema: {
          tags: ['device'],
          summary: 'Submit a signed signup; the answer is a signed receipt or a reason code',
          description:
            "Idempotent: the same signup sent again gets the same answer. The unsigned evidence (frame pixels) is checked against the signed frame hashes on every request and a refusal for it is never stored as the signup's answer. Rejections answer { code, message } only, never a distance or score.",
          security: device,
          body: SignupRequest,
          response: { 200: SignupReply, ...ERROR_REPLIES },
        },
      },
      async (request, reply) => {
        const sender = await authenticated(request);
        const { deviceId } = sender.device;
        budget.take(deviceId, clock());
        const { decision, replayed, searchMs } = await gate.submit(sender, request.body);
        // From the request's arrival: body parsing and schema validation count too.
        const totalMs = reply.elapsedTime;
        if (!replayed) {
          metrics.signups.inc({
            outcome: decision.accepted ? 'accepted' : 'rejected',
            reason: decision.accepted ? 'ok' : decision.code,
          });
          metrics.signupSeconds.observe(totalMs / 1000);
          metrics.searchSeconds.observe(searchMs / 1000);
        }
        reply.header('server-timing', `search;dur=${searchMs.toFixed(2)}, total;dur=${totalMs.toFixed(2)}`);
        request.log.info(
          {
            deviceId,
            accepted: decision.accepted,
            reason: decision.accepted ? 'ok' : decision.code,
            replayed,
          },
          'signup decided',
        );
        if (!decision.accepted) {
          return reply
            .status(httpStatus(decision.code))
            .send({ code: decision.code, message: decision.message });
        }
        return decision;
      },
    );
  };
}
