/**
 * Spent nullifiers in a PostgreSQL (or PGlite) table: the default NullifierStore of the SDK's verifier and
 * the store behind the backend's POST /v1/verify/:appId (its table verify_nullifiers, made by a migration).
 * A use is one statement, an insert of the first use or, on conflict, an increment only while uses <
 * maxUses, so concurrent verifications of one nullifier never count more uses than allowed, in one process
 * or in several on one server.
 */
import { IrisgateError } from './errors.ts';
import type { NullifierStore, NullifierUse } from './uniqueness-proof.ts';

/** What sqlNullifierStore needs of a client: `pg`'s Pool and Client and PGlite all have it. */
export interface SqlClient {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export const DEFAULT_NULLIFIER_TABLE = 'irisgate_nullifiers';
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(?:\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
/**
 * PostgreSQL's codes for a concurrent `create table if not exists` that lost the race: the table's row
 * type met in pg_type's unique index (23505) or found by name (42710, type exists), or the table (42P07).
 */
const CREATE_RACE = new Set(['23505', '42710', '42P07']);

/**
 * The spent nullifiers in table `table` (default irisgate_nullifiers, created when absent; `schema.table`
 * also works) of a PostgreSQL database. A use is one statement: an insert of the first use, or on conflict
 * an increment only while uses < maxUses; no row back means the limit was reached, and nothing changed.
 */
export function sqlNullifierStore(
  client: SqlClient,
  {
    table = DEFAULT_NULLIFIER_TABLE,
    create: creates = true,
  }: {
    table?: string;
    /** Create the table when absent (false where a migration made it, as the backend's). */
    create?: boolean;
  } = {},
): NullifierStore {
  if (!TABLE_NAME.test(table)) {
    throw new IrisgateError('invalid_argument', `${table} is not a plain table name`);
  }
  let ready: Promise<void> | undefined;
  const create = async () => {
    try {
      await client.query(
        `create table if not exists ${table} (
          app_id text not null,
          action text not null,
          nullifier text not null,
          uses integer not null,
          created_at_ms bigint not null,
          last_used_at_ms bigint not null,
          primary key (app_id, action, nullifier)
        )`,
      );
    } catch (error) {
      if (!CREATE_RACE.has(String((error as { code?: unknown }).code))) throw error;
    }
  };
  return {
    async use({ appId, action, nullifier, maxUses, nowMs }: NullifierUse) {
      if (!Number.isSafeInteger(maxUses) || maxUses < 1) {
        throw new IrisgateError('invalid_argument', 'maxUses must be an integer >= 1');
      }
      ready ??= (creates ? create() : Promise.resolve()).catch((error) => {
        ready = undefined;
        throw error;
      });
      await ready;
      const { rows } = await client.query(
        `insert into ${table} as n (app_id, action, nullifier, uses, created_at_ms, last_used_at_ms)
         values ($1, $2, $3, 1, $4, $4)
         on conflict (app_id, action, nullifier)
           do update set uses = n.uses + 1, last_used_at_ms = excluded.last_used_at_ms
           where n.uses < $5
         returning uses, created_at_ms`,
        [appId, action, nullifier, nowMs, maxUses],
      );
      const row = rows[0];
      if (!row) {
        throw new IrisgateError(
          'max_verifications_reached',
          `this person has used ${action} ${maxUses} time${maxUses === 1 ? '' : 's'}, as many as it allows`,
        );
      }
      return { uses: Number(row.uses), createdAtMs: Number(row.created_at_ms) };
    },
  };
}
