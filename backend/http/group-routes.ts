/**
 * The Semaphore group, public: current root, whether a root may be used now, signed statements about a
 * root, a member's inclusion proof (with the statement of its root, for the wallet to hand an app).
 */
import { IrisgateError } from '../../protocol/errors.ts';
import {
  type RootStatementJson,
  rootStatementSigningBytes,
  rootStatementToJson,
} from '../../protocol/root-statement.ts';
import type { StoredRoot } from '../semaphore-group.ts';
import type { BackendServices } from '../service.ts';
import type { App } from './app.ts';
import {
  CommitmentParam,
  ERROR_REPLIES,
  InclusionProofReply,
  RootParam,
  RootReply,
  RootStatementReply,
  RootStatusReply,
} from './schemas.ts';

export function groupRoutes({ group, clock, secrets }: BackendServices) {
  /** The backend's signed statement, now, of a root it recorded. */
  const statement = (root: bigint, record: StoredRoot): RootStatementJson => {
    const stated = {
      version: 1 as const,
      root,
      size: record.size,
      createdAtMs: record.createdAtMs,
      supersededAtMs: record.supersededAtMs,
      statedAtMs: clock(),
    };
    return rootStatementToJson(stated, secrets.receiptSigner.sign(rootStatementSigningBytes(stated)));
  };

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
        const record = await group.rootRecord(BigInt(request.params.root));
        const status = group.statusOf(record, clock());
        return {
          root: request.params.root,
          status,
          valid: status === 'current' || status === 'valid',
          createdAtMs: record?.createdAtMs ?? null,
          supersededAtMs: record?.supersededAtMs ?? null,
        };
      },
    );
    app.get(
      '/v1/group/roots/:root/statement',
      {
        schema: {
          tags: ['group'],
          summary: "The backend's signed statement of a root it issued (404 invalid_merkle_root if none)",
          description:
            'Signed with the receipt key (GET /v1/info) over rootStatementSigningBytes (protocol/root-statement.ts): when the root was issued, and when it was replaced or that it was current at statedAtMs.',
          params: RootParam,
          response: { 200: RootStatementReply, ...ERROR_REPLIES },
        },
      },
      async (request, reply) => {
        const root = BigInt(request.params.root);
        const record = await group.rootRecord(root);
        if (!record) {
          const error = new IrisgateError('invalid_merkle_root', 'the backend never issued this root');
          return reply.status(404).send(error.toJSON());
        }
        return statement(root, record);
      },
    );
    app.get(
      '/v1/group/members/:commitment/proof',
      {
        schema: {
          tags: ['group'],
          summary: 'The Merkle inclusion proof of a member against the current root, with its root statement',
          params: CommitmentParam,
          response: { 200: InclusionProofReply, ...ERROR_REPLIES },
        },
      },
      async (request) => {
        const proof = group.inclusionProof(BigInt(request.params.commitment));
        const record = await group.rootRecord(proof.root);
        // The tree grows before the member's transaction commits: its root may not be recorded yet.
        if (!record) throw new IrisgateError('not_ready', 'the group is recording a new member; retry');
        return {
          root: proof.root.toString(),
          leaf: proof.leaf.toString(),
          index: proof.index,
          siblings: proof.siblings.map((s) => s.toString()),
          depth: group.depth,
          rootStatement: statement(proof.root, record),
        };
      },
    );
  };
}
