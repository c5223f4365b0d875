/**
 * Proof verification for a server under load.
 *
 * BatchingVerifier: proofs asked for while the previous batch is being verified are verified together in
 * the next randomised batch (circuits/groth16-verifier.ts), at most `maxBatch` at a time. A lone request
 * waits for nothing: the queue is flushed at the next turn of the event loop.
 *
 * ThreadedBatchVerifier: where batches are verified, off the event loop, in worker threads
 * (protocol/task-pool.ts); a batch is split evenly across the threads, which start at the first batch.
 */

import { openTaskPool, type TaskPool } from '../protocol/task-pool.ts';
import type { ProofVerifier, UniquenessProof } from '../protocol/uniqueness-proof.ts';

export const DEFAULT_MAX_BATCH = 64;

/** Verifies many proofs; element i says whether proof i verifies (Groth16Verifier has it). */
export interface BatchVerifier {
  verifyBatch(proofs: readonly UniquenessProof[]): boolean[] | Promise<boolean[]>;
}

interface Pending {
  proof: UniquenessProof;
  resolve: (valid: boolean) => void;
  reject: (error: unknown) => void;
}

export class BatchingVerifier implements ProofVerifier {
  #queue: Pending[] = [];
  #scheduled = false;
  #verifying = false;
  /** Batches verified and the proofs in them, for metrics. */
  readonly stats = { batches: 0, proofs: 0, largestBatch: 0 };

  constructor(
    private readonly verifier: BatchVerifier,
    private readonly maxBatch = DEFAULT_MAX_BATCH,
  ) {}

  verify(proof: UniquenessProof): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ proof, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#verifying || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  /** One batch at a time: what arrives meanwhile waits for the next. */
  async #flush(): Promise<void> {
    const batch = this.#queue.splice(0, this.maxBatch);
    this.#verifying = true;
    this.stats.batches += 1;
    this.stats.proofs += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    try {
      const valid = await this.verifier.verifyBatch(batch.map((p) => p.proof));
      for (const [i, pending] of batch.entries()) pending.resolve(valid[i] === true);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.#verifying = false;
      this.#schedule();
    }
  }
}

/** Fewer proofs than this per thread are not worth a thread's hand-off. */
const MIN_PER_THREAD = 8;

export class ThreadedBatchVerifier implements BatchVerifier {
  #pool: TaskPool<UniquenessProof[], boolean[]> | undefined;

  constructor(readonly threads: number) {}

  async verifyBatch(proofs: readonly UniquenessProof[]): Promise<boolean[]> {
    if (proofs.length === 0) return [];
    this.#pool ??= openTaskPool(new URL('./verify-batch-task.ts', import.meta.url), {
      workers: this.threads,
      ahead: 1,
    });
    const parts = Math.max(1, Math.min(this.threads, Math.floor(proofs.length / MIN_PER_THREAD)));
    const size = Math.ceil(proofs.length / parts);
    const chunks = Array.from({ length: parts }, (_, i) => proofs.slice(i * size, (i + 1) * size));
    const pool = this.#pool;
    return (await Promise.all(chunks.map((chunk) => pool.run(chunk)))).flat();
  }

  async close(): Promise<void> {
    await this.#pool?.close();
    this.#pool = undefined;
  }
}
