/**
 * The databases backend tests run against: PGlite always, and the PostgreSQL server named by
 * TEST_DATABASE_URL when it is set (then an unreachable server fails the run instead of skipping).
 * Each test gets a database of its own: a fresh PGlite folder, or a fresh database on the server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach } from 'vitest';
import { type Database, type DatabaseLocation, openDatabase } from '../../backend/storage/database.ts';
import { migrate } from '../../backend/storage/migrations.ts';

export type DatabaseTarget = 'pglite' | 'postgres';

export const DATABASE_TARGETS: DatabaseTarget[] = process.env.TEST_DATABASE_URL
  ? ['pglite', 'postgres']
  : ['pglite'];

/** A fresh, empty database of `target` (not opened); `close()` drops it. */
export async function testDatabaseLocation(
  target: DatabaseTarget,
): Promise<{ location: DatabaseLocation; close(): Promise<void> }> {
  if (target === 'pglite') {
    return {
      location: { dataDir: join(mkdtempSync(join(tmpdir(), 'irisgate-pglite-')), 'data') },
      close: async () => {},
    };
  }
  const adminUrl = process.env.TEST_DATABASE_URL as string;
  const name = `irisgate_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    location: { url: url.toString() },
    async close() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

interface TestDatabase {
  db: Database;
  /** Opens the same database again (a restart). */
  reopen(): Promise<Database>;
  drop(): Promise<void>;
}

async function createTestDatabase(target: DatabaseTarget): Promise<TestDatabase> {
  const { location, close } = await testDatabaseLocation(target);
  return { db: await openDatabase(location), reopen: () => openDatabase(location), drop: close };
}

/**
 * For the calling describe block: each test gets a fresh, migrated database on `target` from `fresh()`,
 * closed and dropped after it; `restart()` closes it and opens the same database again.
 */
export function migratedDatabasePerTest(target: DatabaseTarget): {
  fresh(): Promise<Database>;
  restart(): Promise<Database>;
} {
  let current: TestDatabase | undefined;
  let db: Database | undefined;
  afterEach(async () => {
    await db?.close();
    await current?.drop();
    current = undefined;
    db = undefined;
  });
  return {
    async fresh() {
      current = await createTestDatabase(target);
      db = current.db;
      await migrate(db);
      return db;
    },
    async restart() {
      if (!current || !db) throw new Error('restart() before fresh()');
      await db.close();
      db = await current.reopen();
      return db;
    },
  };
}
