/**
 * One SQL dialect, PostgreSQL, on two engines: PGlite (PostgreSQL compiled to WebAssembly, in-process, on a
 * data folder) by default, or a PostgreSQL server when a connection URL is given. Both run the same
 * migrations and the same queries; values come back in one shape (bytea as Uint8Array).
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { lockPgliteFolder } from '../../protocol/pglite-lock.ts';

export interface Sql {
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

export interface Database extends Sql {
  readonly engine: 'pglite' | 'postgres';
  /** Runs fn in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type DatabaseLocation = { dataDir: string } | { url: string };

/** bytea arrives as a Buffer from pg and as a Uint8Array from PGlite: give both as a plain Uint8Array. */
function normaliseRow<Row>(row: Record<string, unknown>): Row {
  for (const [key, value] of Object.entries(row)) {
    if (value instanceof Uint8Array) row[key] = new Uint8Array(value);
  }
  return row as Row;
}

async function openPglite(dataDir: string): Promise<Database> {
  const unlock = lockPgliteFolder(dataDir);
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (error) {
    unlock();
    throw error;
  }
  const sqlOf = (runner: Pick<PGlite, 'query' | 'exec'>): Sql => ({
    async query<Row>(text: string, params: unknown[] = []) {
      const result = await runner.query<Record<string, unknown>>(text, params);
      return result.rows.map((row) => normaliseRow<Row>(row));
    },
    async exec(script) {
      await runner.exec(script);
    },
  });
  return {
    engine: 'pglite',
    ...sqlOf(db),
    transaction: (fn) => db.transaction((tx) => fn(sqlOf(tx))),
    close: () => db.close().finally(unlock),
  };
}

async function openPostgres(url: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // An idle pooled connection the server ends (restart, admin command) leaves the pool; the next query
  // opens a new one. Without a listener pg would raise it as an uncaught error and stop the process.
  pool.on('error', () => {});
  await pool.query('select 1');
  const sqlOf = (runner: Pick<pg.Pool, 'query'>): Sql => ({
    async query<Row>(text: string, params: unknown[] = []) {
      const result = await runner.query(text, params);
      return result.rows.map((row) => normaliseRow<Row>(row));
    },
    async exec(script) {
      await runner.query(script);
    },
  });
  return {
    engine: 'postgres',
    ...sqlOf(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await fn(sqlOf(client));
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback');
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

export function openDatabase(location: DatabaseLocation): Promise<Database> {
  return 'url' in location ? openPostgres(location.url) : openPglite(location.dataDir);
}

/** A database URL fit for a log line: the password hidden. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
