/**
 * The receipt a backend signs when it accepts a signup: proof for the device (and its operator) that this
 * exact signup made this identity commitment a member of the group at this position.
 *
 * Signed with the backend's receipt key (ECDSA P-256, low-S, protocol/signature.ts) over
 *   "irisgate/signup-receipt/v1" | u8 version (1) | string deviceId | bytes signupDigest (32)
 *   | bytes identityCommitment (32) | u64 memberIndex | bytes root (32) | u64 acceptedAtMs
 */
import { bigIntToBytes, fromHex, toHex } from './bytes.ts';
import { canonicalMessage } from './canonical.ts';
import { verifySignature } from './signature.ts';

export const RECEIPT_DOMAIN = 'irisgate/signup-receipt/v1';
export const RECEIPT_ALGORITHM = 'ecdsa-p256-sha256';

export interface SignupReceipt {
  version: 1;
  deviceId: string;
  /** SHA-256 of the signup's signing bytes (protocol/signup-envelope.ts signupDigest). */
  signupDigest: Uint8Array;
  identityCommitment: bigint;
  memberIndex: number;
  /** The group root right after this member was added. */
  root: bigint;
  acceptedAtMs: number;
}

export interface SignedReceipt {
  receipt: SignupReceipt;
  /** 64 bytes r||s from the backend's receipt key. */
  signature: Uint8Array;
}

/** The receipt as JSON: bytes as lower-case hex, field elements as decimal strings. */
export interface ReceiptJson {
  version: 1;
  deviceId: string;
  signupDigest: string;
  identityCommitment: string;
  memberIndex: number;
  root: string;
  acceptedAtMs: number;
  signature: string;
}

export function receiptSigningBytes(receipt: SignupReceipt): Uint8Array {
  return canonicalMessage(RECEIPT_DOMAIN)
    .u8(receipt.version)
    .string(receipt.deviceId)
    .bytes(receipt.signupDigest)
    .bytes(bigIntToBytes(receipt.identityCommitment, 32))
    .u64(receipt.memberIndex)
    .bytes(bigIntToBytes(receipt.root, 32))
    .u64(receipt.acceptedAtMs)
    .finish();
}

export function receiptToJson({ receipt, signature }: SignedReceipt): ReceiptJson {
  return {
    version: receipt.version,
    deviceId: receipt.deviceId,
    signupDigest: toHex(receipt.signupDigest),
    identityCommitment: receipt.identityCommitment.toString(),
    memberIndex: receipt.memberIndex,
    root: receipt.root.toString(),
    acceptedAtMs: receipt.acceptedAtMs,
    signature: toHex(signature),
  };
}

export function receiptFromJson(json: ReceiptJson): SignedReceipt {
  return {
    receipt: {
      version: json.version,
      deviceId: json.deviceId,
      signupDigest: fromHex(json.signupDigest),
      identityCommitment: BigInt(json.identityCommitment),
      memberIndex: json.memberIndex,
      root: BigInt(json.root),
      acceptedAtMs: json.acceptedAtMs,
    },
    signature: fromHex(json.signature),
  };
}

/** Resolves when the receipt carries a valid signature of the backend key `publicKey` (uncompressed point). */
export function verifyReceipt(signed: SignedReceipt, publicKey: Uint8Array): Promise<void> {
  return verifySignature(RECEIPT_ALGORITHM, publicKey, receiptSigningBytes(signed.receipt), signed.signature);
}
