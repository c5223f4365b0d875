import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../backend/storage/database.ts';
import { migrate } from '../../backend/storage/migrations.ts';
import { DATABASE_TARGETS, migratedDatabasePerTest } from '../support/databases.ts';

describe.each(DATABASE_TARGETS)('migrations on %s', (target) => {
  const { fresh, restart } = migratedDatabasePerTest(target);

  it('apply each migration once, in order, also across a restart', async () => {
    const db = await fresh();
    const applied = await db.query<{ id: number }>('select id from schema_migrations order by id');
    expect(applied.map((row) => row.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await migrate(db)).toEqual([]);
    expect(await migrate(await restart())).toEqual([]);
  });
});

describe('a PGlite data folder', () => {
  it('is opened by one process at a time; a lock left by a dead process is taken over', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'irisgate-lock-')), 'db');
    const db = await openDatabase({ dataDir });
    await expect(openDatabase({ dataDir })).rejects.toMatchObject({ code: 'database_in_use' });
    await db.close();
    // A lock naming a process that has exited is taken over.
    writeFileSync(`${dataDir}.lock`, `${spawnSync('true').pid}\n`);
    const again = await openDatabase({ dataDir });
    expect(existsSync(`${dataDir}.lock`)).toBe(true);
    await again.close();
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
  });
});
