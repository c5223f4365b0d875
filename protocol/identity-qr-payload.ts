/**
 * The identity QR payload: what a wallet shows so the capture device reads its Semaphore identity
 * commitment, `irisgate:commitment:v1:<decimal commitment>`, the commitment in [1, BN254 scalar field)
 * without leading zeros. The wallet (sdk/) builds it; the device (device/identity-qr.ts) reads it from a
 * camera frame and parses it.
 */
import { IrisgateError } from './errors.ts';
import { SNARK_SCALAR_FIELD } from './signup-envelope.ts';

export const IDENTITY_QR_PREFIX = 'irisgate:commitment:v1:';
/** A field element has at most 77 decimal digits. */
const COMMITMENT_DECIMAL = /^[1-9][0-9]{0,76}$/;

export function identityQrPayload(commitment: bigint): string {
  if (commitment < 1n || commitment >= SNARK_SCALAR_FIELD) {
    throw new IrisgateError('invalid_identity_qr', 'the commitment must be in [1, BN254 scalar field)');
  }
  return `${IDENTITY_QR_PREFIX}${commitment}`;
}

export function parseIdentityQrPayload(text: string): bigint {
  if (!text.startsWith(IDENTITY_QR_PREFIX)) {
    throw new IrisgateError('invalid_identity_qr', `the QR code does not start with ${IDENTITY_QR_PREFIX}`);
  }
  const decimal = text.slice(IDENTITY_QR_PREFIX.length);
  if (!COMMITMENT_DECIMAL.test(decimal)) {
    throw new IrisgateError('invalid_identity_qr', 'the commitment must be decimal without leading zeros');
  }
  const commitment = BigInt(decimal);
  if (commitment >= SNARK_SCALAR_FIELD) {
    throw new IrisgateError('invalid_identity_qr', 'the commitment must be below the BN254 scalar field');
  }
  return commitment;
}
