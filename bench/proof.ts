/**
 * Uniqueness proofs at the shipped depth (20): proof generation time, then verifications per second one by
 * one (the official verifyProof of @semaphore-protocol/proof, the baseline, and this project's single-proof
 * verifier) and in randomised batches of 16, 64 and 256 (circuits/groth16-verifier.ts), in this thread and
 * split across one worker thread per core (circuits/batching-verifier.ts ThreadedBatchVerifier, what the
 * backend's verify route uses), each with its ratio to the baseline and to the project's own one-by-one
 * rate, measured in the same run. The official verifier runs its pairings in ffjavascript's own threads.
 *
 *   npm run bench -- proof             table on stdout, progress on stderr
 *   npm run -s bench -- proof --json   one JSON object on stdout instead
 *
 * Environment: PROOFS (distinct proofs made, default 8; the batches cycle through them, each proof drawing
 * its own random weight), ROUNDS (timed rounds per case, default 3, the median kept).
 */

import { availableParallelism } from 'node:os';
import { verifyProof } from '@semaphore-protocol/core';
import { ThreadedBatchVerifier } from '../circuits/batching-verifier.ts';
import { Groth16Verifier } from '../circuits/groth16-verifier.ts';
import { releaseProver } from '../circuits/prover.ts';
import type { UniquenessProof } from '../protocol/uniqueness-proof.ts';
import { proofFixture } from '../test/support/proofs.ts';
import { type Column, percentile, table } from './report.ts';

const PROOFS = Number(process.env.PROOFS ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** Threads of the threaded batch rows (the backend's default: one per core). */
const THREADS = availableParallelism();
/** One-by-one cases verify this many proofs per round. */
const ONE_BY_ONE = 64;

interface Row {
  case: string;
  batch: number;
  proofsPerSecond: number;
  msPerProof: number;
  vsOfficialOneByOne: number;
  vsOwnOneByOne: number;
}

const progress = (message: string) => process.stderr.write(`[proof] ${message}\n`);

/** Median over ROUNDS of the seconds `verifyAll` takes for `count` proofs; proofs verified per second. */
async function rate(count: number, verifyAll: () => Promise<boolean>): Promise<number> {
  const seconds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    if (!(await verifyAll())) throw new Error('a valid proof did not verify');
    seconds.push((performance.now() - start) / 1000);
  }
  return count / percentile(seconds, 0.5);
}

export async function run({ json }: { json: boolean }): Promise<void> {
  progress(`making ${PROOFS} proofs at depth 20`);
  const proveMs: number[] = [];
  const proofs: UniquenessProof[] = [];
  for (let i = 0; i < PROOFS; i++) {
    const start = performance.now();
    const { proofs: made } = await proofFixture({ seed: `bench-${i}`, members: 2, provers: 1 });
    proveMs.push(performance.now() - start);
    proofs.push(...made);
  }
  const cycle = (n: number) =>
    Array.from({ length: n }, (_, i) => proofs[i % proofs.length] as UniquenessProof);
  const verifier = await Groth16Verifier.open();
  const sample = cycle(ONE_BY_ONE);
  // Warm both verifiers up (the official one builds its curve on first use).
  for (const proof of proofs) {
    await verifyProof({ ...proof, points: proof.points as never });
    verifier.verifyOne(proof);
  }

  progress('one by one');
  const official = await rate(ONE_BY_ONE, async () => {
    for (const proof of sample)
      if (!(await verifyProof({ ...proof, points: proof.points as never }))) return false;
    return true;
  });
  const own = await rate(ONE_BY_ONE, async () => sample.every((proof) => verifier.verifyOne(proof)));
  const rows: Row[] = [
    { case: 'official verifyProof', batch: 1, perSecond: official },
    { case: 'own, one by one', batch: 1, perSecond: own },
  ].map((r) => ({
    case: r.case,
    batch: r.batch,
    proofsPerSecond: r.perSecond,
    msPerProof: 1000 / r.perSecond,
    vsOfficialOneByOne: r.perSecond / official,
    vsOwnOneByOne: r.perSecond / own,
  }));
  const threaded = new ThreadedBatchVerifier(THREADS);
  await threaded.verifyBatch(cycle(2 * THREADS * 8)); // starts the threads
  const batchers = [
    { case: 'own, batch', verifyBatch: (batch: UniquenessProof[]) => verifier.verifyBatch(batch) },
    {
      case: `own, batch, ${THREADS} threads`,
      verifyBatch: (batch: UniquenessProof[]) => threaded.verifyBatch(batch),
    },
  ];
  for (const { case: name, verifyBatch } of batchers) {
    for (const size of [16, 64, 256]) {
      progress(`${name}: batches of ${size}`);
      const batch = cycle(size);
      const perSecond = await rate(size, async () => (await verifyBatch(batch)).every(Boolean));
      rows.push({
        case: name,
        batch: size,
        proofsPerSecond: perSecond,
        msPerProof: 1000 / perSecond,
        vsOfficialOneByOne: perSecond / official,
        vsOwnOneByOne: perSecond / own,
      });
    }
  }
  await threaded.close();
  await releaseProver();

  const generation = {
    depth: verifier.depth,
    proofs: proveMs.length,
    p50Ms: percentile(proveMs, 0.5),
    maxMs: Math.max(...proveMs),
  };
  if (json) {
    process.stdout.write(`${JSON.stringify({ benchmark: 'proof', generation, verification: rows })}\n`);
    return;
  }
  console.log(
    `proof generation at depth ${generation.depth}: p50 ${generation.p50Ms.toFixed(0)} ms, max ${generation.maxMs.toFixed(0)} ms (${generation.proofs} proofs)`,
  );
  const columns: Column<Row>[] = [
    { title: 'verifier', width: 26, alignLeft: true, cell: (r) => r.case },
    { title: 'batch', width: 5, cell: (r) => String(r.batch) },
    { title: 'proofs/s', width: 9, cell: (r) => r.proofsPerSecond.toFixed(1) },
    { title: 'ms/proof', width: 8, cell: (r) => r.msPerProof.toFixed(2) },
    { title: 'x official', width: 10, cell: (r) => r.vsOfficialOneByOne.toFixed(2) },
    { title: 'x own 1-by-1', width: 12, cell: (r) => r.vsOwnOneByOne.toFixed(2) },
  ];
  console.log(table(columns, rows));
}
