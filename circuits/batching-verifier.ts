/**
 * A ProofVerifier for a server under load: proofs asked for while the previous batch was being verified
 * (verification holds the thread, so requests pile up meanwhile) are verified together in one randomised
 * batch (circuits/groth16-verifier.ts), at most `maxBatch` at a time. A lone request waits for nothing: the
 * queue is flushed at the next turn of the event loop.
 */
import type { ProofVerifier, UniquenessProof } from '../protocol/uniqueness-proof.ts';
import type { Groth16Verifier } from './groth16-verifier.ts';

export const DEFAULT_MAX_BATCH = 64;

interface Pending {
  proof: UniquenessProof;
  resolve: (valid: boolean) => void;
  reject: (error: unknown) => void;
}

export class BatchingVerifier implements ProofVerifier {
  #queue: Pending[] = [];
  #scheduled = false;
  /** Batches verified and the proofs in them, for metrics. */
  readonly stats = { batches: 0, proofs: 0, largestBatch: 0 };

  constructor(
    private readonly verifier: Groth16Verifier,
    private readonly maxBatch = DEFAULT_MAX_BATCH,
  ) {}

  verify(proof: UniquenessProof): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ proof, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    const batch = this.#queue.splice(0, this.maxBatch);
    if (this.#queue.length > 0) setImmediate(() => this.#flush());
    else this.#scheduled = false;
    this.stats.batches += 1;
    this.stats.proofs += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    try {
      const valid = this.verifier.verifyBatch(batch.map((p) => p.proof));
      for (const [i, pending] of batch.entries()) pending.resolve(valid[i] === true);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  }
}
