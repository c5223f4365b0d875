/**
 * What POST /v1/verify/:appId needs kept: the actions each app opened (registered by the operator, with how
 * many times one person may use each) and the nullifiers spent on them, with their uses.
 *
 * A use is counted by one atomic statement (insert, or add one while below the limit), so concurrent
 * verifications of one nullifier, in one backend or several on one PostgreSQL, never count more uses than
 * the action allows.
 */
import { sqlNullifierStore } from '../protocol/nullifier-store.ts';
import type { NullifierStore } from '../protocol/uniqueness-proof.ts';
import type { Database } from './storage/database.ts';

export interface VerifyAction {
  appId: string;
  action: string;
  /** How many times one person (one nullifier) may use the action. */
  maxVerifications: number;
  description: string | null;
  createdAtMs: number;
}

interface ActionRow {
  app_id: string;
  action: string;
  max_verifications: number;
  description: string | null;
  created_at_ms: string | number;
}

const actionOf = (row: ActionRow): VerifyAction => ({
  appId: row.app_id,
  action: row.action,
  maxVerifications: Number(row.max_verifications),
  description: row.description,
  createdAtMs: Number(row.created_at_ms),
});

export class VerifyActions {
  constructor(private readonly db: Database) {}

  /**
   * Opens an action for an app, or, when it is open already, sets its limit and description to these
   * (its creation time stays); `created` says which.
   */
  async register(
    { appId, action, maxVerifications, description }: Omit<VerifyAction, 'createdAtMs'>,
    now: number,
  ): Promise<{ action: VerifyAction; created: boolean }> {
    const [row] = await this.db.query<ActionRow & { created: boolean }>(
      `insert into verify_actions (app_id, action, max_verifications, description, created_at_ms)
         values ($1, $2, $3, $4, $5)
       on conflict (app_id, action) do update
         set max_verifications = excluded.max_verifications, description = excluded.description
       returning *, (xmax = 0) as created`,
      [appId, action, maxVerifications, description, now],
    );
    if (!row) throw new Error('insert ... returning gave no row');
    return { action: actionOf(row), created: row.created };
  }

  /** The app's actions, by name. */
  async list(appId: string): Promise<VerifyAction[]> {
    const rows = await this.db.query<ActionRow>(
      'select * from verify_actions where app_id = $1 order by action',
      [appId],
    );
    return rows.map(actionOf);
  }

  async get(appId: string, action: string): Promise<VerifyAction | undefined> {
    const [row] = await this.db.query<ActionRow>(
      'select * from verify_actions where app_id = $1 and action = $2',
      [appId, action],
    );
    return row ? actionOf(row) : undefined;
  }
}

/**
 * The spent nullifiers, in table verify_nullifiers (protocol/nullifier-store.ts); the action must be
 * registered (its foreign key).
 */
export function verifyNullifiers(db: Database): NullifierStore {
  return sqlNullifierStore(
    { query: async (text, params) => ({ rows: await db.query(text, params) }) },
    { table: 'verify_nullifiers', create: false },
  );
}
