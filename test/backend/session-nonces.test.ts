import { describe, expect, it } from 'vitest';
import { consumeNonce, issueNonce } from '../../backend/session-nonces.ts';
import { DATABASE_TARGETS, migratedDatabasePerTest } from '../support/databases.ts';

describe.each(DATABASE_TARGETS)('session nonces on %s', (target) => {
  const { fresh } = migratedDatabasePerTest(target);

  it('are consumed once, by their own device, before they expire', async () => {
    const db = await fresh();
    const now = 1_800_000_000_000;
    const { nonce, expiresAtMs } = await issueNonce(db, 'ig-a', { ttlMs: 60_000, now });
    expect(nonce).toHaveLength(32);
    expect(expiresAtMs).toBe(now + 60_000);
    await expect(consumeNonce(db, nonce, 'ig-b', { now: now + 1 })).rejects.toMatchObject({
      code: 'foreign_nonce',
    });
    await consumeNonce(db, nonce, 'ig-a', { now: now + 2 });
    await expect(consumeNonce(db, nonce, 'ig-a', { now: now + 3 })).rejects.toMatchObject({
      code: 'replayed_nonce',
    });
    await expect(consumeNonce(db, new Uint8Array(32), 'ig-a', { now })).rejects.toMatchObject({
      code: 'unknown_nonce',
    });
    const late = await issueNonce(db, 'ig-a', { ttlMs: 60_000, now });
    await expect(consumeNonce(db, late.nonce, 'ig-a', { now: now + 60_000 })).rejects.toMatchObject({
      code: 'expired_nonce',
    });
  });

  it('accept a signup signed while the nonce was live and delivered later, within the delivery delay', async () => {
    const db = await fresh();
    const now = 1_800_000_000_000;
    const use = { maxSkewMs: 10_000, maxDeliveryDelayMs: 3_600_000 };
    const issue = () => issueNonce(db, 'ig-a', { ttlMs: 60_000, now });
    // Signed 30 s in, delivered 50 min later (an outbox waiting out an outage): accepted.
    const held = await issue();
    await consumeNonce(db, held.nonce, 'ig-a', { ...use, now: now + 50 * 60_000, signedAtMs: now + 30_000 });
    // Delivered after the delivery delay: refused, and the nonce stays unused.
    const tooLate = await issue();
    const late = { ...use, now: now + 61 * 60_000, signedAtMs: now + 30_000 };
    await expect(consumeNonce(db, tooLate.nonce, 'ig-a', late)).rejects.toMatchObject({
      code: 'expired_nonce',
      message: expect.stringMatching(/delivered/),
    });
    // Signed after the nonce expired (plus the skew), or before it was issued (less the skew): refused.
    const afterExpiry = await issue();
    await expect(
      consumeNonce(db, afterExpiry.nonce, 'ig-a', { ...use, now: now + 80_000, signedAtMs: now + 70_001 }),
    ).rejects.toMatchObject({
      code: 'expired_nonce',
      message: expect.stringMatching(/after its nonce expired/),
    });
    await consumeNonce(db, afterExpiry.nonce, 'ig-a', {
      ...use,
      now: now + 80_000,
      signedAtMs: now + 69_999,
    });
    const before = await issue();
    await expect(
      consumeNonce(db, before.nonce, 'ig-a', { ...use, now: now + 1000, signedAtMs: now - 10_001 }),
    ).rejects.toMatchObject({ code: 'stale_timestamp' });
  });

  it('let exactly one of several concurrent consumers win', async () => {
    const db = await fresh();
    const { nonce } = await issueNonce(db, 'ig-a');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, () => consumeNonce(db, nonce, 'ig-a')),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes.filter((o) => o.status === 'rejected')) {
      expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'replayed_nonce' });
    }
  });
});
