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

/**
 * Consumes a nonce for a device, or throws unknown_nonce, foreign_nonce (issued to another device; left
 * usable for its own), expired_nonce or replayed_nonce (already consumed).
 */
export async function consumeNonce(
  sql: Sql,
  nonce: Uint8Array,
  deviceId: string,
  now = Date.now(),
): Promise<void> {
  const consumed = await sql.query(
    `update session_nonces set used_at_ms = $3
     where nonce = $1 and device_id = $2 and used_at_ms is null and expires_at_ms > $3
     returning nonce`,
    [nonce, deviceId, now],
  );
  if (consumed.length === 1) return;
  const [row] = await sql.query<{ device_id: string; expires_at_ms: string | number; used_at_ms: unknown }>(
    'select device_id, expires_at_ms, used_at_ms from session_nonces where nonce = $1',
    [nonce],
  );
  if (!row) throw new IrisgateError('unknown_nonce');
  if (row.device_id !== deviceId) throw new IrisgateError('foreign_nonce');
  if (row.used_at_ms !== null) throw new IrisgateError('replayed_nonce');
  throw new IrisgateError(
    'expired_nonce',
    `the session nonce expired at ${new Date(Number(row.expires_at_ms)).toISOString()}`,
  );
}
