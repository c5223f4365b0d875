/** The Semaphore group, public: current root, whether a root may be used now, a member's inclusion proof. */
import type { BackendServices } from '../service.ts';
import type { App } from './app.ts';
import {
  CommitmentParam,
  ERROR_REPLIES,
  InclusionProofReply,
  RootParam,
  RootReply,
  RootStatusReply,
} from './schemas.ts';

export function groupRoutes({ group, clock }: BackendServices) {
  return async (app: App) => {
    app.get(
      '/v1/group/root',
      { schema: { tags: ['group'], summary: 'The current root', response: { 200: RootReply } } },
      async () => ({ root: group.root.toString(), size: group.size, depth: group.depth }),
    );
    app.get(
      '/v1/group/roots/:root',
      {
        schema: {
          tags: ['group'],
          summary:
            'Whether a root is current, still valid (replaced less than the expiry ago), expired or unknown',
          params: RootParam,
          response: { 200: RootStatusReply, ...ERROR_REPLIES },
        },
      },
      async (request) => {
        const status = await group.rootStatus(BigInt(request.params.root), clock());
        return { root: request.params.root, status, valid: status === 'current' || status === 'valid' };
      },
    );
    app.get(
      '/v1/group/members/:commitment/proof',
      {
        schema: {
          tags: ['group'],
          summary: 'The Merkle inclusion proof of a member against the current root',
          params: CommitmentParam,
          response: { 200: InclusionProofReply, ...ERROR_REPLIES },
        },
      },
      async (request) => {
        const proof = group.inclusionProof(BigInt(request.params.commitment));
        return {
          root: proof.root.toString(),
          leaf: proof.leaf.toString(),
          index: proof.index,
          siblings: proof.siblings.map((s) => s.toString()),
        };
      },
    );
  };
}
