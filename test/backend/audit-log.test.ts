import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appendAudit, verifyAuditChain } from '../../backend/audit-log.ts';
import { DATABASE_TARGETS, migratedDatabasePerTest } from '../support/databases.ts';

const digest = (text: string) => new Uint8Array(createHash('sha256').update(text).digest());

describe.each(DATABASE_TARGETS)('audit log on %s', (target) => {
  const { fresh, restart } = migratedDatabasePerTest(target);

  it('chains entries and verifies the chain, also after a restart', async () => {
    const db = await fresh();
    const first = await appendAudit(db, {
      deviceId: 'ig-1',
      outcome: 'accepted',
      reason: 'ok',
      signupDigest: digest('a'),
    });
    const second = await appendAudit(db, {
      deviceId: 'ig-1',
      outcome: 'rejected',
      reason: 'replayed_counter',
      signupDigest: digest('b'),
    });
    expect(first.seq).toBe(1);
    expect(first.prevHash).toEqual(new Uint8Array(32));
    expect(second.prevHash).toEqual(first.entryHash);
    const verified = await verifyAuditChain(db);
    expect(verified).toEqual({ entries: 2, head: Buffer.from(second.entryHash).toString('hex') });
    expect(await verifyAuditChain(await restart())).toEqual(verified);
  });

  it('refuses UPDATE, DELETE and TRUNCATE in the database', async () => {
    const db = await fresh();
    await appendAudit(db, { deviceId: 'ig-1', outcome: 'accepted', reason: 'ok', signupDigest: digest('a') });
    for (const statement of [
      "update audit_log set reason = 'forged'",
      'delete from audit_log',
      'truncate audit_log',
    ]) {
      await expect(db.query(statement)).rejects.toThrow(/append-only/);
    }
    expect((await verifyAuditChain(db)).entries).toBe(1);
  });

  it('detects an entry edited or removed by someone who bypassed the triggers', async () => {
    const db = await fresh();
    for (const letter of 'abcd') {
      await appendAudit(db, {
        deviceId: 'ig-1',
        outcome: 'accepted',
        reason: 'ok',
        signupDigest: digest(letter),
      });
    }
    await db.query('alter table audit_log disable trigger user');
    await db.query("update audit_log set outcome = 'rejected', reason = 'forged' where seq = 2");
    await expect(verifyAuditChain(db)).rejects.toMatchObject({
      code: 'audit_chain_broken',
      message: /entry 2:/,
    });
    await db.query("update audit_log set outcome = 'accepted', reason = 'ok' where seq = 2");
    await expect(verifyAuditChain(db)).resolves.toMatchObject({ entries: 4 });
    await db.query('delete from audit_log where seq = 3');
    await expect(verifyAuditChain(db)).rejects.toMatchObject({
      code: 'audit_chain_broken',
      message: /entry 4:/,
    });
  });

  it('keeps one chain under concurrent appends', async () => {
    const db = await fresh();
    const appended = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        appendAudit(db, {
          deviceId: `ig-${i}`,
          outcome: 'accepted',
          reason: 'ok',
          signupDigest: digest(String(i)),
        }),
      ),
    );
    expect(appended.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    expect(await verifyAuditChain(db)).toMatchObject({ entries: 12 });
  });
});
