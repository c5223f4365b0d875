/**
 * The project's Groth16 verifier, one by one and in randomised batches, on real Semaphore proofs made with
 * the shipped artifacts; the official verifyProof of @semaphore-protocol/proof as the reference.
 */
import { verifyProof } from '@semaphore-protocol/core';
import { buildBn128 } from 'ffjavascript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchingVerifier, ThreadedBatchVerifier } from '../../circuits/batching-verifier.ts';
import { g2SubgroupTest } from '../../circuits/g2-subgroup.ts';
import { Groth16Verifier } from '../../circuits/groth16-verifier.ts';
import { releaseProver } from '../../circuits/prover.ts';
import type { UniquenessProof } from '../../protocol/uniqueness-proof.ts';
import { proofFixture } from '../support/proofs.ts';

let proofs: UniquenessProof[];
let verifier: Groth16Verifier;

const plusOne = (decimal: string) => (BigInt(decimal) + 1n).toString();
const withPoint = (proof: UniquenessProof, i: number, value: string) => ({
  ...proof,
  points: proof.points.map((p, j) => (j === i ? value : p)),
});

/** Points on the G2 twist curve outside the order-r subgroup (x = k + i for k = 1, 2, ...). */
async function twistPointsOutsideSubgroup(count: number): Promise<Uint8Array[]> {
  const curve = await buildBn128(true);
  const { F2, G2 } = curve;
  const points: Uint8Array[] = [];
  for (let k = 1n; points.length < count; k++) {
    const x = F2.fromObject([k, 1n]);
    const rhs = F2.add(F2.mul(F2.square(x), x), G2.b);
    if (!F2.isSquare(rhs)) continue;
    const point = new Uint8Array(x.length * 2);
    point.set(x);
    point.set(F2.sqrt(rhs), x.length);
    expect(G2.isValid(point)).toBe(true);
    expect(G2.isZero(G2.timesScalar(point, curve.r))).toBe(false);
    points.push(point);
  }
  return points;
}

/** A G2 point as packed proof coordinates (x1, x0, y1, y0). */
async function packedG2(point: Uint8Array): Promise<string[]> {
  const [[x0, x1], [y0, y1]] = (await buildBn128(true)).G2.toObject(point) as bigint[][] as [
    bigint[],
    bigint[],
  ];
  return [x1, x0, y1, y0].map(String);
}

beforeAll(async () => {
  ({ proofs } = await proofFixture({ seed: 'groth16', members: 4, provers: 3 }));
  verifier = await Groth16Verifier.open();
}, 60_000);

afterAll(releaseProver);

describe('Groth16Verifier', () => {
  it('verifies real proofs, as the official verifyProof does', async () => {
    for (const proof of proofs) {
      expect(verifier.verifyOne(proof)).toBe(true);
      expect(await verifyProof({ ...proof, points: proof.points as never })).toBe(true);
    }
  });

  it('refuses every tampered public input and point', async () => {
    const [proof] = proofs as [UniquenessProof];
    const tampered: [string, UniquenessProof][] = [
      ['nullifier', { ...proof, nullifier: plusOne(proof.nullifier) }],
      ['root', { ...proof, merkleTreeRoot: plusOne(proof.merkleTreeRoot) }],
      ['message', { ...proof, message: plusOne(proof.message) }],
      ['scope', { ...proof, scope: plusOne(proof.scope) }],
      ['depth', { ...proof, merkleTreeDepth: 16 }],
      [
        'A and C swapped',
        {
          ...proof,
          points: [...proof.points.slice(6), ...proof.points.slice(2, 6), ...proof.points.slice(0, 2)],
        },
      ],
      ...proof.points.map((p, i): [string, UniquenessProof] => [
        `point ${i}`,
        withPoint(proof, i, plusOne(p)),
      ]),
    ];
    for (const [what, bad] of tampered) {
      expect(verifier.verifyOne(bad), what).toBe(false);
      expect(verifier.verifyBatch([bad]), what).toEqual([false]);
    }
    // The official verifier agrees on the ones it can judge (it throws on points off the curve).
    expect(
      await verifyProof({ ...proof, nullifier: plusOne(proof.nullifier), points: proof.points as never }),
    ).toBe(false);
  });

  it('refuses a B on the twist curve but outside the subgroup, and points at infinity', async () => {
    const [proof] = proofs as [UniquenessProof];
    const b = await packedG2(((await twistPointsOutsideSubgroup(1)) as [Uint8Array])[0]);
    const outside = { ...proof, points: [...proof.points.slice(0, 2), ...b, ...proof.points.slice(6)] };
    expect(verifier.isWellFormed(outside)).toBe(false);
    expect(verifier.verifyOne(outside)).toBe(false);
    // A tampered input is well formed (on the curve, in the field): only the pairing check refuses it.
    expect(verifier.isWellFormed({ ...proof, nullifier: plusOne(proof.nullifier) })).toBe(true);
    expect(verifier.isWellFormed(proof)).toBe(true);
    const infinity = { ...proof, points: ['0', '0', ...proof.points.slice(2)] };
    expect(verifier.isWellFormed(infinity)).toBe(false);
    expect(verifier.verifyBatch([proof, outside, infinity, proof])).toEqual([true, false, false, true]);
  });

  it('verifies a whole batch at once, and finds exactly the bad proof in a failing one', () => {
    const batch = Array.from({ length: 12 }, (_, i) => proofs[i % proofs.length] as UniquenessProof);
    expect(verifier.verifyBatch(batch)).toEqual(new Array(12).fill(true));
    for (const badAt of [0, 7, 11]) {
      const withBad = batch.map((p, i) => (i === badAt ? { ...p, nullifier: plusOne(p.nullifier) } : p));
      expect(verifier.verifyBatch(withBad)).toEqual(batch.map((_, i) => i !== badAt));
    }
    const twoBad = batch.map((p, i) =>
      i === 2 || i === 3 ? withPoint(p, 6, plusOne(p.points[6] as string)) : p,
    );
    expect(verifier.verifyBatch(twoBad)).toEqual(batch.map((_, i) => i !== 2 && i !== 3));
    expect(verifier.verifyBatch([])).toEqual([]);
  });

  it('batches concurrent requests behind one ProofVerifier, each answered for its own proof', async () => {
    const batching = new BatchingVerifier(verifier, 4);
    const [good, other] = proofs as [UniquenessProof, UniquenessProof];
    const bad = { ...other, merkleTreeRoot: plusOne(other.merkleTreeRoot) };
    const asked = [good, bad, other, good, bad, other, good];
    const answers = await Promise.all(asked.map((p) => batching.verify(p)));
    expect(answers).toEqual(asked.map((p) => p !== bad));
    expect(batching.stats).toEqual({ batches: 2, proofs: 7, largestBatch: 4 });
  });
});

describe('ThreadedBatchVerifier', () => {
  it('verifies batches in worker threads, split across them, and finds the bad proof', async () => {
    const threaded = new ThreadedBatchVerifier(2);
    try {
      const batch = Array.from({ length: 20 }, (_, i) => proofs[i % proofs.length] as UniquenessProof);
      const withBad = batch.map((p, i) => (i === 13 ? { ...p, nullifier: plusOne(p.nullifier) } : p));
      expect(await threaded.verifyBatch(withBad)).toEqual(batch.map((_, i) => i !== 13));
      // Behind a BatchingVerifier: what arrives while a batch is in the threads waits for the next one.
      const batching = new BatchingVerifier(threaded, 64);
      const first = batching.verify(batch[0] as UniquenessProof);
      await new Promise((resolve) => setImmediate(resolve));
      const rest = batch.slice(1).map((p) => batching.verify(p));
      expect(await Promise.all([first, ...rest])).toEqual(new Array(20).fill(true));
      expect(batching.stats).toEqual({ batches: 2, proofs: 20, largestBatch: 19 });
    } finally {
      await threaded.close();
    }
  });
});

describe('g2SubgroupTest', () => {
  it('agrees with [r]Q = 0 on subgroup points and on twist points outside it', async () => {
    const curve = await buildBn128(true);
    const inSubgroup = g2SubgroupTest(curve);
    for (const k of [1n, 2n, 7n, 123456789n, curve.r - 1n, 2n ** 200n + 3n]) {
      const point = curve.G2.toAffine(curve.G2.timesScalar(curve.G2.g, k));
      expect(inSubgroup(point), `[${k}]G`).toBe(true);
    }
    for (const point of await twistPointsOutsideSubgroup(12)) expect(inSubgroup(point)).toBe(false);
  });
});
