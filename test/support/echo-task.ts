/** A task module for test/protocol/task-pool.test.ts: echoes its input with the worker's setup data and thread. */
import { threadId } from 'node:worker_threads';

let prefix = '';

export async function setup(data: { prefix: string }): Promise<void> {
  prefix = data.prefix;
}

export async function run(input: { n: number; fail?: boolean }): Promise<{ text: string; thread: number }> {
  if (input.fail) throw new Error(`task ${input.n} failed on purpose`);
  // Later inputs finish first, so results arrive out of order.
  await new Promise((resolve) => setTimeout(resolve, 20 - input.n));
  return { text: `${prefix}${input.n}`, thread: threadId };
}
