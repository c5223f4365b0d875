/**
 * Semaphore proof generation with the shipped artifacts only (never the CDN @semaphore-protocol/proof would
 * download from when it is not given artifact paths), always at SHIPPED_DEPTH, so one verification key
 * serves every proof whatever the group's size.
 */
import { generateProof, type Identity } from '@semaphore-protocol/core';
import { IrisgateError } from '../protocol/errors.ts';
import type { UniquenessProof } from '../protocol/uniqueness-proof.ts';
import { SHIPPED_DEPTH, semaphoreArtifacts } from './artifacts.ts';

/** A member's Merkle inclusion proof (the backend's GET /v1/group/members/:commitment/proof). */
export interface MerkleInclusion {
  root: bigint;
  leaf: bigint;
  index: number;
  siblings: bigint[];
}

/** Proves membership of `identity` in the tree of `inclusion`, bound to message and scope. */
export async function proveMembership(
  identity: Identity,
  inclusion: MerkleInclusion,
  message: bigint,
  scope: bigint,
): Promise<UniquenessProof> {
  if (inclusion.leaf !== identity.commitment) {
    throw new IrisgateError('invalid_argument', 'the inclusion proof is for another identity commitment');
  }
  const { wasmPath, zkeyPath } = await semaphoreArtifacts(SHIPPED_DEPTH);
  // generateProof pads the siblings it is given in place: hand it a copy.
  const merkleProof = { ...inclusion, siblings: [...inclusion.siblings] };
  const proof = await generateProof(identity, merkleProof, message, scope, SHIPPED_DEPTH, {
    wasm: wasmPath,
    zkey: zkeyPath,
  });
  return { ...proof, points: [...proof.points] };
}

/**
 * Ends the worker threads snarkjs's curve keeps after proving (and after @semaphore-protocol/proof's
 * verifyProof), so a command-line process can exit.
 */
export async function releaseProver(): Promise<void> {
  const global = globalThis as { curve_bn128?: { terminate(): Promise<void> } };
  const curve = global.curve_bn128;
  global.curve_bn128 = undefined;
  await curve?.terminate();
}
