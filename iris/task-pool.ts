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
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const ENTRY_URL = new URL('./task-pool-worker.mjs', import.meta.url);
/** Inputs sent to one worker ahead of its answers, so it never waits for the next one. */
const AHEAD = 2;

export interface MapInWorkersOptions {
  /** Worker threads (default: os.availableParallelism(), at most the number of inputs). */
  workers?: number;
  /** Passed to every worker's setup(). */
  setupData?: unknown;
  onProgress?: (done: number, total: number) => void;
}

type Reply =
  | { type: 'ready' }
  | { type: 'result'; index: number; value: unknown }
  | { type: 'error'; message: string };

export async function mapInWorkers<I, O>(
  taskModule: URL,
  inputs: readonly I[],
  options: MapInWorkersOptions = {},
): Promise<O[]> {
  if (inputs.length === 0) return [];
  const count = Math.max(1, Math.min(inputs.length, Math.floor(options.workers ?? availableParallelism())));
  const results = new Array<O>(inputs.length);
  let next = 0;
  let done = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const feed = (worker: Worker) => {
        if (next < inputs.length) {
          worker.postMessage({ type: 'run', index: next, input: inputs[next] });
          next++;
        }
      };
      for (let w = 0; w < count; w++) {
        const worker = new Worker(ENTRY_URL, {
          workerData: { module: taskModule.href, setupData: options.setupData },
        });
        workers.push(worker);
        worker.on('message', (reply: Reply) => {
          if (reply.type === 'ready') {
            for (let k = 0; k < AHEAD; k++) feed(worker);
          } else if (reply.type === 'result') {
            results[reply.index] = reply.value as O;
            done++;
            options.onProgress?.(done, inputs.length);
            if (done === inputs.length) resolve();
            else feed(worker);
          } else reject(new Error(reply.message));
        });
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (done < inputs.length) reject(new Error(`a task worker exited with code ${code}`));
        });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
