/**
 * Uniqueness proofs: what a wallet sends an app, and the rules every verifier applies (the SDK's
 * verifyUniquenessProof and the backend's POST /v1/verify/:appId alike).
 *
 * The proof is a Semaphore v4 proof as @semaphore-protocol/proof writes it (so its verifyProof accepts it
 * too): scope = externalNullifier(appId, action), message = signalHash(signal) (protocol/world-id-hashing.ts),
 * decimal strings, the Groth16 points packed in 8. Checked in this order, cheapest first, each refusal
 * with its code:
 *   invalid_format             not this shape, a number out of its field, an unknown tree depth
 *   invalid_action             the app has not opened the action (a registry's lookup), or the scope is not
 *                              this app's action (the proof was made for another)
 *   invalid_proof              the message is not this signal's hash
 *   invalid_merkle_root        the root was never issued by the backend
 *   root_too_old               the root was replaced longer ago than maxRootAgeSeconds
 *   invalid_proof              the Groth16 proof does not verify (nullifier, root, points tampered...)
 *   max_verifications_reached  the nullifier was used for this action as often as it allows
 * The nullifier is spent last, so a proof that fails any check spends nothing.
 */
import { IrisgateError } from './errors.ts';
import { SNARK_SCALAR_FIELD } from './signup-envelope.ts';
import { externalNullifier, signalHash } from './world-id-hashing.ts';

/** BN254's base field (the points' coordinates; public inputs are below SNARK_SCALAR_FIELD). */
export const BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

/** The default freshness a verifier asks of a replaced root (World ID's root history on L1: one hour). */
export const DEFAULT_MAX_ROOT_AGE_SECONDS = 3600;

export interface UniquenessProof {
  merkleTreeDepth: number;
  merkleTreeRoot: string;
  nullifier: string;
  message: string;
  scope: string;
  /** pi_a (2), pi_b (4, each pair in the order Solidity verifiers take), pi_c (2). */
  points: string[];
}

export const PROOF_LIMITS = {
  maxAppIdLength: 128,
  maxActionLength: 256,
  maxSignalLength: 4096,
} as const;

const DECIMAL = /^(?:0|[1-9][0-9]{0,77})$/;
const APP_ID = /^[A-Za-z0-9_.:-]+$/;
const CONTROL = /\p{Cc}/u;

const invalid = (message: string) => new IrisgateError('invalid_format', message);

/** Whether `value` is a canonical decimal string of a BN254 scalar field element (roots, nullifiers). */
export function isFieldElement(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value) && BigInt(value) < SNARK_SCALAR_FIELD;
}

function decimal(value: unknown, field: string, below: bigint): string {
  if (typeof value !== 'string' || !DECIMAL.test(value)) throw invalid(`${field} must be a decimal string`);
  if (BigInt(value) >= below) throw invalid(`${field} is out of its field`);
  return value;
}

/** The proof in the format above, or invalid_format. Extra fields are refused. */
export function parseUniquenessProof(value: unknown): UniquenessProof {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('the proof must be an object');
  }
  const json = value as Record<string, unknown>;
  const known = ['merkleTreeDepth', 'merkleTreeRoot', 'nullifier', 'message', 'scope', 'points'];
  const extra = Object.keys(json).filter((key) => !known.includes(key));
  if (extra.length > 0) throw invalid(`unknown proof fields: ${extra.join(', ')}`);
  const depth = json.merkleTreeDepth;
  if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 1 || depth > 32) {
    throw invalid('merkleTreeDepth must be an integer from 1 to 32');
  }
  const points = json.points;
  if (!Array.isArray(points) || points.length !== 8) throw invalid('points must hold 8 decimal strings');
  return {
    merkleTreeDepth: depth,
    merkleTreeRoot: decimal(json.merkleTreeRoot, 'merkleTreeRoot', SNARK_SCALAR_FIELD),
    nullifier: decimal(json.nullifier, 'nullifier', SNARK_SCALAR_FIELD),
    message: decimal(json.message, 'message', 1n << 256n),
    scope: decimal(json.scope, 'scope', 1n << 256n),
    points: points.map((p, i) => decimal(p, `points[${i}]`, BASE_FIELD)),
  };
}

function text(value: unknown, field: string, max: number, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalid(`${field} must be a string of 1 to ${max} characters`);
  }
  if (pattern ? !pattern.test(value) : CONTROL.test(value))
    throw invalid(`${field} has characters it may not`);
  return value;
}

export const parseAppId = (value: unknown) => text(value, 'appId', PROOF_LIMITS.maxAppIdLength, APP_ID);
export const parseAction = (value: unknown) => text(value, 'action', PROOF_LIMITS.maxActionLength);

export function parseSignal(value: unknown): string {
  if (typeof value !== 'string' || value.length > PROOF_LIMITS.maxSignalLength) {
    throw invalid(`signal must be a string of at most ${PROOF_LIMITS.maxSignalLength} characters`);
  }
  return value;
}

/** Checks the Groth16 proof against its own public inputs; false when it does not verify. */
export interface ProofVerifier {
  verify(proof: UniquenessProof): Promise<boolean>;
}

/** What a verifier knows of a root: when it was issued, and until when it was current (null: still is). */
export interface RootRecord {
  createdAtMs: number;
  supersededAtMs: number | null;
}

export interface RootSource {
  lookup(root: bigint): Promise<RootRecord | undefined>;
}

export interface NullifierUse {
  appId: string;
  action: string;
  nullifier: string;
  maxUses: number;
  nowMs: number;
}

/**
 * Where spent nullifiers are kept. `use` counts one more use atomically, or throws
 * max_verifications_reached when the nullifier has maxUses already (and counts nothing).
 */
export interface NullifierStore {
  use(entry: NullifierUse): Promise<{ uses: number; createdAtMs: number }>;
}

export interface UniquenessRequest {
  proof: unknown;
  appId: string;
  action: string;
  /** What the proof is bound to (e.g. a wallet address, a vote); the empty string when nothing. */
  signal: string;
  maxRootAgeSeconds?: number;
}

export interface UniquenessVerdict {
  appId: string;
  action: string;
  nullifier: string;
  merkleRoot: string;
  /** This nullifier's uses of the action, this one included, and how many the action allows. */
  uses: number;
  maxUses: number;
  /** When the nullifier was first used for the action. */
  createdAtMs: number;
}

export interface UniquenessCheck {
  verifier: ProofVerifier;
  roots: RootSource;
  nullifiers: NullifierStore;
  /**
   * Uses a person may make of the action: a number (default 1: once per action), or a lookup of the app's
   * registered actions, undefined for an action it has not opened (invalid_action).
   */
  maxUses?: number | ((appId: string, action: string) => Promise<number | undefined>);
  /** Tree depths the verifier has keys for. */
  depths: readonly number[];
  now?: number;
}

/** Applies every rule above; resolves with the verdict or throws IrisgateError with the refusal's code. */
export async function checkUniquenessProof(
  request: UniquenessRequest,
  { verifier, roots, nullifiers, maxUses = 1, depths, now = Date.now() }: UniquenessCheck,
): Promise<UniquenessVerdict> {
  const appId = parseAppId(request.appId);
  const action = parseAction(request.action);
  const signal = parseSignal(request.signal);
  const maxAge = request.maxRootAgeSeconds ?? DEFAULT_MAX_ROOT_AGE_SECONDS;
  if (!Number.isFinite(maxAge) || maxAge < 0) throw invalid('maxRootAgeSeconds must be a number >= 0');
  const proof = parseUniquenessProof(request.proof);
  if (!depths.includes(proof.merkleTreeDepth)) {
    throw invalid(`tree depth ${proof.merkleTreeDepth} is not supported (${depths.join(', ')})`);
  }
  const allowed = typeof maxUses === 'number' ? maxUses : await maxUses(appId, action);
  if (allowed === undefined) throw new IrisgateError('invalid_action', `${appId} has no action ${action}`);
  if (BigInt(proof.scope) !== externalNullifier(appId, action)) {
    throw new IrisgateError('invalid_action', `the proof was made for another app or action than ${action}`);
  }
  if (BigInt(proof.message) !== signalHash(signal)) {
    throw new IrisgateError('invalid_proof', 'the proof was made for another signal');
  }
  const root = await roots.lookup(BigInt(proof.merkleTreeRoot));
  if (!root) throw new IrisgateError('invalid_merkle_root', 'the backend never issued this root');
  if (root.supersededAtMs !== null && now - root.supersededAtMs >= maxAge * 1000) {
    const ago = Math.round((now - root.supersededAtMs) / 1000);
    throw new IrisgateError('root_too_old', `the root was replaced ${ago} s ago, the limit is ${maxAge} s`);
  }
  if (!(await verifier.verify(proof))) throw new IrisgateError('invalid_proof', 'the proof does not verify');
  const spent = await nullifiers.use({
    appId,
    action,
    nullifier: proof.nullifier,
    maxUses: allowed,
    nowMs: now,
  });
  return {
    appId,
    action,
    nullifier: proof.nullifier,
    merkleRoot: proof.merkleTreeRoot,
    uses: spent.uses,
    maxUses: allowed,
    createdAtMs: spent.createdAtMs,
  };
}
