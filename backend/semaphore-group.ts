/**
 * The Semaphore group of unique humans, kept durable in the database with its root history.
 *
 * Members are stored in insertion order; the Lean IMT (Semaphore v4) is rebuilt from them at start and
 * checked against the last root recorded, so a database edited behind the backend's back is noticed. Every
 * insertion records the new root; a root stays valid for `rootExpiryMs` after a newer one replaces it
 * (World ID: 1 hour), the current root always. Capacity is 2^depth members (default depth 20), the
 * largest group the shipped proof artifacts can prove membership in.
 *
 * Each root row keeps the group's size at that root, so the backend can sign statements about any root it
 * issued (protocol/root-statement.ts); rows from before the size was recorded get it at the next start.
 */
import { Group } from '@semaphore-protocol/core';
import { SHIPPED_DEPTH } from '../circuits/artifacts.ts';
import { IrisgateError } from '../protocol/errors.ts';
import type { RootRecord } from '../protocol/uniqueness-proof.ts';
import type { Database, Sql } from './storage/database.ts';

/** The depth of the shipped proof artifacts: up to 2^20 members. */
export const DEFAULT_TREE_DEPTH = SHIPPED_DEPTH;
export const DEFAULT_ROOT_EXPIRY_MS = 60 * 60 * 1000;

export type RootStatus = 'current' | 'valid' | 'expired' | 'unknown';

export interface InclusionProof {
  root: bigint;
  leaf: bigint;
  index: number;
  siblings: bigint[];
}

/** Adds a member inside SemaphoreGroupStore.transaction; returns its index and the new root. */
export type AddMember = (commitment: bigint, now?: number) => Promise<{ index: number; root: bigint }>;

/** What the backend recorded of a root it issued: when, until when it was current, and the group's size. */
export interface StoredRoot extends RootRecord {
  size: number;
}

interface RootRow {
  root: string;
  created_at_ms: string | number;
  superseded_at_ms: string | number | null;
  size: string | number | null;
}

/** Rebuilds the tree from the stored members and checks it against the current root recorded. */
async function loadGroup(db: Database): Promise<Group> {
  const members = await db.query<{ commitment: string }>(
    'select commitment from semaphore_members order by index',
  );
  const group = new Group(members.map((m) => BigInt(m.commitment)));
  const [current] = await db.query<RootRow>(
    'select root from semaphore_roots where superseded_at_ms is null',
  );
  const expected = current ? BigInt(current.root) : 0n;
  if (group.root !== expected) {
    throw new IrisgateError(
      'group_integrity',
      `members give root ${group.root}, the history says ${expected}`,
    );
  }
  return group;
}

/**
 * Records the group size of roots recorded before sizes were (migration 6): the members are replayed in
 * order until every such root is found. Runs once; a root the replay never gives keeps no size.
 */
async function recordMissingRootSizes(db: Database): Promise<void> {
  const missing = new Set(
    (await db.query<{ root: string }>('select root from semaphore_roots where size is null')).map(
      (row) => row.root,
    ),
  );
  if (missing.size === 0) return;
  const members = await db.query<{ commitment: string }>(
    'select commitment from semaphore_members order by index',
  );
  const replay = new Group();
  await db.transaction(async (sql) => {
    for (const member of members) {
      if (missing.size === 0) break;
      replay.addMember(BigInt(member.commitment));
      const root = replay.root.toString();
      if (!missing.delete(root)) continue;
      await sql.query('update semaphore_roots set size = $1 where root = $2', [replay.size, root]);
    }
  });
}

export class SemaphoreGroupStore {
  /** Commitment -> leaf index (Group.indexOf scans every leaf). */
  #indices = new Map<bigint, number>();

  private constructor(
    private readonly db: Database,
    private group: Group,
    readonly depth: number,
    readonly rootExpiryMs: number,
  ) {
    this.#indexLeaves();
  }

  #indexLeaves(): void {
    this.#indices = new Map(this.group.members.map((member, index) => [member, index]));
  }

  /** Loads the group from the database and checks its root against the last one recorded. */
  static async open(
    db: Database,
    { depth = DEFAULT_TREE_DEPTH, rootExpiryMs = DEFAULT_ROOT_EXPIRY_MS } = {},
  ): Promise<SemaphoreGroupStore> {
    const group = await loadGroup(db);
    await recordMissingRootSizes(db);
    return new SemaphoreGroupStore(db, group, depth, rootExpiryMs);
  }

  get root(): bigint {
    return this.group.root;
  }

  get size(): number {
    return this.group.size;
  }

  /**
   * Adds a commitment and records the new root, in one transaction; throws duplicate_commitment or
   * group_full.
   */
  add(commitment: bigint, now = Date.now()): Promise<{ index: number; root: bigint }> {
    return this.transaction((_sql, addMember) => addMember(commitment, now));
  }

  /**
   * Runs fn in one database transaction with `addMember`, so a caller's own writes (an enrolment, its
   * audit entry) commit or roll back together with the membership. Insertions are serialised by a table
   * lock, so members have one order everywhere; if the transaction fails after the tree grew, the tree is
   * taken back from the database.
   */
  async transaction<T>(fn: (sql: Sql, addMember: AddMember) => Promise<T>): Promise<T> {
    let added = false;
    try {
      return await this.db.transaction((sql) =>
        fn(sql, async (commitment, now = Date.now()) => {
          await sql.query('lock table semaphore_members in exclusive mode');
          if (this.#indices.has(commitment)) {
            throw new IrisgateError('duplicate_commitment', 'this identity commitment is already a member');
          }
          if (this.group.size >= 2 ** this.depth) {
            throw new IrisgateError('group_full', `the group holds its maximum of 2^${this.depth} members`);
          }
          const index = this.group.size;
          this.group.addMember(commitment);
          this.#indices.set(commitment, index);
          added = true;
          const root = this.group.root;
          await sql.query(
            'insert into semaphore_members (index, commitment, inserted_at_ms) values ($1, $2, $3)',
            [index, commitment.toString(), now],
          );
          await sql.query('update semaphore_roots set superseded_at_ms = $1 where superseded_at_ms is null', [
            now,
          ]);
          await sql.query('insert into semaphore_roots (root, created_at_ms, size) values ($1, $2, $3)', [
            root.toString(),
            now,
            index + 1,
          ]);
          return { index, root };
        }),
      );
    } catch (error) {
      if (added) {
        this.group = await loadGroup(this.db);
        this.#indexLeaves();
      }
      throw error;
    }
  }

  /** Whether the commitment is a member. */
  has(commitment: bigint): boolean {
    return this.#indices.has(commitment);
  }

  /** Whether a root may be used in a proof now: the current root, or one replaced less than the expiry ago. */
  async rootStatus(root: bigint, now = Date.now()): Promise<RootStatus> {
    return this.statusOf(await this.rootRecord(root), now);
  }

  /** The status of a root from its record (undefined: a root never issued). */
  statusOf(record: RootRecord | undefined, now = Date.now()): RootStatus {
    if (!record) return 'unknown';
    if (record.supersededAtMs === null) return 'current';
    return now - record.supersededAtMs < this.rootExpiryMs ? 'valid' : 'expired';
  }

  /**
   * What was recorded of a root this group had (a RootSource's lookup, protocol/uniqueness-proof.ts), or
   * undefined for a root it never had. Only committed roots: the tree may run ahead of the database while
   * a member is being added.
   */
  async rootRecord(root: bigint): Promise<StoredRoot | undefined> {
    const [row] = await this.db.query<RootRow>('select * from semaphore_roots where root = $1', [
      root.toString(),
    ]);
    if (!row) return undefined;
    return {
      createdAtMs: Number(row.created_at_ms),
      supersededAtMs: row.superseded_at_ms === null ? null : Number(row.superseded_at_ms),
      size: Number(row.size),
    };
  }

  /** The Merkle inclusion proof of a member against the current root. */
  inclusionProof(commitment: bigint): InclusionProof {
    const index = this.#indices.get(commitment);
    if (index === undefined)
      throw new IrisgateError('not_a_member', 'this identity commitment is not in the group');
    const proof = this.group.generateMerkleProof(index);
    return { root: proof.root, leaf: proof.leaf, index: proof.index, siblings: proof.siblings };
  }
}
