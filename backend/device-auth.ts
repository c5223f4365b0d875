/**
 * Device authentication, like the Orb's: the backend issues a random challenge for a device; the device
 * signs it (protocol/device-messages.ts deviceAuthSigningBytes) with its attestation key; the backend
 * verifies that signature with the key from the device's certificate and answers a short-lived token.
 *
 * Challenges are single use and expire (one conditional UPDATE consumes them). Tokens are stateless:
 * "ig1.<base64url payload>.<base64url HMAC-SHA256>", keyed by a secret that lives only in this process,
 * so a restart invalidates them (a device simply authenticates again). Revocation needs no token list:
 * every authenticated request looks the device up.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CHALLENGE_BYTES, deviceAuthSigningBytes } from '../protocol/device-messages.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { type SignatureAlgorithm, verifySignature } from '../protocol/signature.ts';
import type { Sql } from './storage/database.ts';

export const DEFAULT_CHALLENGE_TTL_MS = 60_000;
export const DEFAULT_TOKEN_TTL_MS = 10 * 60_000;
const TOKEN_PREFIX = 'ig1';

export interface IssuedChallenge {
  challenge: Uint8Array;
  issuedAtMs: number;
  expiresAtMs: number;
}

export async function issueChallenge(
  sql: Sql,
  deviceId: string,
  { ttlMs = DEFAULT_CHALLENGE_TTL_MS, now = Date.now() } = {},
): Promise<IssuedChallenge> {
  const challenge = new Uint8Array(randomBytes(CHALLENGE_BYTES));
  // Answered or not, an expired challenge is of no use to anyone: keep the table small.
  await sql.query('delete from auth_challenges where expires_at_ms <= $1', [now]);
  await sql.query(
    'insert into auth_challenges (challenge, device_id, issued_at_ms, expires_at_ms) values ($1, $2, $3, $4)',
    [challenge, deviceId, now, now + ttlMs],
  );
  return { challenge, issuedAtMs: now, expiresAtMs: now + ttlMs };
}

/**
 * Checks a device's answer to a challenge: the signature over (audience, device, challenge, issue time)
 * with the device's attestation key, then consumes the challenge. Throws invalid_challenge (unknown,
 * another device's, expired or used) or a signature error.
 */
export async function verifyChallengeAnswer(
  sql: Sql,
  {
    audience,
    deviceId,
    challenge,
    signature,
    key,
    now = Date.now(),
  }: {
    audience: string;
    deviceId: string;
    challenge: Uint8Array;
    signature: Uint8Array;
    key: { algorithm: SignatureAlgorithm; publicKey: Uint8Array };
    now?: number;
  },
): Promise<void> {
  const [row] = await sql.query<{ issued_at_ms: string | number }>(
    `select issued_at_ms from auth_challenges
     where challenge = $1 and device_id = $2 and used_at_ms is null and expires_at_ms > $3`,
    [challenge, deviceId, now],
  );
  if (!row) throw new IrisgateError('invalid_challenge');
  const issuedAtMs = Number(row.issued_at_ms);
  await verifySignature(
    key.algorithm,
    key.publicKey,
    deviceAuthSigningBytes({ audience, deviceId, challenge, issuedAtMs }),
    signature,
  );
  const consumed = await sql.query(
    `update auth_challenges set used_at_ms = $3
     where challenge = $1 and device_id = $2 and used_at_ms is null returning challenge`,
    [challenge, deviceId, now],
  );
  if (consumed.length !== 1) throw new IrisgateError('invalid_challenge');
}

/** Issues and checks device tokens. */
export class DeviceTokens {
  readonly #secret: Uint8Array;

  constructor(
    readonly ttlMs = DEFAULT_TOKEN_TTL_MS,
    secret: Uint8Array = randomBytes(32),
  ) {
    this.#secret = secret;
  }

  issue(deviceId: string, now = Date.now()): { token: string; expiresAtMs: number } {
    const expiresAtMs = now + this.ttlMs;
    const payload = Buffer.from(JSON.stringify({ d: deviceId, e: expiresAtMs })).toString('base64url');
    return { token: `${TOKEN_PREFIX}.${payload}.${this.#mac(payload)}`, expiresAtMs };
  }

  /** The device id a token was issued to; throws missing_token, invalid_token or expired_token. */
  verify(token: string | undefined, now = Date.now()): string {
    if (!token) throw new IrisgateError('missing_token');
    const [prefix, payload, mac, ...rest] = token.split('.');
    if (prefix !== TOKEN_PREFIX || !payload || !mac || rest.length > 0)
      throw new IrisgateError('invalid_token');
    const expected = Buffer.from(this.#mac(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new IrisgateError('invalid_token');
    }
    const { d, e } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      d: string;
      e: number;
    };
    if (now >= e)
      throw new IrisgateError('expired_token', `the device token expired at ${new Date(e).toISOString()}`);
    return d;
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#secret).update(payload).digest('base64url');
  }
}
