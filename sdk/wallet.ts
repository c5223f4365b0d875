/**
 * The wallet's side: fetch the member's Merkle inclusion proof from the backend, then prove "a member of the
 * group, once for this app and action" bound to a signal, as World ID's IDKit does:
 * scope = externalNullifier(appId, action), message = signalHash(signal) (protocol/world-id-hashing.ts).
 */
import type { Identity } from '@semaphore-protocol/core';
import { SHIPPED_DEPTH } from '../circuits/artifacts.ts';
import { type MerkleInclusion, proveMembership } from '../circuits/prover.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { type RootStatementJson, verifyRootStatement } from '../protocol/root-statement.ts';
import {
  isFieldElement,
  parseAction,
  parseAppId,
  parseSignal,
  type UniquenessProof,
} from '../protocol/uniqueness-proof.ts';
import { externalNullifier, signalHash } from '../protocol/world-id-hashing.ts';
import { type BackendRequestOptions, backendBaseUrl, getBackendJson, notOurs } from './http.ts';

export type { MerkleInclusion };

export interface InclusionProofReply {
  inclusion: MerkleInclusion;
  /** The group's tree depth as the backend reports it. */
  depth: number;
  /** The backend's signed statement of the inclusion's root, for apps that check roots offline. */
  rootStatement: RootStatementJson;
}

/** Tries of a not_ready answer (the group recording a new member), 250 ms apart and more. */
const NOT_READY_ATTEMPTS = 4;
const NOT_READY_DELAY_MS = 250;

/**
 * The inclusion proof of `commitment` against the backend's current root (GET
 * /v1/group/members/:commitment/proof): not_a_member when the commitment is not enrolled, backend_unreachable
 * when no backend answers; not_ready (the group recording a new member) is retried a few times. With
 * `backendPublicKey` (the receipt key, uncompressed P-256) the root statement is verified too
 * (invalid_root_statement).
 */
export async function fetchInclusionProof(
  backendUrl: string,
  commitment: bigint,
  options: BackendRequestOptions & { backendPublicKey?: Uint8Array } = {},
): Promise<InclusionProofReply> {
  const path = `/v1/group/members/${commitment}/proof`;
  let reply: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      reply = await getBackendJson(backendUrl, path, options);
      break;
    } catch (error) {
      // The backend answers not_ready while a member just enrolled is being recorded: a moment later, it is.
      if (!(error instanceof IrisgateError) || error.code !== 'not_ready' || attempt >= NOT_READY_ATTEMPTS) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, NOT_READY_DELAY_MS * attempt));
    }
  }
  const bad = (why: string) => notOurs(`${backendBaseUrl(backendUrl)}${path}`, why);
  if (typeof reply !== 'object' || reply === null) throw bad('not an object');
  const r = reply as Record<string, unknown>;
  const field = (value: unknown, name: string): bigint => {
    if (!isFieldElement(value)) {
      throw bad(`${name} is not a decimal field element`);
    }
    return BigInt(value);
  };
  const root = field(r.root, 'root');
  const leaf = field(r.leaf, 'leaf');
  if (leaf !== commitment) throw bad('the proof is for another commitment');
  if (!Number.isSafeInteger(r.index) || (r.index as number) < 0) throw bad('index is not an integer >= 0');
  if (!Array.isArray(r.siblings)) throw bad('siblings is not an array');
  const siblings = r.siblings.map((s, i) => field(s, `siblings[${i}]`));
  if (!Number.isSafeInteger(r.depth) || (r.depth as number) < 1) throw bad('depth is not an integer >= 1');
  const statement = r.rootStatement as RootStatementJson | undefined;
  if (typeof statement !== 'object' || statement === null) throw bad('rootStatement is missing');
  if (statement.root !== r.root) throw bad('rootStatement is for another root than the proof');
  if (options.backendPublicKey) await verifyRootStatement(statement, options.backendPublicKey);
  return {
    inclusion: { root, leaf, index: r.index as number, siblings },
    depth: r.depth as number,
    rootStatement: statement,
  };
}

export interface CreateProofRequest {
  identity: Identity;
  inclusion: MerkleInclusion;
  appId: string;
  action: string;
  /** What the proof is bound to (a wallet address, a vote...); the empty string when nothing. */
  signal: string;
}

/**
 * A uniqueness proof of `identity` for the app's action, bound to `signal` (invalid_format for an appId,
 * action or signal the verifiers would refuse; invalid_argument for an inclusion proof of another identity
 * or one that does not lead to its root).
 */
export async function createUniquenessProof({
  identity,
  inclusion,
  appId,
  action,
  signal,
}: CreateProofRequest): Promise<UniquenessProof> {
  const scope = externalNullifier(parseAppId(appId), parseAction(action));
  const message = signalHash(parseSignal(signal));
  if (inclusion.siblings.length > SHIPPED_DEPTH) {
    throw new IrisgateError(
      'invalid_argument',
      `the inclusion proof has ${inclusion.siblings.length} levels; the shipped circuit proves at most ${SHIPPED_DEPTH}`,
    );
  }
  const proof = await proveMembership(identity, inclusion, message, scope);
  if (BigInt(proof.merkleTreeRoot) !== inclusion.root) {
    throw new IrisgateError('invalid_argument', "the inclusion proof's siblings do not lead to its root");
  }
  return proof;
}
