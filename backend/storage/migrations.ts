/**
 * Schema migrations, the same for PGlite and PostgreSQL: applied in order, each once, each in its own
 * transaction, under an advisory lock so two backends starting together do not race.
 */
import type { Database } from './database.ts';

interface Migration {
  id: number;
  name: string;
  sql: string;
}

const MIGRATIONS: Migration[] = [
  {
    id: 1,
    name: 'append-only hash-chained audit log',
    sql: `
      create table audit_log (
        seq bigint primary key,
        recorded_at_ms bigint not null,
        device_id text not null,
        outcome text not null check (outcome in ('accepted', 'rejected')),
        reason text not null,
        signup_digest bytea not null check (length(signup_digest) = 32),
        prev_hash bytea not null check (length(prev_hash) = 32),
        entry_hash bytea not null unique check (length(entry_hash) = 32)
      );
      create function audit_log_is_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_log is append-only';
      end $$;
      create trigger audit_log_append_only before update or delete on audit_log
        for each row execute function audit_log_is_append_only();
      create trigger audit_log_no_truncate before truncate on audit_log
        for each statement execute function audit_log_is_append_only();
    `,
  },
  {
    id: 2,
    name: 'semaphore group members and root history',
    sql: `
      create table semaphore_members (
        index bigint primary key,
        commitment text not null unique,
        inserted_at_ms bigint not null
      );
      create table semaphore_roots (
        root text primary key,
        created_at_ms bigint not null,
        superseded_at_ms bigint
      );
      create unique index semaphore_roots_one_current on semaphore_roots ((true)) where superseded_at_ms is null;
    `,
  },
  {
    id: 3,
    name: 'single-use session nonces',
    sql: `
      create table session_nonces (
        nonce bytea primary key check (length(nonce) = 32),
        device_id text not null,
        issued_at_ms bigint not null,
        expires_at_ms bigint not null,
        used_at_ms bigint
      );
    `,
  },
  {
    id: 4,
    name: 'device registry',
    sql: `
      create table devices (
        device_id text primary key,
        certificate_serial text not null,
        certificate_der bytea not null,
        development boolean not null,
        registered_at_ms bigint not null,
        revoked_at_ms bigint,
        revoked_reason text
      );
    `,
  },
  {
    id: 5,
    name: 'device auth, trusted CAs, signup decisions and encrypted templates',
    sql: `
      create table auth_challenges (
        challenge bytea primary key check (length(challenge) = 32),
        device_id text not null,
        issued_at_ms bigint not null,
        expires_at_ms bigint not null,
        used_at_ms bigint
      );
      alter table devices add column last_counter bigint;
      create table trusted_cas (
        fingerprint text primary key,
        subject text not null,
        certificate_der bytea not null,
        added_at_ms bigint not null
      );
      create table signup_decisions (
        signup_digest bytea primary key check (length(signup_digest) = 32),
        device_id text not null,
        outcome text not null check (outcome in ('accepted', 'rejected')),
        reason text not null,
        receipt text,
        decided_at_ms bigint not null,
        check ((outcome = 'accepted') = (receipt is not null))
      );
      create table enrolled_templates (
        member_index bigint not null references semaphore_members (index),
        side text not null check (side in ('left', 'right')),
        iv bytea not null check (length(iv) = 12),
        ciphertext bytea not null,
        primary key (member_index, side)
      );
    `,
  },
  {
    id: 6,
    name: 'uniqueness-proof verification: app actions, spent nullifiers, group size at each root',
    sql: `
      create table verify_actions (
        app_id text not null,
        action text not null,
        max_verifications integer not null check (max_verifications > 0),
        description text,
        created_at_ms bigint not null,
        primary key (app_id, action)
      );
      create table verify_nullifiers (
        app_id text not null,
        action text not null,
        nullifier text not null,
        uses integer not null check (uses > 0),
        created_at_ms bigint not null,
        last_used_at_ms bigint not null,
        primary key (app_id, action, nullifier),
        foreign key (app_id, action) references verify_actions (app_id, action)
      );
      alter table semaphore_roots add column size bigint check (size > 0);
    `,
  },
];

/** An arbitrary constant naming this project's migration lock. */
const MIGRATION_LOCK = 7_311_842;

/** Applies the migrations not yet applied; returns the ids it applied. */
export async function migrate(db: Database): Promise<number[]> {
  await db.query(
    'create table if not exists schema_migrations (id integer primary key, name text not null, applied_at timestamptz not null default now())',
  );
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    const ran = await db.transaction(async (sql) => {
      await sql.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const done = await sql.query('select 1 from schema_migrations where id = $1', [migration.id]);
      if (done.length > 0) return false;
      await sql.exec(migration.sql);
      await sql.query('insert into schema_migrations (id, name) values ($1, $2)', [
        migration.id,
        migration.name,
      ]);
      return true;
    });
    if (ran) applied.push(migration.id);
  }
  return applied;
}
