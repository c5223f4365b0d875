// Entry of a task-pool worker thread (protocol/task-pool.ts): loads the task module through tsx, calls its
// setup() once, then run() for each input in the order they arrive.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const task = await import(workerData.module);
const port = parentPort;
const fail = (error) => port.postMessage({ type: 'error', message: error?.stack ?? String(error) });
try {
  await task.setup?.(workerData.setupData);
  port.on('message', async ({ index, input }) => {
    try {
      port.postMessage({ type: 'result', index, value: await task.run(input) });
    } catch (error) {
      fail(error);
    }
  });
  port.postMessage({ type: 'ready' });
} catch (error) {
  fail(error);
}
