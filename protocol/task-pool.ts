/**
 * Runs a task module over many inputs in worker threads, one per core by default, with results in input
 * order whatever the scheduling. A task module (TypeScript, loaded through tsx) exports
 *
 *   export async function setup(data: unknown): Promise<void>   // optional: once per worker
 *   export async function run(input: unknown): Promise<unknown>  // once per input
 *
 * and the results are whatever `run` returns (structured-cloneable). A task that throws fails the whole
 * map with its message: evaluation and training code wants every input, never a silent gap.
 *
 *   const results = await mapInWorkers(new URL('./my-task.ts', import.meta.url), inputs, { setupData });
 *
 * openTaskPool keeps the workers up for inputs that arrive over time (mapInWorkers runs on one):
 *
 *   const pool = openTaskPool(new URL('./my-task.ts', import.meta.url), { workers: 1 });
 *   const result = await pool.run(input);
 *   await pool.close();
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const ENTRY_URL = new URL('./task-pool-worker.mjs', import.meta.url);
export interface TaskPoolOptions {
  /** Worker threads (default: os.availableParallelism()). */
  workers?: number;
  /**
   * Inputs sent to one worker ahead of its answers (default 2, so it never waits for the next one); 1 for
   * few long tasks that should spread over all workers.
   */
  ahead?: number;
  /** Passed to every worker's setup(). */
  setupData?: unknown;
}

export interface MapInWorkersOptions extends TaskPoolOptions {
  onProgress?: (done: number, total: number) => void;
}

/** Worker threads that stay up between inputs: for work that arrives over time (a camera's frames). */
export interface TaskPool<I, O> {
  run(input: I): Promise<O>;
  /** Stops the workers; inputs still waiting or running are rejected. */
  close(): Promise<void>;
}

type Reply =
  | { type: 'ready' }
  | { type: 'result'; index: number; value: unknown }
  | { type: 'error'; message: string };

interface Job {
  index: number;
  input: unknown;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * Starts the workers of a task module. Inputs are handed to the workers in the order run() is called,
 * up to `ahead` per worker; a task that throws (or a worker that dies) rejects everything in flight, since
 * a worker's state is unknown after it.
 */
export function openTaskPool<I, O>(taskModule: URL, options: TaskPoolOptions = {}): TaskPool<I, O> {
  const count = Math.max(1, Math.floor(options.workers ?? availableParallelism()));
  const ahead = Math.max(1, Math.floor(options.ahead ?? 2));
  const waiting: Job[] = [];
  const running = new Map<number, Job>();
  const inFlight = new Map<Worker, number>();
  let nextIndex = 0;
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    for (const job of [...waiting.splice(0), ...running.values()]) job.reject(failure);
    running.clear();
  };
  const feed = (worker: Worker) => {
    while (!failure && (inFlight.get(worker) ?? 0) < ahead && waiting.length > 0) {
      const job = waiting.shift() as Job;
      running.set(job.index, job);
      inFlight.set(worker, (inFlight.get(worker) ?? 0) + 1);
      worker.postMessage({ type: 'run', index: job.index, input: job.input });
    }
  };
  const ready = new Set<Worker>();
  const workers = Array.from({ length: count }, () => {
    const worker = new Worker(ENTRY_URL, {
      workerData: { module: taskModule.href, setupData: options.setupData },
    });
    worker.on('message', (reply: Reply) => {
      if (reply.type === 'ready') {
        ready.add(worker);
      } else if (reply.type === 'result') {
        inFlight.set(worker, (inFlight.get(worker) ?? 1) - 1);
        running.get(reply.index)?.resolve(reply.value);
        running.delete(reply.index);
      } else return fail(new Error(reply.message));
      feed(worker);
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (running.size + waiting.length > 0) fail(new Error(`a task worker exited with code ${code}`));
    });
    return worker;
  });
  return {
    run(input) {
      if (failure) return Promise.reject(failure);
      return new Promise<O>((resolve, reject) => {
        waiting.push({ index: nextIndex++, input, resolve: resolve as (value: unknown) => void, reject });
        for (const worker of ready) feed(worker);
      });
    },
    async close() {
      fail(new Error('the task pool was closed'));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

export async function mapInWorkers<I, O>(
  taskModule: URL,
  inputs: readonly I[],
  options: MapInWorkersOptions = {},
): Promise<O[]> {
  if (inputs.length === 0) return [];
  const workers = Math.min(inputs.length, Math.floor(options.workers ?? availableParallelism()));
  const pool = openTaskPool<I, O>(taskModule, { ...options, workers });
  let done = 0;
  try {
    return await Promise.all(
      inputs.map(async (input) => {
        const result = await pool.run(input);
        done++;
        options.onProgress?.(done, inputs.length);
        return result;
      }),
    );
  } finally {
    await pool.close();
  }
}
