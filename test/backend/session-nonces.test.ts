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
    await expect(consumeNonce(db, nonce, 'ig-b', now + 1)).rejects.toMatchObject({ code: 'foreign_nonce' });
    await consumeNonce(db, nonce, 'ig-a', now + 2);
    await expect(consumeNonce(db, nonce, 'ig-a', now + 3)).rejects.toMatchObject({ code: 'replayed_nonce' });
    await expect(consumeNonce(db, new Uint8Array(32), 'ig-a', now)).rejects.toMatchObject({
      code: 'unknown_nonce',
    });
    const late = await issueNonce(db, 'ig-a', { ttlMs: 60_000, now });
    await expect(consumeNonce(db, late.nonce, 'ig-a', now + 60_000)).rejects.toMatchObject({
      code: 'expired_nonce',
    });
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
