/** protocol/task-pool.ts: results in input order from several threads, setup data, failures, progress. */
import { describe, expect, it } from 'vitest';
import { mapInWorkers, openTaskPool } from '../../protocol/task-pool.ts';

const TASK = new URL('../support/echo-task.ts', import.meta.url);

describe('mapInWorkers', () => {
  it('returns results in input order, from worker threads, after each worker set up', async () => {
    const progress: number[] = [];
    const inputs = Array.from({ length: 12 }, (_, n) => ({ n }));
    const results = await mapInWorkers<{ n: number }, { text: string; thread: number }>(TASK, inputs, {
      workers: 2,
      setupData: { prefix: 'item-' },
      onProgress: (done, total) => {
        expect(total).toBe(12);
        progress.push(done);
      },
    });
    expect(results.map((r) => r.text)).toEqual(inputs.map(({ n }) => `item-${n}`));
    // Worker threads did the work (thread 0 is the main thread); how the 12 split between the two depends on
    // which one loads first.
    const threads = new Set(results.map((r) => r.thread));
    expect(threads.has(0)).toBe(false);
    expect(threads.size).toBeLessThanOrEqual(2);
    expect(progress).toEqual(Array.from({ length: 12 }, (_, k) => k + 1));
  });

  it('fails the whole map with the failing task message', async () => {
    const inputs = [{ n: 0 }, { n: 1, fail: true }, { n: 2 }];
    await expect(mapInWorkers(TASK, inputs, { workers: 2, setupData: { prefix: '' } })).rejects.toThrow(
      /task 1 failed on purpose/,
    );
  });

  it('maps nothing to nothing without starting a worker', async () => {
    expect(await mapInWorkers(TASK, [])).toEqual([]);
  });
});

describe('openTaskPool', () => {
  it('keeps its workers between inputs that arrive over time, and rejects what is left on close', async () => {
    const pool = openTaskPool<{ n: number }, { text: string; thread: number }>(TASK, {
      workers: 1,
      setupData: { prefix: 'p-' },
    });
    const first = await pool.run({ n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await pool.run({ n: 2 });
    expect([first.text, second.text]).toEqual(['p-1', 'p-2']);
    expect(second.thread).toBe(first.thread);
    await pool.close();
    await expect(pool.run({ n: 3 })).rejects.toThrow(/closed/);
  });
});
