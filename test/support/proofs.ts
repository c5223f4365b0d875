/**
 * Real Semaphore proofs for tests: a group of deterministic identities and one proof per member for an app,
 * action and signal, made with the shipped artifacts (about 1 s each on this machine: make few).
 */
import { Group, Identity } from '@semaphore-protocol/core';
import { proveMembership } from '../../circuits/prover.ts';
import type { UniquenessProof } from '../../protocol/uniqueness-proof.ts';
import { externalNullifier, signalHash } from '../../protocol/world-id-hashing.ts';

export interface ProofFixture {
  identities: Identity[];
  group: Group;
  proofs: UniquenessProof[];
}

/** `members` identities from `seed`, in a group, and a proof by each of the first `provers`. */
export async function proofFixture({
  seed = 'proof-fixture',
  members = 3,
  provers = members,
  appId = 'app_test',
  action = 'vote',
  signal = 'hello',
}: {
  seed?: string;
  members?: number;
  provers?: number;
  appId?: string;
  action?: string;
  signal?: string;
} = {}): Promise<ProofFixture> {
  const identities = Array.from({ length: members }, (_, i) => new Identity(`${seed}/${i}`));
  const group = new Group(identities.map((identity) => identity.commitment));
  const proofs: UniquenessProof[] = [];
  for (const [i, identity] of identities.slice(0, provers).entries()) {
    const inclusion = group.generateMerkleProof(i);
    proofs.push(
      await proveMembership(identity, inclusion, signalHash(signal), externalNullifier(appId, action)),
    );
  }
  return { identities, group, proofs };
}
