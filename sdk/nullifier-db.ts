/**
 * Opens an app's nullifier database from one string, as `irisgate proof verify --nullifiers` takes it: a
 * postgres:// (or postgresql://) URL for a PostgreSQL server, anything else a PGlite data folder (created
 * when absent). PGlite is one process's database: a lock file beside the folder (`<folder>.lock`, holding
 * the owner's pid) refuses a second process (database_in_use) while the first lives; a dead owner's lock is
 * taken over.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { sqlNullifierStore } from '../protocol/nullifier-store.ts';
import { lockPgliteFolder } from '../protocol/pglite-lock.ts';
import type { NullifierStore } from '../protocol/uniqueness-proof.ts';

export interface NullifierDatabase {
  store: NullifierStore;
  engine: 'pglite' | 'postgres';
  close(): Promise<void>;
}

export const isPostgresUrl = (location: string) => /^postgres(?:ql)?:\/\//i.test(location);

/** The nullifier store at `location` (table irisgate_nullifiers, or `table`); close() when done. */
export async function openNullifierDatabase(
  location: string,
  { table }: { table?: string } = {},
): Promise<NullifierDatabase> {
  if (isPostgresUrl(location)) {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: location, max: 4 });
    // An idle client's error (the server went away) must not crash the process; the next query reports it.
    pool.on('error', () => {});
    return { store: sqlNullifierStore(pool, { table }), engine: 'postgres', close: () => pool.end() };
  }
  const folder = resolve(location);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const unlock = lockPgliteFolder(folder);
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(folder);
    return {
      store: sqlNullifierStore(db, { table }),
      engine: 'pglite',
      async close() {
        try {
          await db.close();
        } finally {
          unlock();
        }
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}
