/**
 * Session nonces: the backend hands a device a random 32-byte nonce for one capture session; the signup
 * must carry it. A nonce is bound to the device it was issued to, expires, and is consumed at most once:
 * consumption is one conditional UPDATE, so of two concurrent signups with the same nonce exactly one wins.
 */
import { randomBytes } from 'node:crypto';
import { IrisgateError } from '../protocol/errors.ts';
import type { Sql } from './storage/database.ts';

export const NONCE_BYTES = 32;
export const DEFAULT_NONCE_TTL_MS = 5 * 60 * 1000;

export async function issueNonce(
  sql: Sql,
  deviceId: string,
  { ttlMs = DEFAULT_NONCE_TTL_MS, now = Date.now() } = {},
): Promise<{ nonce: Uint8Array; expiresAtMs: number }> {
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  const expiresAtMs = now + ttlMs;
  await sql.query(
    'insert into session_nonces (nonce, device_id, issued_at_ms, expires_at_ms) values ($1, $2, $3, $4)',
    [nonce, deviceId, now, expiresAtMs],
  );
  return { nonce, expiresAtMs };
}

/** When a nonce is used: the backend's time, and the device's signing time and its allowances. */
export interface NonceUse {
  /** Backend time now (default Date.now()). */
  now?: number;
  /** When the device signed the signup, by its own clock (default: now). */
  signedAtMs?: number;
  /** How far the device's clock may be from the backend's (default 0). */
  maxSkewMs?: number;
  /**
   * How long after its nonce was issued a signup signed in time may still arrive (default: no limit): a
   * device's outbox holds signups while the backend is unreachable.
   */
  maxDeliveryDelayMs?: number;
}

/**
 * Consumes a nonce for a device. The signup must have been signed while the nonce was live (issued to
 * expiry, each end widened by the clock skew allowed) and arrive within maxDeliveryDelayMs of its issue.
 * Throws unknown_nonce, foreign_nonce (issued to another device; left usable for its own),
 * replayed_nonce (already consumed), stale_timestamp (signed before the nonce existed) or expired_nonce
 * (signed after it expired, or delivered too late).
 */
export async function consumeNonce(
  sql: Sql,
  nonce: Uint8Array,
  deviceId: string,
  use: NonceUse = {},
): Promise<void> {
  const now = use.now ?? Date.now();
  const signedAtMs = use.signedAtMs ?? now;
  const skew = use.maxSkewMs ?? 0;
  const maxDelay = use.maxDeliveryDelayMs ?? Number.MAX_SAFE_INTEGER;
  const consumed = await sql.query(
    `update session_nonces set used_at_ms = $3
     where nonce = $1 and device_id = $2 and used_at_ms is null
       and $4 >= issued_at_ms - $5 and $4 < expires_at_ms + $5 and $3 <= issued_at_ms + $6
     returning nonce`,
    [nonce, deviceId, now, signedAtMs, skew, maxDelay],
  );
  if (consumed.length === 1) return;
  const [row] = await sql.query<{
    device_id: string;
    issued_at_ms: string | number;
    expires_at_ms: string | number;
    used_at_ms: unknown;
  }>('select device_id, issued_at_ms, expires_at_ms, used_at_ms from session_nonces where nonce = $1', [
    nonce,
  ]);
  if (!row) throw new IrisgateError('unknown_nonce');
  if (row.device_id !== deviceId) throw new IrisgateError('foreign_nonce');
  if (row.used_at_ms !== null) throw new IrisgateError('replayed_nonce');
  const issued = Number(row.issued_at_ms);
  const expires = Number(row.expires_at_ms);
  const at = (ms: number) => new Date(ms).toISOString();
  if (signedAtMs < issued - skew) {
    throw new IrisgateError(
      'stale_timestamp',
      `signed at ${at(signedAtMs)}, before its nonce was issued at ${at(issued)}`,
    );
  }
  if (signedAtMs >= expires + skew) {
    throw new IrisgateError(
      'expired_nonce',
      `signed at ${at(signedAtMs)}, after its nonce expired at ${at(expires)}`,
    );
  }
  throw new IrisgateError(
    'expired_nonce',
    `delivered at ${at(now)}, more than ${maxDelay / 60_000} min after its nonce was issued at ${at(issued)}`,
  );
}
