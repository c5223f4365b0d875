/**
 * Run by test/circuits/offline.test.ts inside a network namespace with only loopback: proves membership
 * with the shipped artifacts, verifies with the project's verifier and with @semaphore-protocol/proof's
 * verifyProof, and checks the network really is cut (a fetch of a public host must fail). Prints JSON.
 */
import { verifyProof } from '@semaphore-protocol/core';
import { Groth16Verifier } from '../../circuits/groth16-verifier.ts';
import { releaseProver } from '../../circuits/prover.ts';
import { proofFixture } from '../support/proofs.ts';

let networkCut = false;
try {
  await fetch('https://registry.npmjs.org/', { signal: AbortSignal.timeout(5000) });
} catch {
  networkCut = true;
}
const { proofs } = await proofFixture({ seed: 'offline', members: 2, provers: 1 });
const proof = proofs[0];
if (!proof) throw new Error('no proof');
const verifier = await Groth16Verifier.open();
const result = {
  networkCut,
  ours: verifier.verifyOne(proof),
  official: await verifyProof({ ...proof, points: proof.points as never }),
};
await releaseProver();
process.stdout.write(`${JSON.stringify(result)}\n`);
