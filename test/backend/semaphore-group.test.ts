import { LeanIMT } from '@zk-kit/lean-imt';
import { poseidon2 } from 'poseidon-lite';
import { describe, expect, it } from 'vitest';
import { SemaphoreGroupStore } from '../../backend/semaphore-group.ts';
import type { Database } from '../../backend/storage/database.ts';
import { DATABASE_TARGETS, migratedDatabasePerTest } from '../support/databases.ts';

const HOUR = 3_600_000;
const hash = (a: bigint, b: bigint) => poseidon2([a, b]);

describe.each(DATABASE_TARGETS)('Semaphore group on %s', (target) => {
  const database = migratedDatabasePerTest(target);
  let db: Database;

  async function fresh(options?: { depth?: number }): Promise<SemaphoreGroupStore> {
    db = await database.fresh();
    return SemaphoreGroupStore.open(db, options);
  }

  it('adds members, keeps the root history with expiry, and gives verifiable inclusion proofs', async () => {
    const group = await fresh();
    const t0 = 1_800_000_000_000;
    const first = await group.add(11n, t0);
    const second = await group.add(22n, t0 + 1000);
    expect([first.index, second.index]).toEqual([0, 1]);
    expect(group.root).toBe(second.root);
    expect(await group.rootStatus(second.root, t0 + 2000)).toBe('current');
    expect(await group.rootStatus(first.root, t0 + 1000 + HOUR - 1)).toBe('valid');
    expect(await group.rootStatus(first.root, t0 + 1000 + HOUR)).toBe('expired');
    expect(await group.rootStatus(12345n)).toBe('unknown');
    const proof = group.inclusionProof(11n);
    expect(proof.root).toBe(group.root);
    expect(LeanIMT.verifyProof(proof, hash)).toBe(true);
    expect(LeanIMT.verifyProof({ ...proof, leaf: 33n }, hash)).toBe(false);
    expect(() => group.inclusionProof(33n)).toThrow(expect.objectContaining({ code: 'not_a_member' }));
  });

  it('records when each root was issued and replaced, and the group size at it', async () => {
    const group = await fresh();
    const t0 = 1_800_000_000_000;
    const first = await group.add(11n, t0);
    const second = await group.add(22n, t0 + 1000);
    expect(await group.rootRecord(first.root)).toEqual({
      createdAtMs: t0,
      supersededAtMs: t0 + 1000,
      size: 1,
    });
    expect(await group.rootRecord(second.root)).toEqual({
      createdAtMs: t0 + 1000,
      supersededAtMs: null,
      size: 2,
    });
    expect(await group.rootRecord(12345n)).toBeUndefined();
    expect(group.statusOf(await group.rootRecord(first.root), t0 + 1000 + HOUR)).toBe('expired');
  });

  it('gives roots recorded before sizes were their size at the next start', async () => {
    const group = await fresh();
    const roots = [];
    // Several roots in one millisecond: their order is the members', not the clock's.
    for (const c of [5n, 6n, 7n, 8n]) roots.push((await group.add(c, 1_800_000_000_000)).root);
    await db.query('update semaphore_roots set size = null');
    const reopened = await SemaphoreGroupStore.open(db);
    for (const [i, root] of roots.entries()) expect((await reopened.rootRecord(root))?.size).toBe(i + 1);
  });

  it('refuses a duplicate commitment and a full group without changing the root', async () => {
    const group = await fresh({ depth: 1 });
    await group.add(1n);
    await expect(group.add(1n)).rejects.toMatchObject({ code: 'duplicate_commitment' });
    await group.add(2n);
    const root = group.root;
    await expect(group.add(3n)).rejects.toMatchObject({ code: 'group_full' });
    expect(group.root).toBe(root);
    expect(group.size).toBe(2);
  });

  it('keeps the tree in step with the database when an insertion fails half-way', async () => {
    const group = await fresh();
    await group.add(5n);
    const root = group.root;
    await db.exec(`
      create function refuse_roots() returns trigger language plpgsql as $$ begin raise exception 'disk full'; end $$;
      create trigger refuse_roots before insert on semaphore_roots for each row execute function refuse_roots();
    `);
    await expect(group.add(6n)).rejects.toThrow(/disk full/);
    expect(group.root).toBe(root);
    expect(group.size).toBe(1);
    await db.exec('drop trigger refuse_roots on semaphore_roots');
    expect((await group.add(6n)).index).toBe(1);
  });

  it('has the same members, root and root history after a restart', async () => {
    const group = await fresh();
    const roots = [];
    for (const c of [5n, 6n, 7n]) roots.push((await group.add(c, 1_800_000_000_000 + Number(c))).root);
    const reopened = await SemaphoreGroupStore.open(await database.restart());
    expect(reopened.root).toBe(group.root);
    expect(reopened.size).toBe(3);
    expect(await reopened.rootStatus(roots[0] as bigint, 1_800_000_000_010)).toBe('valid');
    expect(await reopened.rootStatus(roots[2] as bigint)).toBe('current');
    expect(reopened.inclusionProof(6n)).toEqual(group.inclusionProof(6n));
  });

  it('notices members edited behind its back', async () => {
    const group = await fresh();
    await group.add(5n);
    await group.add(6n);
    await db.query("update semaphore_members set commitment = '9' where index = 1");
    await expect(SemaphoreGroupStore.open(db)).rejects.toMatchObject({ code: 'group_integrity' });
  });

  it('gives every concurrent insertion its own index and one root', async () => {
    const group = await fresh();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => group.add(BigInt(100 + i))));
    expect(results.map((r) => r.index).sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    const reloaded = await SemaphoreGroupStore.open(db);
    expect(reloaded.root).toBe(group.root);
  });
});
