/** Task module (protocol/task-pool.ts) of the verification threads: one batch of proofs per input. */
import { workerData } from 'node:worker_threads';
import type { UniquenessProof } from '../protocol/uniqueness-proof.ts';
import type { Groth16Verifier } from './groth16-verifier.ts';

let verifier: Groth16Verifier | undefined;

export async function setup(): Promise<void> {
  // ffjavascript imports the web-worker package, which takes any worker thread for one of its own and
  // loads the script named by workerData.mod: give it an empty one (it is imported below, not before).
  (workerData as { mod?: string }).mod ??= 'data:,';
  const { Groth16Verifier } = await import('./groth16-verifier.ts');
  verifier = await Groth16Verifier.open();
}

export async function run(proofs: UniquenessProof[]): Promise<boolean[]> {
  if (!verifier) throw new Error('the verification thread was not set up');
  return verifier.verifyBatch(proofs);
}
