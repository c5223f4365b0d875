/**
 * The app's side: verify a wallet's uniqueness proof as World ID's verifiers do (protocol
 * checkUniquenessProof's rules, in its order), with
 *   - the roots from the backend's history (backendRoots), or offline from root statements the backend
 *     signed, checked with its pinned receipt key (offlineRoots);
 *   - the spent nullifiers in the app's own SQL database (sqlNullifierStore: PostgreSQL through `pg`, or
 *     PGlite in-process), counted with one atomic statement so concurrent verifications of one person
 *     never both pass a limit;
 *   - the Groth16 check in-process with the shipped verification keys (circuits/groth16-verifier.ts).
 */
import { SHIPPED_DEPTHS } from '../circuits/artifacts.ts';
import { Groth16Verifier } from '../circuits/groth16-verifier.ts';
import { fromHex } from '../protocol/bytes.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { type RootStatement, statementRoots, verifyRootStatement } from '../protocol/root-statement.ts';
import { assertPublicKey } from '../protocol/signature.ts';
import { RECEIPT_ALGORITHM } from '../protocol/signup-receipt.ts';
import {
  checkUniquenessProof,
  type NullifierStore,
  type ProofVerifier,
  type RootRecord,
  type RootSource,
  type UniquenessRequest,
  type UniquenessVerdict,
} from '../protocol/uniqueness-proof.ts';
import { type BackendRequestOptions, backendBaseUrl, getBackendJson, notOurs } from './http.ts';

const ROOT_STATUSES = ['current', 'valid', 'expired', 'unknown'] as const;

/**
 * The backend's word on each root (GET /v1/group/roots/:root): unknown roots give undefined; an expired
 * root's record says when it was replaced (the verifier's maxRootAgeSeconds decides, and an expired root
 * without a time counts as replaced at 0). backend_unreachable when no backend answers.
 */
export function backendRoots(backendUrl: string, options: BackendRequestOptions = {}): RootSource {
  const base = backendBaseUrl(backendUrl);
  return {
    async lookup(root: bigint): Promise<RootRecord | undefined> {
      const path = `/v1/group/roots/${root}`;
      const reply = await getBackendJson(base, path, options);
      const bad = (why: string) => notOurs(`${base}${path}`, why);
      if (typeof reply !== 'object' || reply === null) throw bad('not an object');
      const r = reply as Record<string, unknown>;
      const status = r.status as (typeof ROOT_STATUSES)[number];
      if (!ROOT_STATUSES.includes(status)) throw bad(`unknown root status ${String(r.status)}`);
      if (status === 'unknown') return undefined;
      const time = (value: unknown, name: string): number | null => {
        if (value === null || value === undefined) return null;
        if (!Number.isSafeInteger(value) || (value as number) < 0) throw bad(`${name} is not a time in ms`);
        return value as number;
      };
      const createdAtMs = time(r.createdAtMs, 'createdAtMs') ?? 0;
      const supersededAtMs = time(r.supersededAtMs, 'supersededAtMs');
      if (status === 'current') return { createdAtMs, supersededAtMs: null };
      return { createdAtMs, supersededAtMs: supersededAtMs ?? (status === 'expired' ? 0 : Date.now()) };
    },
  };
}

export interface BackendInfo {
  /** The key that signs receipts and root statements: pin it to check roots offline. */
  receiptKey: { algorithm: string; publicKey: Uint8Array; keyId: string };
  treeDepth: number;
  /** How long a replaced root stays valid at the backend. */
  rootExpiryMs: number;
}

/**
 * The backend's receipt key and group settings (GET /v1/info). An app that checks roots offline pins the
 * key once, from a backend it trusts (fetched over HTTPS, or compared with the operator's published keyId).
 */
export async function fetchBackendInfo(
  backendUrl: string,
  options: BackendRequestOptions = {},
): Promise<BackendInfo> {
  const reply = (await getBackendJson(backendUrl, '/v1/info', options)) as Record<string, unknown> | null;
  const bad = (why: string) => notOurs(`${backendBaseUrl(backendUrl)}/v1/info`, why);
  const key = reply?.receiptKey as Record<string, unknown> | undefined;
  if (
    typeof key?.publicKey !== 'string' ||
    typeof key.keyId !== 'string' ||
    typeof key.algorithm !== 'string'
  ) {
    throw bad('receiptKey is missing');
  }
  if (key.algorithm !== RECEIPT_ALGORITHM) throw bad(`receipt key algorithm ${key.algorithm}`);
  if (!Number.isSafeInteger(reply?.treeDepth) || !Number.isSafeInteger(reply?.rootExpiryMs)) {
    throw bad('treeDepth or rootExpiryMs is missing');
  }
  return {
    receiptKey: { algorithm: key.algorithm, publicKey: receiptPublicKey(key.publicKey), keyId: key.keyId },
    treeDepth: reply?.treeDepth as number,
    rootExpiryMs: reply?.rootExpiryMs as number,
  };
}

/** The backend's receipt key from hex (or as is): an uncompressed P-256 point, or malformed_public_key. */
export function receiptPublicKey(key: Uint8Array | string): Uint8Array {
  let bytes: Uint8Array;
  if (typeof key === 'string') {
    try {
      bytes = fromHex(key.trim().replace(/^0x/i, ''));
    } catch (cause) {
      throw new IrisgateError('malformed_public_key', 'the backend key must be hex', { cause });
    }
  } else bytes = key;
  assertPublicKey(RECEIPT_ALGORITHM, bytes);
  return bytes;
}

/**
 * A RootSource of root statements (RootStatementJson, e.g. a presentation's), each verified with the
 * backend's receipt key first (invalid_root_statement when one is not the backend's). A current root counts
 * as replaced when it was stated, so a statement ages like a replaced root.
 */
export async function offlineRoots(
  statementsJson: readonly unknown[],
  backendPublicKey: Uint8Array | string,
): Promise<RootSource> {
  const key = receiptPublicKey(backendPublicKey);
  const statements: RootStatement[] = [];
  for (const json of statementsJson) statements.push(await verifyRootStatement(json, key));
  return statementRoots(statements);
}

export interface VerifierOptions {
  roots: RootSource;
  nullifiers: NullifierStore;
  /** Uses a person may make of each action (default 1: once per action). */
  maxUses?: number;
  /** The Groth16 check (default: the shipped verification keys, in-process). */
  verifier?: ProofVerifier;
  /** The time in ms (default Date.now). */
  now?: () => number;
}

export interface UniquenessVerifier {
  /** The verdict, or an IrisgateError with the refusal's code (protocol/uniqueness-proof.ts). */
  verifyUniquenessProof(request: UniquenessRequest): Promise<UniquenessVerdict>;
}

/** A verifier of uniqueness proofs for an app (loads the verification key once). */
export async function openUniquenessVerifier({
  roots,
  nullifiers,
  maxUses = 1,
  verifier,
  now = Date.now,
}: VerifierOptions): Promise<UniquenessVerifier> {
  if (!Number.isSafeInteger(maxUses) || maxUses < 1) {
    throw new IrisgateError('invalid_argument', 'maxUses must be an integer >= 1');
  }
  const groth16 = verifier ?? (await Groth16Verifier.open());
  return {
    verifyUniquenessProof: (request) =>
      checkUniquenessProof(request, {
        verifier: groth16,
        roots,
        nullifiers,
        maxUses,
        depths: SHIPPED_DEPTHS,
        now: now(),
      }),
  };
}
