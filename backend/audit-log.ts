/**
 * The append-only audit log of every signup decision, hash-chained: each entry's hash covers its content
 * and the previous entry's hash, so removing, reordering or editing any entry breaks every hash after it.
 * The database refuses UPDATE, DELETE and TRUNCATE on the table; the chain catches whoever bypasses that.
 *
 *   entry_hash = SHA-256("irisgate/audit/v1" | u64 seq | u64 recordedAtMs | string deviceId
 *                        | string outcome | string reason | bytes signupDigest (32) | bytes prevHash (32))
 */
import { createHash } from 'node:crypto';
import { equalBytes, toHex } from '../protocol/bytes.ts';
import { canonicalMessage } from '../protocol/canonical.ts';
import { IrisgateError } from '../protocol/errors.ts';
import type { Database, Sql } from './storage/database.ts';

export const AUDIT_DOMAIN = 'irisgate/audit/v1';
const GENESIS_HASH = new Uint8Array(32);

export interface AuditEntry {
  seq: number;
  recordedAtMs: number;
  deviceId: string;
  outcome: 'accepted' | 'rejected';
  /** 'ok' for an acceptance, the stable error code for a rejection. */
  reason: string;
  /** SHA-256 of the signup's signed bytes (or of the raw request when it could not be parsed). */
  signupDigest: Uint8Array;
  prevHash: Uint8Array;
  entryHash: Uint8Array;
}

export type AuditRecord = Pick<AuditEntry, 'deviceId' | 'outcome' | 'reason' | 'signupDigest'>;

function entryHash(entry: Omit<AuditEntry, 'entryHash'>): Uint8Array {
  const message = canonicalMessage(AUDIT_DOMAIN)
    .u64(entry.seq)
    .u64(entry.recordedAtMs)
    .string(entry.deviceId)
    .string(entry.outcome)
    .string(entry.reason)
    .bytes(entry.signupDigest)
    .bytes(entry.prevHash)
    .finish();
  return new Uint8Array(createHash('sha256').update(message).digest());
}

interface AuditRow {
  seq: string | number;
  recorded_at_ms: string | number;
  device_id: string;
  outcome: 'accepted' | 'rejected';
  reason: string;
  signup_digest: Uint8Array;
  prev_hash: Uint8Array;
  entry_hash: Uint8Array;
}

function fromRow(row: AuditRow): AuditEntry {
  return {
    seq: Number(row.seq),
    recordedAtMs: Number(row.recorded_at_ms),
    deviceId: row.device_id,
    outcome: row.outcome,
    reason: row.reason,
    signupDigest: row.signup_digest,
    prevHash: row.prev_hash,
    entryHash: row.entry_hash,
  };
}

/** Appends one decision in its own transaction. */
export function appendAudit(db: Database, record: AuditRecord, now = Date.now()): Promise<AuditEntry> {
  return db.transaction((sql) => appendAuditWithin(sql, record, now));
}

/**
 * Appends one decision inside the caller's transaction, so the entry commits or rolls back with the
 * decision it records. Appends are serialised (a table lock), so the chain has one order.
 */
export async function appendAuditWithin(
  sql: Sql,
  record: AuditRecord,
  now = Date.now(),
): Promise<AuditEntry> {
  if (record.signupDigest.length !== 32) throw new RangeError('signupDigest is a 32-byte SHA-256 digest');
  await sql.query('lock table audit_log in exclusive mode');
  const [last] = await sql.query<AuditRow>('select * from audit_log order by seq desc limit 1');
  const previous = last ? fromRow(last) : undefined;
  const entry = {
    ...record,
    seq: previous ? previous.seq + 1 : 1,
    recordedAtMs: now,
    prevHash: previous ? previous.entryHash : GENESIS_HASH,
  };
  const complete: AuditEntry = { ...entry, entryHash: entryHash(entry) };
  await sql.query(
    `insert into audit_log (seq, recorded_at_ms, device_id, outcome, reason, signup_digest, prev_hash, entry_hash)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      complete.seq,
      complete.recordedAtMs,
      complete.deviceId,
      complete.outcome,
      complete.reason,
      complete.signupDigest,
      complete.prevHash,
      complete.entryHash,
    ],
  );
  return complete;
}

/**
 * Recomputes the whole chain. Returns the number of entries and the head hash (to publish or compare);
 * throws IrisgateError('audit_chain_broken') at the first entry that does not follow from its predecessor.
 */
export async function verifyAuditChain(db: Database): Promise<{ entries: number; head: string }> {
  const rows = await db.query<AuditRow>('select * from audit_log order by seq');
  let previous: Uint8Array = GENESIS_HASH;
  for (const [i, row] of rows.entries()) {
    const entry = fromRow(row);
    const broken = (why: string) =>
      new IrisgateError('audit_chain_broken', `audit entry ${entry.seq}: ${why}`);
    if (entry.seq !== i + 1) throw broken(`expected sequence ${i + 1}`);
    if (!equalBytes(entry.prevHash, previous)) throw broken('does not follow the previous entry');
    if (!equalBytes(entry.entryHash, entryHash(entry))) throw broken('its content does not match its hash');
    previous = entry.entryHash;
  }
  return { entries: rows.length, head: toHex(previous) };
}
