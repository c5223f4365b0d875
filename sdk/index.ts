/**
 * Irisgate's SDK: what wallets and apps import.
 *
 * Wallets: an identity (createIdentityFile / readIdentityFile, identityQrPayload for the capture device),
 * its inclusion proof from the backend (fetchInclusionProof), a uniqueness proof for an app's action bound
 * to a signal (createUniquenessProof), releaseProver() before a command-line process exits.
 * Apps: openUniquenessVerifier({roots: backendRoots(url) | await offlineRoots(statements, key),
 * nullifiers: sqlNullifierStore(pgPoolOrPglite)}).verifyUniquenessProof({proof, appId, action, signal}).
 */

export { Identity } from '@semaphore-protocol/core';
export { SHIPPED_DEPTH, SHIPPED_DEPTHS } from '../circuits/artifacts.ts';
export { type MerkleInclusion, releaseProver } from '../circuits/prover.ts';
export { ERROR_CODES, type ErrorCode, IrisgateError } from '../protocol/errors.ts';
export {
  createIdentityFile,
  IDENTITY_FILE_KIND,
  type IdentityFileJson,
  identityFileJson,
  parseIdentityFile,
  readIdentityFile,
  writeIdentityFile,
} from '../protocol/identity-file.ts';
export {
  IDENTITY_QR_PREFIX,
  identityQrPayload,
  parseIdentityQrPayload,
} from '../protocol/identity-qr-payload.ts';
export { DEFAULT_NULLIFIER_TABLE, type SqlClient, sqlNullifierStore } from '../protocol/nullifier-store.ts';
export {
  type RootStatement,
  type RootStatementJson,
  statementRoots,
  verifyRootStatement,
} from '../protocol/root-statement.ts';
export {
  DEFAULT_MAX_ROOT_AGE_SECONDS,
  type NullifierStore,
  type NullifierUse,
  PROOF_LIMITS,
  type ProofVerifier,
  parseAction,
  parseAppId,
  parseUniquenessProof,
  type RootRecord,
  type RootSource,
  type UniquenessProof,
  type UniquenessRequest,
  type UniquenessVerdict,
} from '../protocol/uniqueness-proof.ts';
export { externalNullifier, hashToField, semaphoreHash, signalHash } from '../protocol/world-id-hashing.ts';
export { type BackendRequestOptions, DEFAULT_TIMEOUT_MS } from './http.ts';
export { isPostgresUrl, type NullifierDatabase, openNullifierDatabase } from './nullifier-db.ts';
export { type ParsedPresentation, type Presentation, parsePresentation } from './presentation.ts';
export {
  type BackendInfo,
  backendRoots,
  fetchBackendInfo,
  offlineRoots,
  openUniquenessVerifier,
  receiptPublicKey,
  type UniquenessVerifier,
  type VerifierOptions,
} from './verify.ts';
export {
  type CreateProofRequest,
  createUniquenessProof,
  fetchInclusionProof,
  type InclusionProofReply,
} from './wallet.ts';
