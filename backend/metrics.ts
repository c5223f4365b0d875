/** The backend's Prometheus metrics (GET /metrics), one registry per backend instance. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class BackendMetrics {
  readonly registry = new Registry();
  readonly signups = new Counter({
    name: 'irisgate_signups_total',
    help: 'Signup decisions by outcome and reason (ok or the rejection code); replays of a decision not counted',
    labelNames: ['outcome', 'reason'] as const,
    registers: [this.registry],
  });
  readonly signupSeconds = new Histogram({
    name: 'irisgate_signup_duration_seconds',
    help: 'Time to decide a signup, from request to answer',
    buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  readonly searchSeconds = new Histogram({
    name: 'irisgate_uniqueness_search_seconds',
    help: 'Time of the 1:N uniqueness search of one signup',
    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: 'irisgate_http_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  readonly verifications = new Counter({
    name: 'irisgate_verifications_total',
    help: 'Uniqueness-proof verifications (POST /v1/verify/:appId) by outcome: success or the refusal code',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly verifySeconds = new Histogram({
    name: 'irisgate_verify_duration_seconds',
    help: 'Time to answer a uniqueness-proof verification, from request to answer',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
    registers: [this.registry],
  });

  constructor(sizes: {
    members: () => number;
    enrolledEyes: () => number;
    /** The batching proof verifier's counts (circuits/batching-verifier.ts). */
    proofBatches: () => { batches: number; proofs: number; largestBatch: number };
  }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'irisgate_' });
    new Gauge({
      name: 'irisgate_group_members',
      help: 'Members of the Semaphore group',
      registers: [this.registry],
      collect() {
        this.set(sizes.members());
      },
    });
    new Gauge({
      name: 'irisgate_gallery_eyes',
      help: 'Enrolled eye templates in the uniqueness index',
      registers: [this.registry],
      collect() {
        this.set(sizes.enrolledEyes());
      },
    });
    const batches = sizes.proofBatches;
    new Counter({
      name: 'irisgate_proof_batches_total',
      help: 'Groth16 batch verifications run (each checks the proofs that piled up, in one multi-pairing)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(batches().batches);
      },
    });
    new Counter({
      name: 'irisgate_proofs_batched_total',
      help: 'Proofs verified in those batches',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(batches().proofs);
      },
    });
    new Gauge({
      name: 'irisgate_proof_batch_largest',
      help: 'The largest batch of proofs verified together since the backend started',
      registers: [this.registry],
      collect() {
        this.set(batches().largestBatch);
      },
    });
  }
}
