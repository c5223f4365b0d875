/**
 * The device agent's durable outbox: every signed signup is written to disk before it is sent, and stays
 * there until the backend has answered it for good. It survives the backend being down and the agent being
 * killed (kill -9, power loss) at any moment.
 *
 * On disk, one folder per outbox, written by one process at a time:
 *
 *   <dir>/pending/<id>.json      a signup not yet answered for good, one record per file:
 *                                {version, id, sequence, createdAtMs, attempts, lastAttemptAtMs?, lastError?, body}
 *   <dir>/delivered/<id>.json    the same record plus {deliveredAtMs, reply}: the backend stored the signup
 *   <dir>/rejected/<id>.json     the same record plus {rejectedAtMs, code, message}: refused for good
 *   <dir>/corrupt/<from>-<name>-<ms>   a file that did not parse (a disk that lied), kept for inspection
 *   <folder>/.<name>.<pid>-<random>.tmp   a write in progress in that folder: never read, removed on open
 *
 * `<id>` is the signup's digest as 64 lower-case hex characters; `sequence` orders pending records (oldest
 * first) and never goes back, even if the wall clock does (a board without a real-time clock).
 *
 * Guarantees:
 * - put() resolves only once the record is durable: written to a temp file in the same folder, fsynced,
 *   renamed to `<id>.json`, and the folder fsynced. A crash at any moment leaves either no record (put had
 *   not resolved) or the whole record, never a torn one. Every later change to a record (the attempt count,
 *   the final answer) is written the same way, so a record file is always a whole old or new version.
 * - put() of an id the outbox already knows (pending, delivered or rejected) does nothing: one capture never
 *   becomes two records, and a delivered signup is never brought back.
 * - Finishing a record writes it into delivered/ or rejected/ (temp, fsync, rename, fsync) and only then
 *   unlinks the pending copy (and fsyncs pending/). A crash in between leaves both; open() keeps the final
 *   one. So a pending signup is never forgotten, and a finished one is never sent again.
 * - Delivery is at least once: a crash after the backend stored a signup and before its answer reached the
 *   disk sends it again on restart. The backend is idempotent by the digest (it answers the same, marked
 *   replayed), which makes the whole exactly once.
 * - The sender sends pending records one at a time, oldest first, so the per-device counters inside the
 *   envelopes reach the backend in increasing order. Transient failures are retried with exponential backoff
 *   and full jitter; the attempt count is persisted.
 * - A file that is not a temp file and does not parse is moved to corrupt/ and reported, never fatal.
 *
 * `Outbox.open(dir, { readOnly: true })` only reads (for `irisgate device status` while the agent runs):
 * it creates and removes nothing, and put() and the sender refuse with `outbox_read_only`.
 */
import { mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { removeTempFiles, syncDir, writeDurably } from '../protocol/durable-file.ts';
import { IrisgateError } from '../protocol/errors.ts';

export type OutboxState = 'pending' | 'delivered' | 'rejected';

/** A signup waiting in pending/. */
export interface PendingRecord {
  version: 1;
  /** The signup's digest, 64 lower-case hex. */
  id: string;
  /** Orders pending records: max(wall clock, previous + 1) at put time. */
  sequence: number;
  createdAtMs: number;
  /** How many times it was sent without a final answer (a killed agent's last attempt is not counted). */
  attempts: number;
  lastAttemptAtMs?: number;
  lastError?: string;
  /** The signed signup, `{envelope, signature}`, as it is sent. */
  body: unknown;
}

export interface DeliveredRecord extends PendingRecord {
  deliveredAtMs: number;
  /** The backend's answer (its receipt). */
  reply: unknown;
}

export interface RejectedRecord extends PendingRecord {
  rejectedAtMs: number;
  code: string;
  message: string;
}

export type OutboxItem =
  | { state: 'pending'; record: PendingRecord }
  | { state: 'delivered'; record: DeliveredRecord }
  | { state: 'rejected'; record: RejectedRecord };

/** One line of `irisgate device status`. */
export interface OutboxEntry {
  id: string;
  state: OutboxState;
  createdAtMs: number;
  attempts: number;
  sizeBytes: number;
  lastAttemptAtMs?: number;
  lastError?: string;
  /** When it was delivered or rejected. */
  finishedAtMs?: number;
  /** Why it was rejected. */
  code?: string;
  message?: string;
  /** The file exists but does not parse (createdAtMs is then its modification time). */
  unreadable?: true;
}

export interface OutboxCounts {
  pending: number;
  delivered: number;
  rejected: number;
  corrupt: number;
}

/** What deliver() made of one attempt. */
export type DeliveryOutcome =
  /** Final: the backend stored the signup (or had stored it before: a replay). */
  | { kind: 'delivered'; reply: unknown }
  /** Final: the backend refused it for good (duplicate_identity, invalid_signature, ...). */
  | { kind: 'rejected'; code: string; message: string }
  /** Transient (backend down, 5xx, 429, timeout): send again later, not before retryAfterMs if given. */
  | { kind: 'retry'; reason: string; retryAfterMs?: number };

export type Deliver = (record: PendingRecord, context: { signal: AbortSignal }) => Promise<DeliveryOutcome>;

export interface BackoffOptions {
  /** The first retry's ceiling (default 500 ms). */
  initialMs?: number;
  /** Each further retry multiplies the ceiling by this (default 2). */
  factor?: number;
  /** The ceiling never exceeds this (default 30 s). */
  maxMs?: number;
  /** 'full' (default): a uniform delay in [0, ceiling); 'none': the ceiling itself. */
  jitter?: 'full' | 'none';
  /** For tests: the source of the jitter (default Math.random). */
  random?: () => number;
}

export type OutboxEvent =
  /** Sending a record; attempts counts this attempt. */
  | { type: 'attempt'; id: string; attempts: number }
  | { type: 'delivered'; id: string; attempts: number }
  | { type: 'rejected'; id: string; attempts: number; code: string; reason: string }
  | { type: 'retry'; id: string; attempts: number; delayMs: number; reason: string }
  /** A file that did not parse, moved to corrupt/ (movedTo). */
  | { type: 'corrupt'; file: string; movedTo: string; id?: string; reason: string }
  /** The disk failed under the sender (full, read-only); it backs off and tries again. */
  | { type: 'error'; id?: string; reason: string };

export interface SendOptions {
  deliver: Deliver;
  backoff?: BackoffOptions;
  /** Stops the sender (also passed to deliver). */
  signal?: AbortSignal;
  /** For logs and the status display; an exception it throws is ignored. */
  onEvent?: (event: OutboxEvent) => void;
}

export interface FlushOptions extends SendOptions {
  /** Give up after this long (default: no limit). */
  timeoutMs?: number;
}

/** What open() found after a crash. */
export interface OutboxRecovery {
  /** Temp files of writes that never completed, removed. */
  removedTempFiles: string[];
  /** Ids found both pending and finished; the pending copy was removed. */
  resolvedDuplicates: string[];
  /** Files moved to corrupt/ (also reported as events by the first send() or flush()). */
  corruptFiles: string[];
}

const DEFAULT_BACKOFF = { initialMs: 500, factor: 2, maxMs: 30_000 } as const;

const ID_PATTERN = /^[0-9a-f]{64}$/;
const RECORD_NAME = /^([0-9a-f]{64})\.json$/;
const FINAL_STATES = ['delivered', 'rejected'] as const;
const IDLE_RECHECK_MS = 60_000;

/**
 * The wait before retrying a record that has failed `attempts` times: a ceiling of
 * initialMs * factor^(attempts - 1), at most maxMs, and with full jitter a uniform delay below it.
 */
export function backoffDelayMs(attempts: number, options: BackoffOptions = {}): number {
  const initialMs = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const factor = options.factor ?? DEFAULT_BACKOFF.factor;
  const maxMs = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const ceiling = Math.min(maxMs, initialMs * factor ** Math.max(0, attempts - 1));
  if (options.jitter === 'none') return Math.round(ceiling);
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

function checkId(id: unknown): void {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw new IrisgateError(
      'invalid_argument',
      'an outbox id is a signup digest: 64 lower-case hex characters',
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** The record if `data` is a whole one for `id` in `state`, else why not. */
function parseRecord(data: string, id: string, state: OutboxState): PendingRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (error) {
    return `not JSON: ${messageOf(error)}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  if (record.version !== 1) return 'unknown record version';
  if (record.id !== id) return 'the record names another id than its file';
  if (!Number.isFinite(record.sequence) || !Number.isFinite(record.createdAtMs)) return 'no sequence or time';
  if (!Number.isSafeInteger(record.attempts) || (record.attempts as number) < 0) return 'bad attempt count';
  if (!('body' in record)) return 'no body';
  if (state === 'delivered' && (!Number.isFinite(record.deliveredAtMs) || !('reply' in record))) {
    return 'a delivered record without its reply';
  }
  if (state === 'rejected' && (!Number.isFinite(record.rejectedAtMs) || typeof record.code !== 'string')) {
    return 'a rejected record without its code';
  }
  return record as unknown as PendingRecord;
}

interface PendingIndexEntry {
  sequence: number;
  createdAtMs: number;
}

type ReadResult = { record: PendingRecord; sizeBytes: number } | { missing: true } | { corrupt: string };

export class Outbox {
  readonly dir: string;
  readonly readOnly: boolean;
  readonly recovery: OutboxRecovery;
  /** Pending ids (writable outboxes only): what the sender works from. */
  readonly #pending = new Map<string, PendingIndexEntry>();
  readonly #finished = { delivered: new Set<string>(), rejected: new Set<string>() };
  /** put() calls in progress, so that a second put of the same id waits for the first. */
  readonly #writing = new Map<string, Promise<void>>();
  /** Wakes a sleeping sender (a put, or the sender stopping). */
  readonly #wakers = new Set<() => void>();
  #lastSequence = 0;
  #sending = false;
  #recovering = false;
  /** Corrupt files found by open(), reported by the next sender. */
  #unreported: OutboxEvent[] = [];

  private constructor(dir: string, readOnly: boolean) {
    this.dir = resolve(dir);
    this.readOnly = readOnly;
    this.recovery = { removedTempFiles: [], resolvedDuplicates: [], corruptFiles: [] };
  }

  /**
   * Opens (and creates) the outbox in `dir`, and recovers from a crash: removes temp files of writes that
   * never completed, resolves an id both pending and finished in favour of the finished record, and moves
   * pending files that do not parse to corrupt/.
   */
  static async open(dir: string, options: { readOnly?: boolean } = {}): Promise<Outbox> {
    const outbox = new Outbox(dir, options.readOnly ?? false);
    if (!outbox.readOnly) {
      outbox.#recovering = true;
      await outbox.#recover();
      outbox.#recovering = false;
    }
    return outbox;
  }

  #folder(name: OutboxState | 'corrupt'): string {
    return join(this.dir, name);
  }

  async #recover(): Promise<void> {
    const created = await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of ['pending', 'delivered', 'rejected', 'corrupt'] as const) {
      await mkdir(this.#folder(name), { recursive: true, mode: 0o700 });
    }
    // The new folders' names must be durable too: fsync the outbox folder and the parents mkdir made.
    await syncDir(this.dir);
    if (created !== undefined) {
      const top = dirname(created);
      for (let parent = dirname(this.dir); ; parent = dirname(parent)) {
        await syncDir(parent);
        if (parent === top || parent === dirname(parent)) break;
      }
    }

    const changed = new Set<string>();
    const names: Record<OutboxState, string[]> = { pending: [], delivered: [], rejected: [] };
    for (const state of ['pending', ...FINAL_STATES] as const) {
      const removed = await removeTempFiles(this.#folder(state));
      this.recovery.removedTempFiles.push(...removed.map((name) => join(state, name)));
      if (removed.length > 0) changed.add(this.#folder(state));
      for (const name of await readdir(this.#folder(state)))
        if (RECORD_NAME.test(name)) names[state].push(name);
    }

    for (const state of FINAL_STATES) {
      for (const name of names[state]) this.#finished[state].add(name.slice(0, 64));
    }

    for (const name of names.pending) {
      const id = name.slice(0, 64);
      const finalState = FINAL_STATES.find((state) => this.#finished[state].has(id));
      if (finalState !== undefined) {
        // Killed between writing the final record and unlinking the pending one: the final one wins, if whole.
        const final = await this.#read(finalState, id);
        if ('record' in final) {
          await unlink(join(this.#folder('pending'), name)).catch(() => {});
          this.recovery.resolvedDuplicates.push(id);
          changed.add(this.#folder('pending'));
          continue;
        }
        this.#finished[finalState].delete(id);
        if ('corrupt' in final) await this.#moveCorrupt(finalState, name, final.corrupt, id);
      }
      const read = await this.#read('pending', id);
      if ('record' in read) {
        this.#pending.set(id, { sequence: read.record.sequence, createdAtMs: read.record.createdAtMs });
        this.#lastSequence = Math.max(this.#lastSequence, read.record.sequence);
      } else if ('corrupt' in read) {
        await this.#moveCorrupt('pending', name, read.corrupt, id);
      }
    }
    for (const folder of changed) await syncDir(folder);
  }

  async #read(state: OutboxState, id: string): Promise<ReadResult> {
    let data: string;
    try {
      data = await readFile(join(this.#folder(state), `${id}.json`), 'utf8');
    } catch (error) {
      if (isMissing(error)) return { missing: true };
      throw error;
    }
    const record = parseRecord(data, id, state);
    return typeof record === 'string' ? { corrupt: record } : { record, sizeBytes: Buffer.byteLength(data) };
  }

  /** Moves an unreadable file out of the way into corrupt/ and queues its report. */
  async #moveCorrupt(state: OutboxState, name: string, reason: string, id?: string): Promise<OutboxEvent> {
    const file = join(this.#folder(state), name);
    const movedTo = join(this.#folder('corrupt'), `${state}-${name}-${Date.now()}`);
    await rename(file, movedTo);
    await syncDir(this.#folder('corrupt'));
    await syncDir(this.#folder(state));
    if (state === 'pending' && id !== undefined) this.#pending.delete(id);
    const event: OutboxEvent = { type: 'corrupt', file, movedTo, reason, ...(id ? { id } : {}) };
    this.#unreported.push(event);
    if (this.#recovering) this.recovery.corruptFiles.push(file);
    return event;
  }

  #checkWritable(): void {
    if (this.readOnly)
      throw new IrisgateError('outbox_read_only', `the outbox ${this.dir} is open read-only`);
  }

  /**
   * Stores a signup durably under its digest; resolves once it is on disk (fsynced). Does nothing if the id
   * is already pending, delivered or rejected. Wakes a sleeping sender.
   */
  async put(id: string, body: unknown): Promise<void> {
    checkId(id);
    this.#checkWritable();
    if (body === undefined) throw new IrisgateError('invalid_argument', 'an outbox record needs a body');
    const writing = this.#writing.get(id);
    if (writing) return writing;
    if (this.#pending.has(id) || this.#finished.delivered.has(id) || this.#finished.rejected.has(id)) return;
    const createdAtMs = Date.now();
    const sequence = Math.max(createdAtMs, this.#lastSequence + 1);
    this.#lastSequence = sequence;
    const record: PendingRecord = { version: 1, id, sequence, createdAtMs, attempts: 0, body };
    const write = (async () => {
      await writeDurably(this.#folder('pending'), `${id}.json`, JSON.stringify(record));
      this.#pending.set(id, { sequence, createdAtMs });
      this.#wake();
    })();
    this.#writing.set(id, write);
    try {
      await write;
    } finally {
      this.#writing.delete(id);
    }
  }

  /** The record under this id, in whichever state it is; undefined if the outbox never had it. */
  async get(id: string): Promise<OutboxItem | undefined> {
    checkId(id);
    for (const state of [...FINAL_STATES, 'pending'] as const) {
      const read = await this.#read(state, id);
      if ('record' in read) return { state, record: read.record } as OutboxItem;
      if ('corrupt' in read) {
        throw new IrisgateError('outbox_corrupt', `${join(state, `${id}.json`)}: ${read.corrupt}`);
      }
    }
    return undefined;
  }

  /** Records per state, read from the folders (a finished id still also pending counts as finished). */
  async counts(): Promise<OutboxCounts> {
    const ids = await this.#listIds();
    let corrupt = 0;
    try {
      corrupt = (await readdir(this.#folder('corrupt'))).length;
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    return {
      pending: ids.pending.length,
      delivered: ids.delivered.length,
      rejected: ids.rejected.length,
      corrupt,
    };
  }

  async #listIds(): Promise<Record<OutboxState, string[]>> {
    const ids: Record<OutboxState, string[]> = { pending: [], delivered: [], rejected: [] };
    for (const state of ['pending', ...FINAL_STATES] as const) {
      let names: string[];
      try {
        names = await readdir(this.#folder(state));
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      for (const name of names) if (RECORD_NAME.test(name)) ids[state].push(name.slice(0, 64));
    }
    const finished = new Set([...ids.delivered, ...ids.rejected]);
    ids.pending = ids.pending.filter((id) => !finished.has(id));
    return ids;
  }

  /**
   * Entries (all states, or one), oldest first: pending in sending order, finished ones by creation time.
   * Reads every record; meant for the status display, not for a loop.
   */
  async list(state?: OutboxState): Promise<OutboxEntry[]> {
    const ids = await this.#listIds();
    const entries: (OutboxEntry & { sequence: number })[] = [];
    for (const current of ['pending', ...FINAL_STATES] as const) {
      if (state !== undefined && state !== current) continue;
      for (const id of ids[current]) {
        const read = await this.#read(current, id);
        if ('missing' in read) continue; // sent or moved meanwhile
        if ('corrupt' in read) {
          const info = await stat(join(this.#folder(current), `${id}.json`)).catch(() => undefined);
          if (!info) continue;
          entries.push({
            id,
            state: current,
            createdAtMs: info.mtimeMs,
            attempts: 0,
            sizeBytes: info.size,
            unreadable: true,
            sequence: info.mtimeMs,
          });
          continue;
        }
        const { record, sizeBytes } = read;
        const entry: OutboxEntry & { sequence: number } = {
          id,
          state: current,
          createdAtMs: record.createdAtMs,
          attempts: record.attempts,
          sizeBytes,
          sequence: record.sequence,
        };
        if (record.lastAttemptAtMs !== undefined) entry.lastAttemptAtMs = record.lastAttemptAtMs;
        if (record.lastError !== undefined) entry.lastError = record.lastError;
        if (current === 'delivered') entry.finishedAtMs = (record as DeliveredRecord).deliveredAtMs;
        if (current === 'rejected') {
          const rejected = record as RejectedRecord;
          entry.finishedAtMs = rejected.rejectedAtMs;
          entry.code = rejected.code;
          entry.message = rejected.message;
        }
        entries.push(entry);
      }
    }
    const rank = (entry: OutboxEntry) => (entry.state === 'pending' ? 1 : 0);
    entries.sort(
      (a, b) =>
        rank(a) - rank(b) ||
        (a.state === 'pending'
          ? a.sequence - b.sequence
          : a.createdAtMs - b.createdAtMs || a.sequence - b.sequence),
    );
    return entries.map(({ sequence: _sequence, ...entry }) => entry);
  }

  /**
   * Removes delivered and rejected records finished before `finishedBeforeMs`: they hold a signed iris
   * template and an eye image, so a device keeps them no longer than its operator needs them. Pending
   * records are never touched. Returns how many were removed. A finished record is written once, when it
   * finishes, so its file's modification time is its finish time: no record is read.
   */
  async prune(finishedBeforeMs: number): Promise<number> {
    this.#checkWritable();
    let removed = 0;
    for (const state of FINAL_STATES) {
      const folder = this.#folder(state);
      let changed = false;
      for (const name of await readdir(folder)) {
        if (!RECORD_NAME.test(name)) continue;
        const finished = await stat(join(folder, name)).catch(() => undefined);
        if (!finished || finished.mtimeMs >= finishedBeforeMs) continue;
        // The id stays known to this process, so a put of it is still a no-op.
        await unlink(join(folder, name)).catch(() => {});
        changed = true;
        removed++;
      }
      if (changed) await syncDir(folder);
    }
    return removed;
  }

  /** Pending ids in sending order (writable outboxes: the in-memory index). */
  pendingIds(): string[] {
    return [...this.#pending.entries()].sort((a, b) => a[1].sequence - b[1].sequence).map(([id]) => id);
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /** Resolves after ms, on a put, or when the signal aborts. */
  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#wakers.add(done);
    });
  }

  /**
   * Sends pending records, oldest first and one at a time, until the signal aborts; sleeps while there
   * are none. A put() wakes it, also from a backoff (the oldest record is then tried again at once).
   */
  async send(options: SendOptions): Promise<void> {
    await this.#run(options, options.signal ?? new AbortController().signal, false);
  }

  /**
   * Sends until nothing is pending, the timeout passes or the signal aborts. `drained` tells whether
   * pending is empty; `pending` how many are left.
   */
  async flush(options: FlushOptions): Promise<{ drained: boolean; pending: number }> {
    const signals = [
      options.signal,
      options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs),
    ];
    const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
    const signal = present.length === 0 ? new AbortController().signal : AbortSignal.any(present);
    await this.#run(options, signal, true);
    return { drained: this.#pending.size === 0, pending: this.#pending.size };
  }

  async #run(options: SendOptions, signal: AbortSignal, untilEmpty: boolean): Promise<void> {
    this.#checkWritable();
    if (this.#sending) throw new IrisgateError('outbox_busy', `the outbox ${this.dir} already has a sender`);
    this.#sending = true;
    const emit = (event: OutboxEvent) => {
      try {
        options.onEvent?.(event);
      } catch {
        // A logging callback never stops the sender.
      }
    };
    let diskFailures = 0;
    try {
      while (!signal.aborted) {
        for (const event of this.#unreported.splice(0)) emit(event);
        const id = this.pendingIds()[0];
        if (id === undefined) {
          if (untilEmpty) return;
          // Woken by a put; the timer only keeps the process alive while it waits.
          await this.#sleep(IDLE_RECHECK_MS, signal);
          continue;
        }
        try {
          const delayMs = await this.#attempt(id, options, signal, emit);
          diskFailures = 0;
          if (delayMs !== undefined) await this.#sleep(delayMs, signal);
        } catch (error) {
          // The disk failed (full, gone read-only): keep the record pending and try again later.
          diskFailures++;
          emit({ type: 'error', id, reason: messageOf(error) });
          await this.#sleep(backoffDelayMs(diskFailures, options.backoff), signal);
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  /** One attempt at the oldest pending record; the backoff to wait after it, if it is to be retried. */
  async #attempt(
    id: string,
    options: SendOptions,
    signal: AbortSignal,
    emit: (event: OutboxEvent) => void,
  ): Promise<number | undefined> {
    const read = await this.#read('pending', id);
    if ('missing' in read) {
      this.#pending.delete(id);
      return undefined;
    }
    if ('corrupt' in read) {
      await this.#moveCorrupt('pending', `${id}.json`, read.corrupt, id);
      for (const event of this.#unreported.splice(0)) emit(event);
      return undefined;
    }
    const { record } = read;
    const attempts = record.attempts + 1;
    const attemptAtMs = Date.now();
    emit({ type: 'attempt', id, attempts });
    let outcome: DeliveryOutcome;
    try {
      outcome = await options.deliver(record, { signal });
    } catch (error) {
      outcome = { kind: 'retry', reason: messageOf(error) };
    }
    const tried = { ...record, attempts, lastAttemptAtMs: attemptAtMs };
    switch (outcome.kind) {
      case 'delivered': {
        const final: DeliveredRecord = { ...tried, deliveredAtMs: Date.now(), reply: outcome.reply };
        delete final.lastError;
        await this.#finish('delivered', final);
        emit({ type: 'delivered', id, attempts });
        return undefined;
      }
      case 'rejected': {
        const final: RejectedRecord = {
          ...tried,
          rejectedAtMs: Date.now(),
          code: outcome.code,
          message: outcome.message,
        };
        await this.#finish('rejected', final);
        emit({ type: 'rejected', id, attempts, code: outcome.code, reason: outcome.message });
        return undefined;
      }
      default: {
        // Stopped while sending: not a failure of the record's, nothing to count.
        if (signal.aborted) return undefined;
        const pending: PendingRecord = { ...tried, lastError: outcome.reason };
        await writeDurably(this.#folder('pending'), `${id}.json`, JSON.stringify(pending));
        const delayMs = Math.max(backoffDelayMs(attempts, options.backoff), outcome.retryAfterMs ?? 0);
        emit({ type: 'retry', id, attempts, delayMs, reason: outcome.reason });
        return delayMs;
      }
    }
  }

  /** Final record into delivered/ or rejected/ (durable), then the pending copy removed (durable). */
  async #finish(state: 'delivered' | 'rejected', record: DeliveredRecord | RejectedRecord): Promise<void> {
    await writeDurably(this.#folder(state), `${record.id}.json`, JSON.stringify(record));
    this.#finished[state].add(record.id);
    this.#pending.delete(record.id);
    await unlink(join(this.#folder('pending'), `${record.id}.json`)).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
    await syncDir(this.#folder('pending'));
  }
}
