/**
 * The device outbox on a real filesystem: put/list/get, the sender (order, final answers, backoff, abort,
 * wake-up), recovery from a crash (temp files, an id both pending and delivered, corrupt files), and the
 * agent killed with SIGKILL mid-request and mid-put in a child process against a real HTTP server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  type DeliveryOutcome,
  Outbox,
  type OutboxEvent,
  type PendingRecord,
} from '../../device/outbox.ts';
import { IrisgateError } from '../../protocol/errors.ts';
import { signupBodyFor } from '../support/outbox-child.ts';

const work = mkdtempSync(join(tmpdir(), 'irisgate-outbox-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dirs = 0;
function freshDir(): string {
  dirs++;
  return join(work, `outbox-${dirs}`);
}

/** A signup digest: 64 lower-case hex. */
function idOf(label: string | number): string {
  return createHash('sha256').update(`signup-${label}`).digest('hex');
}

const FAST = { initialMs: 5, factor: 2, maxMs: 40 } as const;

const delivered = (reply: unknown = { stored: true }): DeliveryOutcome => ({ kind: 'delivered', reply });

/** Every file name under the outbox, by folder. */
async function tree(dir: string): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const folder of ['pending', 'delivered', 'rejected', 'corrupt']) {
    result[folder] = (await readdir(join(dir, folder))).sort();
  }
  return result;
}

function expectCode(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(IrisgateError);
  expect((error as IrisgateError).code).toBe(code);
}

describe('put, list, get', () => {
  it('stores a record durably and reads it back', async () => {
    const dir = freshDir();
    const outbox = await Outbox.open(dir);
    const [a, b] = [idOf('a'), idOf('b')];
    await outbox.put(a, { envelope: { n: 1 }, signature: 'aa' });
    await outbox.put(b, { envelope: { n: 2 }, signature: 'bb' });

    const item = await outbox.get(a);
    expect(item?.state).toBe('pending');
    expect(item?.record).toMatchObject({ id: a, attempts: 0, body: { envelope: { n: 1 }, signature: 'aa' } });
    expect(await outbox.get(idOf('never'))).toBeUndefined();
    const list = await outbox.list();
    expect(list.map((entry) => [entry.id, entry.state])).toEqual([
      [a, 'pending'],
      [b, 'pending'],
    ]);
    expect(list[0]?.sizeBytes).toBeGreaterThan(0);
    expect(await outbox.counts()).toEqual({ pending: 2, delivered: 0, rejected: 0, corrupt: 0 });
    expect((await tree(dir)).pending).toEqual([`${a}.json`, `${b}.json`].sort());

    // A second process (or a restart) sees the same.
    const again = await Outbox.open(dir);
    expect(again.pendingIds()).toEqual([a, b]);
  });

  it('keeps one entry for an id put twice, also concurrently', async () => {
    const dir = freshDir();
    const outbox = await Outbox.open(dir);
    const id = idOf('twice');
    await Promise.all([outbox.put(id, { n: 1 }), outbox.put(id, { n: 2 })]);
    await outbox.put(id, { n: 3 });
    expect(await outbox.counts()).toMatchObject({ pending: 1 });
    expect((await outbox.get(id))?.record.body).toEqual({ n: 1 });
    expect((await tree(dir)).pending).toEqual([`${id}.json`]);
  });

  it('does not bring back a delivered or rejected id', async () => {
    const dir = freshDir();
    const outbox = await Outbox.open(dir);
    const [ok, refused] = [idOf('ok'), idOf('refused')];
    await outbox.put(ok, { n: 1 });
    await outbox.put(refused, { n: 2 });
    await outbox.flush({
      deliver: async (record) =>
        record.id === ok
          ? delivered()
          : { kind: 'rejected', code: 'duplicate_identity', message: 'enrolled' },
    });
    await outbox.put(ok, { n: 1 });
    await outbox.put(refused, { n: 2 });
    expect(await outbox.counts()).toEqual({ pending: 0, delivered: 1, rejected: 1, corrupt: 0 });
    const reopened = await Outbox.open(dir);
    await reopened.put(ok, { n: 1 });
    await reopened.put(refused, { n: 2 });
    expect(await reopened.counts()).toEqual({ pending: 0, delivered: 1, rejected: 1, corrupt: 0 });
  });

  it('prunes finished records older than the cut-off, never a pending one', async () => {
    const dir = freshDir();
    const outbox = await Outbox.open(dir);
    const [ok, refused, waiting] = [idOf('p-ok'), idOf('p-refused'), idOf('p-waiting')];
    await outbox.put(ok, { n: 1 });
    await outbox.put(refused, { n: 2 });
    await outbox.flush({
      deliver: async (record) =>
        record.id === ok
          ? delivered()
          : { kind: 'rejected', code: 'duplicate_identity', message: 'enrolled' },
    });
    await outbox.put(waiting, { n: 3 });
    const finishedAt = Date.now();
    expect(await outbox.prune(finishedAt - 60_000)).toBe(0);
    expect(await outbox.counts()).toEqual({ pending: 1, delivered: 1, rejected: 1, corrupt: 0 });
    expect(await outbox.prune(finishedAt + 1)).toBe(2);
    expect(await tree(dir)).toMatchObject({ pending: [`${waiting}.json`], delivered: [], rejected: [] });
    // Still known to this outbox: a put of a pruned id does not bring it back.
    await outbox.put(ok, { n: 1 });
    expect(await outbox.counts()).toEqual({ pending: 1, delivered: 0, rejected: 0, corrupt: 0 });
    const reader = await Outbox.open(dir, { readOnly: true });
    await expect(reader.prune(Date.now())).rejects.toMatchObject({ code: 'outbox_read_only' });
  });

  it('refuses ids that are not a lower-case hex digest', async () => {
    const outbox = await Outbox.open(freshDir());
    for (const id of ['', 'abc', idOf(1).toUpperCase(), `${idOf(1)}0`, `../${idOf(1).slice(3)}`]) {
      await expect(outbox.put(id, {})).rejects.toSatisfy((error) => {
        expectCode(error, 'invalid_argument');
        return true;
      });
    }
    await expect(outbox.get('nope')).rejects.toBeInstanceOf(IrisgateError);
  });

  it('read-only: reads without touching anything and refuses to write', async () => {
    const dir = freshDir();
    const writer = await Outbox.open(dir);
    await writer.put(idOf('ro'), { n: 1 });
    const temp = join(dir, 'pending', `.${idOf('other')}.json.1-abcd.tmp`);
    await writeFile(temp, '{"half');
    const reader = await Outbox.open(dir, { readOnly: true });
    expect(await reader.counts()).toMatchObject({ pending: 1 });
    expect((await reader.list()).map((entry) => entry.id)).toEqual([idOf('ro')]);
    expect((await reader.get(idOf('ro')))?.state).toBe('pending');
    expect((await tree(dir)).pending).toContain(`.${idOf('other')}.json.1-abcd.tmp`);
    await expect(reader.put(idOf('x'), {})).rejects.toSatisfy((error) => {
      expectCode(error, 'outbox_read_only');
      return true;
    });
    await expect(reader.flush({ deliver: async () => delivered() })).rejects.toBeInstanceOf(IrisgateError);
    // A folder that holds no outbox yet reads as empty.
    const none = await Outbox.open(join(work, 'no-such-outbox'), { readOnly: true });
    expect(await none.counts()).toEqual({ pending: 0, delivered: 0, rejected: 0, corrupt: 0 });
    expect(await none.list()).toEqual([]);
  });
});

describe('backoff', () => {
  it('doubles from 500 ms up to 30 s, with full jitter below the ceiling', () => {
    const ceilings = [1, 2, 3, 4, 6, 7, 8, 20].map((n) => backoffDelayMs(n, { jitter: 'none' }));
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 16_000, 30_000, 30_000, 30_000]);
    expect(backoffDelayMs(3, { random: () => 0.5 })).toBe(1000);
    expect(backoffDelayMs(3, { random: () => 0 })).toBe(0);
    expect(backoffDelayMs(3, { initialMs: 10, factor: 3, maxMs: 50, jitter: 'none' })).toBe(50);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelayMs(4);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(4000);
    }
  });
});

describe('sender', () => {
  const controllers: AbortController[] = [];
  afterEach(() => {
    for (const controller of controllers.splice(0)) controller.abort();
  });
  function controller(): AbortController {
    const created = new AbortController();
    controllers.push(created);
    return created;
  }

  it('sends oldest first, one at a time', async () => {
    const outbox = await Outbox.open(freshDir());
    const ids = [5, 1, 4, 2, 3].map(idOf);
    for (const id of ids) await outbox.put(id, { id });
    const sent: string[] = [];
    let inFlight = 0;
    const events: OutboxEvent[] = [];
    const result = await outbox.flush({
      deliver: async (record) => {
        inFlight++;
        expect(inFlight).toBe(1);
        await new Promise((resolve) => setTimeout(resolve, 2));
        sent.push(record.id);
        inFlight--;
        return delivered({ n: sent.length });
      },
      onEvent: (event) => events.push(event),
    });
    expect(result).toEqual({ drained: true, pending: 0 });
    expect(sent).toEqual(ids);
    expect(events.filter((event) => event.type === 'delivered').map((event) => event.id)).toEqual(ids);
    expect(events[0]).toEqual({ type: 'attempt', id: ids[0], attempts: 1 });
    expect((await outbox.list('delivered')).map((entry) => entry.id)).toEqual(ids);
  });

  it('moves delivered and rejected records with their reply and code', async () => {
    const dir = freshDir();
    const outbox = await Outbox.open(dir);
    const [good, bad] = [idOf('good'), idOf('bad')];
    await outbox.put(good, { n: 1 });
    await outbox.put(bad, { n: 2 });
    const events: OutboxEvent[] = [];
    await outbox.flush({
      deliver: async (record) =>
        record.id === good
          ? delivered({ receipt: 'r1', replayed: false })
          : { kind: 'rejected', code: 'duplicate_identity', message: 'this person is already enrolled' },
      onEvent: (event) => events.push(event),
    });
    expect(await tree(dir)).toEqual({
      pending: [],
      delivered: [`${good}.json`],
      rejected: [`${bad}.json`],
      corrupt: [],
    });
    const done = await outbox.get(good);
    expect(done?.state).toBe('delivered');
    expect(done?.record).toMatchObject({ id: good, attempts: 1, body: { n: 1 }, reply: { receipt: 'r1' } });
    expect(done?.state === 'delivered' && done.record.deliveredAtMs).toBeGreaterThan(0);
    const refused = JSON.parse(await readFile(join(dir, 'rejected', `${bad}.json`), 'utf8'));
    expect(refused).toMatchObject({
      id: bad,
      code: 'duplicate_identity',
      message: expect.any(String),
      body: { n: 2 },
    });
    expect(events).toContainEqual({
      type: 'rejected',
      id: bad,
      attempts: 1,
      code: 'duplicate_identity',
      reason: 'this person is already enrolled',
    });
    const list = await outbox.list();
    expect(list.map((entry) => [entry.state, entry.code])).toEqual([
      ['delivered', undefined],
      ['rejected', 'duplicate_identity'],
    ]);
  });

  it('retries with exponential backoff until the backend takes it', async () => {
    const outbox = await Outbox.open(freshDir());
    const id = idOf('flaky');
    await outbox.put(id, { n: 1 });
    const times: number[] = [];
    const events: OutboxEvent[] = [];
    await outbox.flush({
      deliver: async () => {
        times.push(Date.now());
        return times.length <= 3 ? { kind: 'retry', reason: `HTTP 503 (${times.length})` } : delivered();
      },
      backoff: { initialMs: 20, factor: 2, maxMs: 60, jitter: 'none' },
      onEvent: (event) => events.push(event),
    });
    const retries = events.filter((event) => event.type === 'retry');
    expect(retries).toEqual([
      { type: 'retry', id, attempts: 1, delayMs: 20, reason: 'HTTP 503 (1)' },
      { type: 'retry', id, attempts: 2, delayMs: 40, reason: 'HTTP 503 (2)' },
      { type: 'retry', id, attempts: 3, delayMs: 60, reason: 'HTTP 503 (3)' },
    ]);
    const delays = [20, 40, 60];
    const gaps = times.slice(1).map((time, i) => time - (times[i] as number));
    // Timers may fire a millisecond early.
    expect(gaps.map((gap, i) => gap >= (delays[i] as number) - 2)).toEqual([true, true, true]);
    expect((await outbox.get(id))?.record).toMatchObject({ attempts: 4, reply: { stored: true } });
  });

  it('persists the attempt count across a restart', async () => {
    const dir = freshDir();
    const id = idOf('persisted');
    const first = await Outbox.open(dir);
    await first.put(id, { n: 1 });
    const stop = controller();
    let calls = 0;
    await first.send({
      deliver: async () => {
        calls++;
        return { kind: 'retry', reason: 'backend down' };
      },
      backoff: FAST,
      signal: stop.signal,
      onEvent: (event) => {
        if (event.type === 'retry' && event.attempts === 3) stop.abort();
      },
    });
    expect(calls).toBe(3);
    const second = await Outbox.open(dir);
    const pending = await second.get(id);
    expect(pending?.state).toBe('pending');
    expect(pending?.record).toMatchObject({ attempts: 3, lastError: 'backend down' });
    expect((await second.list())[0]).toMatchObject({ attempts: 3, lastError: 'backend down' });
    await second.flush({ deliver: async () => delivered() });
    expect((await second.get(id))?.record.attempts).toBe(4);
  });

  it('treats a deliver that throws as a transient failure', async () => {
    const outbox = await Outbox.open(freshDir());
    const id = idOf('throws');
    await outbox.put(id, { n: 1 });
    let calls = 0;
    const events: OutboxEvent[] = [];
    await outbox.flush({
      deliver: async () => {
        calls++;
        if (calls < 3) throw new Error('connect ECONNREFUSED 127.0.0.1:8620');
        return delivered();
      },
      backoff: FAST,
      onEvent: (event) => events.push(event),
    });
    expect(calls).toBe(3);
    expect(
      events.filter((event) => event.type === 'retry').map((event) => event.type === 'retry' && event.reason),
    ).toEqual(['connect ECONNREFUSED 127.0.0.1:8620', 'connect ECONNREFUSED 127.0.0.1:8620']);
    expect((await outbox.get(id))?.state).toBe('delivered');
  });

  it('stops promptly when aborted, also in the middle of a long backoff', async () => {
    const outbox = await Outbox.open(freshDir());
    await outbox.put(idOf('slow'), { n: 1 });
    const stop = controller();
    let retried!: () => void;
    const retryEvent = new Promise<void>((resolve) => {
      retried = resolve;
    });
    const sending = outbox.send({
      deliver: async () => ({ kind: 'retry', reason: 'down' }),
      backoff: { initialMs: 60_000, jitter: 'none' },
      signal: stop.signal,
      onEvent: (event) => {
        if (event.type === 'retry') retried();
      },
    });
    await retryEvent;
    const abortedAt = Date.now();
    stop.abort();
    await sending;
    expect(Date.now() - abortedAt).toBeLessThan(200);
    // An idle sender stops as promptly.
    const idle = await Outbox.open(freshDir());
    const stopIdle = controller();
    const idleSending = idle.send({ deliver: async () => delivered(), signal: stopIdle.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const idleAbortedAt = Date.now();
    stopIdle.abort();
    await idleSending;
    expect(Date.now() - idleAbortedAt).toBeLessThan(200);
  });

  it('refuses a second sender on the same outbox', async () => {
    const outbox = await Outbox.open(freshDir());
    const stop = controller();
    const sending = outbox.send({ deliver: async () => delivered(), signal: stop.signal });
    await expect(outbox.send({ deliver: async () => delivered(), signal: stop.signal })).rejects.toSatisfy(
      (error) => {
        expectCode(error, 'outbox_busy');
        return true;
      },
    );
    stop.abort();
    await sending;
  });

  it('wakes on put, from idle and from a long backoff, keeping older items first', async () => {
    const outbox = await Outbox.open(freshDir());
    const stop = controller();
    const sent: { id: string; at: number }[] = [];
    let failOnce = true;
    const [first, second, third] = [idOf('w1'), idOf('w2'), idOf('w3')];
    const waiters = new Map<string, () => void>();
    const deliveredEvent = (id: string) =>
      new Promise<void>((resolve) => {
        waiters.set(id, resolve);
      });
    const sending = outbox.send({
      deliver: async (record: PendingRecord) => {
        sent.push({ id: record.id, at: Date.now() });
        if (record.id === second && failOnce) {
          failOnce = false;
          return { kind: 'retry', reason: 'busy' };
        }
        return delivered();
      },
      backoff: { initialMs: 60_000, jitter: 'none' },
      signal: stop.signal,
      onEvent: (event) => {
        if (event.type === 'delivered' || event.type === 'retry') waiters.get(event.id)?.();
      },
    });
    // Idle: the sender waits for work; a put wakes it at once.
    await new Promise((resolve) => setTimeout(resolve, 30));
    let putAt = Date.now();
    const firstDone = deliveredEvent(first);
    await outbox.put(first, { n: 1 });
    await firstDone;
    expect(Date.now() - putAt).toBeLessThan(500);

    // The second fails once and sleeps a minute; the third's put wakes it, and the second goes first.
    const secondRetried = deliveredEvent(second);
    await outbox.put(second, { n: 2 });
    await secondRetried;
    const thirdDone = deliveredEvent(third);
    putAt = Date.now();
    await outbox.put(third, { n: 3 });
    await thirdDone;
    expect(Date.now() - putAt).toBeLessThan(500);
    expect(sent.map((entry) => entry.id)).toEqual([first, second, second, third]);
    stop.abort();
    await sending;
    expect(await outbox.counts()).toMatchObject({ pending: 0, delivered: 3 });
  });

  it('gives up a flush at its deadline, leaving the record pending', async () => {
    const outbox = await Outbox.open(freshDir());
    await outbox.put(idOf('late'), { n: 1 });
    const started = Date.now();
    const result = await outbox.flush({
      deliver: async () => ({ kind: 'retry', reason: 'down' }),
      backoff: FAST,
      timeoutMs: 150,
    });
    expect(result).toEqual({ drained: false, pending: 1 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await outbox.get(idOf('late')))?.record.attempts).toBeGreaterThan(1);
  });
});

describe('crash consistency', () => {
  it('removes temp files of writes that never completed', async () => {
    const dir = freshDir();
    const first = await Outbox.open(dir);
    await first.put(idOf('kept'), { n: 1 });
    const leftovers = [
      join('pending', `.${idOf('torn')}.json.4242-0a1b2c3d.tmp`),
      join('delivered', `.${idOf('kept')}.json.4242-deadbeef.tmp`),
    ];
    for (const file of leftovers) await writeFile(join(dir, file), '{"version":1,"id":"');
    const outbox = await Outbox.open(dir);
    expect(outbox.recovery.removedTempFiles.sort()).toEqual(leftovers.sort());
    expect(await tree(dir)).toEqual({
      pending: [`${idOf('kept')}.json`],
      delivered: [],
      rejected: [],
      corrupt: [],
    });
    expect(outbox.pendingIds()).toEqual([idOf('kept')]);
  });

  it('resolves an id both pending and delivered in favour of delivered', async () => {
    const dir = freshDir();
    const id = idOf('both');
    const first = await Outbox.open(dir);
    await first.put(id, { n: 1 });
    const pendingCopy = await readFile(join(dir, 'pending', `${id}.json`), 'utf8');
    await first.flush({ deliver: async () => delivered({ receipt: 'r' }) });
    // As if killed between writing delivered/<id>.json and unlinking pending/<id>.json.
    await writeFile(join(dir, 'pending', `${id}.json`), pendingCopy);
    const outbox = await Outbox.open(dir);
    expect(outbox.recovery.resolvedDuplicates).toEqual([id]);
    expect(await tree(dir)).toEqual({ pending: [], delivered: [`${id}.json`], rejected: [], corrupt: [] });
    let calls = 0;
    await outbox.flush({
      deliver: async () => {
        calls++;
        return delivered();
      },
    });
    expect(calls).toBe(0);
    expect((await outbox.get(id))?.record).toMatchObject({ reply: { receipt: 'r' } });
  });

  it('keeps the pending record when the finished copy is torn', async () => {
    const dir = freshDir();
    const id = idOf('torn-final');
    const first = await Outbox.open(dir);
    await first.put(id, { n: 1 });
    await writeFile(join(dir, 'delivered', `${id}.json`), '{"version":1,');
    const outbox = await Outbox.open(dir);
    expect(outbox.pendingIds()).toEqual([id]);
    expect((await tree(dir)).corrupt).toHaveLength(1);
    expect(await outbox.counts()).toMatchObject({ pending: 1, delivered: 0, corrupt: 1 });
  });

  it('moves corrupt pending files to corrupt/ and still sends the others', async () => {
    const dir = freshDir();
    const ids = [1, 2, 3, 4].map((n) => idOf(`c${n}`));
    const first = await Outbox.open(dir);
    for (const id of ids) await first.put(id, { id });
    // One torn before open, one turned to garbage while the outbox is open.
    await truncate(join(dir, 'pending', `${ids[1]}.json`), 20);
    const outbox = await Outbox.open(dir);
    expect(outbox.recovery.corruptFiles).toEqual([join(outbox.dir, 'pending', `${ids[1]}.json`)]);
    await writeFile(
      join(dir, 'pending', `${ids[2]}.json`),
      JSON.stringify({ version: 1, id: idOf('other') }),
    );
    const events: OutboxEvent[] = [];
    const sent: string[] = [];
    await outbox.flush({
      deliver: async (record) => {
        sent.push(record.id);
        return delivered();
      },
      onEvent: (event) => events.push(event),
    });
    expect(sent).toEqual([ids[0], ids[3]]);
    const corrupt = events.filter((event) => event.type === 'corrupt');
    expect(corrupt.map((event) => event.type === 'corrupt' && event.id)).toEqual([ids[1], ids[2]]);
    expect(await outbox.counts()).toEqual({ pending: 0, delivered: 2, rejected: 0, corrupt: 2 });
    // A corrupt record's id can be put again (the capture's agent still has it).
    await outbox.put(ids[1] as string, { id: ids[1] });
    expect(outbox.pendingIds()).toEqual([ids[1]]);
  });
});

describe('killed with SIGKILL', () => {
  const CHILD = join('test', 'support', 'outbox-child.ts');
  const children = new Set<ChildProcess>();
  const servers = new Set<Server>();
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    for (const server of servers) server.close();
  });

  interface Child {
    process: ChildProcess;
    lines: string[];
    /** Resolves with the first line that matches. */
    line(match: (line: string) => boolean): Promise<string>;
    exited: Promise<number | null>;
  }

  function startChild(args: string[]): Child {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const lines: string[] = [];
    const watchers: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
    let buffered = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        lines.push(line);
        for (const watcher of [...watchers]) {
          if (watcher.match(line)) {
            watchers.splice(watchers.indexOf(watcher), 1);
            watcher.resolve(line);
          }
        }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => {
        children.delete(child);
        if (code !== 0 && code !== null) console.error(stderr);
        resolve(code);
      });
    });
    return {
      process: child,
      lines,
      exited,
      line: (match) =>
        new Promise((resolve, reject) => {
          const found = lines.find(match);
          if (found !== undefined) return resolve(found);
          watchers.push({ match, resolve });
          exited.then(() => reject(new Error(`child exited before the line; stderr: ${stderr}`)));
        }),
    };
  }

  /** SIGKILL; the exit code, null when the signal killed it (0 if it had finished already). */
  async function kill(child: Child): Promise<number | null> {
    child.process.kill('SIGKILL');
    const code = await child.exited;
    expect([null, 0]).toContain(code);
    return code;
  }

  it('loses nothing when killed mid-request, and delivers it once after a restart', async () => {
    const seen: string[] = [];
    let requestArrived!: () => void;
    const arrived = new Promise<void>((resolve) => {
      requestArrived = resolve;
    });
    const server = createServer((request, response) => {
      let text = '';
      request.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      request.on('end', () => {
        const body = JSON.parse(text) as { envelope: { digest: string } };
        const id = body.envelope.digest;
        const replayed = seen.includes(id);
        seen.push(id);
        requestArrived();
        // The backend holds the answer (a uniqueness search); the first answer never gets out.
        const timer = setTimeout(() => {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ id, replayed }));
        }, 2000);
        response.on('close', () => clearTimeout(timer));
      });
    });
    servers.add(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/signups`;

    const dir = freshDir();
    const id = idOf('in-flight');
    await (await Outbox.open(dir)).put(id, signupBodyFor(id));

    const first = startChild([dir, url]);
    await arrived;
    expect(await kill(first)).toBeNull();
    expect(seen).toEqual([id]);
    const afterKill = await Outbox.open(dir, { readOnly: true });
    expect((await afterKill.get(id))?.state).toBe('pending');
    expect(await tree(dir)).toEqual({ pending: [`${id}.json`], delivered: [], rejected: [], corrupt: [] });

    const second = startChild([dir, url]);
    expect(await second.exited).toBe(0);
    expect(second.lines).toContain('drained');
    // The backend saw it twice (it dedupes by digest and said so), the outbox holds it once.
    expect(seen).toEqual([id, id]);
    expect(await tree(dir)).toEqual({ pending: [], delivered: [`${id}.json`], rejected: [], corrupt: [] });
    const outbox = await Outbox.open(dir);
    const item = await outbox.get(id);
    expect(item?.state).toBe('delivered');
    expect(item?.record).toMatchObject({
      attempts: 1,
      reply: { id, replayed: true },
      body: signupBodyFor(id),
    });
    server.close();
  }, 20_000);

  it('neither loses, duplicates nor tears a record when killed at random moments of put', async () => {
    const dir = freshDir();
    const ROUNDS = 6;
    const PER_ROUND = 6;
    const ids = Array.from({ length: ROUNDS * PER_ROUND }, (_, n) => idOf(`kill-${n}`));
    const confirmed = new Set<string>();
    let killedMidway = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Each round puts everything so far again (already there: no-ops) and six new signups.
      const mine = ids.slice(0, (round + 1) * PER_ROUND);
      const child = startChild([dir, 'put', ...mine]);
      // Kill after a random number of this round's puts resolved, a random few ms into the next one.
      const after = Math.floor(Math.random() * PER_ROUND) - 1;
      const fresh = mine.slice(-PER_ROUND);
      await child.line((line) => line === (after < 0 ? 'ready' : `put ${fresh[after]}`));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 25));
      const code = await kill(child);
      for (const line of child.lines) if (line.startsWith('put ')) confirmed.add(line.slice(4));
      if (code === null && !child.lines.includes(`put ${mine.at(-1)}`)) killedMidway++;

      // Every put that resolved is on disk, whole; nothing torn, nothing twice.
      const outbox = await Outbox.open(dir);
      expect(outbox.recovery.corruptFiles).toEqual([]);
      const pending = outbox.pendingIds();
      expect(new Set(pending).size).toBe(pending.length);
      for (const id of confirmed) expect(pending).toContain(id);
      for (const id of pending) expect(mine).toContain(id);
      for (const id of mine.slice(-PER_ROUND)) {
        if (pending.includes(id)) expect((await outbox.get(id))?.record.body).toEqual(signupBodyFor(id));
      }
    }
    const last = startChild([dir, 'put', ...ids]);
    expect(await last.exited).toBe(0);
    const outbox = await Outbox.open(dir);
    expect(outbox.recovery).toEqual({ removedTempFiles: [], resolvedDuplicates: [], corruptFiles: [] });
    expect(outbox.pendingIds().sort()).toEqual([...ids].sort());
    expect(await outbox.counts()).toEqual({ pending: ids.length, delivered: 0, rejected: 0, corrupt: 0 });
    expect((await tree(dir)).pending).toEqual(ids.map((id) => `${id}.json`).sort());
    for (const id of ids) expect((await outbox.get(id))?.record.body).toEqual(signupBodyFor(id));
    // The kills have to land among the puts for this to test anything.
    expect(killedMidway).toBeGreaterThan(ROUNDS / 2);
  }, 30_000);
});
