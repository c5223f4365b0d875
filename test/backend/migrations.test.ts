import { describe, expect, it } from 'vitest';
import { migrate } from '../../backend/storage/migrations.ts';
import { DATABASE_TARGETS, migratedDatabasePerTest } from '../support/databases.ts';

describe.each(DATABASE_TARGETS)('migrations on %s', (target) => {
  const { fresh, restart } = migratedDatabasePerTest(target);

  it('apply each migration once, in order, also across a restart', async () => {
    const db = await fresh();
    const applied = await db.query<{ id: number }>('select id from schema_migrations order by id');
    expect(applied.map((row) => row.id)).toEqual([1, 2, 3, 4]);
    expect(await migrate(db)).toEqual([]);
    expect(await migrate(await restart())).toEqual([]);
  });
});
