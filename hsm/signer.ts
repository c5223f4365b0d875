/**
 * The one signing interface of Irisgate. Every device key, whether it lives in a TPM, a PKCS#11 HSM or
 * (for development only) in a file, signs through a Signer.
 */
import type { KeyStore } from '../protocol/key-store.ts';
import type { SignatureAlgorithm } from '../protocol/signature.ts';

/** Where a key lives, enough for an operator to find it again. Never holds a secret. */
export interface KeyLocation {
  store: KeyStore;
  /** PKCS#11 module path (PKCS#11 stores). */
  module?: string;
  /** Token label (PKCS#11 stores). */
  tokenLabel?: string;
  /** Key label on the token, or the file name of a development key. */
  keyLabel: string;
}

export interface Signer {
  /** Fingerprint of the public key (protocol/signature.ts keyFingerprint). */
  readonly keyId: string;
  readonly algorithm: SignatureAlgorithm;
  /** Uncompressed SEC1 point, 65 bytes. */
  readonly publicKey: Uint8Array;
  readonly location: KeyLocation;
  /** ECDSA over SHA-256(message): 64 bytes r||s, always low-S. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}
