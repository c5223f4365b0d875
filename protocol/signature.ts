/**
 * ECDSA signatures as Irisgate publishes them: 64 bytes r||s (IEEE P1363), over SHA-256 of the message,
 * always low-S. Verification is strict: wrong length, r or s out of range, high S, an invalid point or a
 * wrong signature are all refused with their own code.
 */
import { createPublicKey, type KeyObject, webcrypto } from 'node:crypto';
import * as secp from '@noble/secp256k1';
import { bigIntToBytes, bytesToBigInt, concatBytes, toHex } from './bytes.ts';
import { IrisgateError } from './errors.ts';

export const SIGNATURE_ALGORITHMS = ['ecdsa-p256-sha256', 'ecdsa-secp256k1-sha256'] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

interface CurveFacts {
  /** Group order. */
  n: bigint;
  /** Name of the curve in JWK / WebCrypto. */
  jwkCurve: 'P-256' | 'secp256k1';
}

const CURVES: Record<SignatureAlgorithm, CurveFacts> = {
  'ecdsa-p256-sha256': {
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    jwkCurve: 'P-256',
  },
  'ecdsa-secp256k1-sha256': {
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
    jwkCurve: 'secp256k1',
  },
};

export function isSignatureAlgorithm(value: unknown): value is SignatureAlgorithm {
  return typeof value === 'string' && (SIGNATURE_ALGORITHMS as readonly string[]).includes(value);
}

function curveOf(algorithm: SignatureAlgorithm): CurveFacts {
  const curve = CURVES[algorithm];
  if (!curve) throw new IrisgateError('unsupported_algorithm', `unsupported algorithm ${String(algorithm)}`);
  return curve;
}

function splitSignature(algorithm: SignatureAlgorithm, signature: Uint8Array): { r: bigint; s: bigint } {
  if (signature.length !== 64) {
    throw new IrisgateError('malformed_signature', `signature is ${signature.length} bytes, expected 64`);
  }
  const { n } = curveOf(algorithm);
  const r = bytesToBigInt(signature.subarray(0, 32));
  const s = bytesToBigInt(signature.subarray(32));
  if (r <= 0n || r >= n || s <= 0n || s >= n) {
    throw new IrisgateError('malformed_signature', 'signature r or s is outside [1, n-1]');
  }
  return { r, s };
}

/** Returns the low-S form of a raw r||s signature (s -> n - s when s > n/2). Both forms verify. */
export function normaliseLowS(algorithm: SignatureAlgorithm, signature: Uint8Array): Uint8Array {
  const { n } = curveOf(algorithm);
  const { r, s } = splitSignature(algorithm, signature);
  if (s <= n >> 1n) return Uint8Array.from(signature);
  return concatBytes(bigIntToBytes(r, 32), bigIntToBytes(n - s, 32));
}

export function isLowS(algorithm: SignatureAlgorithm, signature: Uint8Array): boolean {
  const { s } = splitSignature(algorithm, signature);
  return s <= curveOf(algorithm).n >> 1n;
}

/** Checks that a public key is a 65-byte uncompressed SEC1 point on the algorithm's curve. */
export function assertPublicKey(algorithm: SignatureAlgorithm, publicKey: Uint8Array): void {
  if (publicKey.length !== 65 || publicKey[0] !== 0x04) {
    throw new IrisgateError(
      'malformed_public_key',
      'public key must be a 65-byte uncompressed point (0x04||x||y)',
    );
  }
  try {
    publicKeyObject(algorithm, publicKey);
  } catch (cause) {
    throw new IrisgateError('malformed_public_key', 'public key is not a point on the curve', { cause });
  }
}

function publicKeyObject(algorithm: SignatureAlgorithm, publicKey: Uint8Array): KeyObject {
  const x = Buffer.from(publicKey.subarray(1, 33)).toString('base64url');
  const y = Buffer.from(publicKey.subarray(33, 65)).toString('base64url');
  return createPublicKey({ key: { kty: 'EC', crv: curveOf(algorithm).jwkCurve, x, y }, format: 'jwk' });
}

/** DER SubjectPublicKeyInfo of an uncompressed point (what X.509 certificates carry). */
export function spkiFromPublicKey(algorithm: SignatureAlgorithm, publicKey: Uint8Array): Uint8Array {
  assertPublicKey(algorithm, publicKey);
  return new Uint8Array(publicKeyObject(algorithm, publicKey).export({ format: 'der', type: 'spki' }));
}

/** The uncompressed point and algorithm of a DER SubjectPublicKeyInfo holding a P-256 or secp256k1 key. */
export function publicKeyFromSpki(spki: Uint8Array): {
  algorithm: SignatureAlgorithm;
  publicKey: Uint8Array;
} {
  let jwk: webcrypto.JsonWebKey;
  try {
    jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  } catch (cause) {
    throw new IrisgateError('malformed_public_key', 'not a DER SubjectPublicKeyInfo', { cause });
  }
  const algorithm = SIGNATURE_ALGORITHMS.find((a) => CURVES[a].jwkCurve === jwk.crv);
  if (!algorithm || !jwk.x || !jwk.y) {
    throw new IrisgateError(
      'unsupported_algorithm',
      `unsupported key type ${jwk.kty ?? '?'} ${jwk.crv ?? ''}`,
    );
  }
  const publicKey = concatBytes(
    Uint8Array.of(0x04),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from(jwk.y, 'base64url'),
  );
  return { algorithm, publicKey };
}

/**
 * Verifies a signature strictly. Resolves on success; throws IrisgateError with
 * malformed_public_key, malformed_signature, high_s_signature or invalid_signature otherwise.
 */
export async function verifySignature(
  algorithm: SignatureAlgorithm,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<void> {
  const key = await verificationKey(algorithm, publicKey);
  if (!isLowS(algorithm, signature)) throw new IrisgateError('high_s_signature');
  const valid =
    key === 'secp256k1'
      ? await secp.verifyAsync(signature, message, publicKey, {
          lowS: true,
          prehash: true,
          format: 'compact',
        })
      : await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, message);
  if (!valid) throw new IrisgateError('invalid_signature');
}

/**
 * Keys already checked to be on their curve, with their imported WebCrypto key for P-256: a backend
 * verifies the same few device keys thousands of times. Bounded: emptied when it reaches its size.
 */
const CHECKED_KEYS = new Map<string, webcrypto.CryptoKey | 'secp256k1'>();
const CHECKED_KEYS_MAX = 4096;

async function verificationKey(
  algorithm: SignatureAlgorithm,
  publicKey: Uint8Array,
): Promise<webcrypto.CryptoKey | 'secp256k1'> {
  const id = `${algorithm}:${toHex(publicKey)}`;
  const cached = CHECKED_KEYS.get(id);
  if (cached) return cached;
  assertPublicKey(algorithm, publicKey);
  const key =
    algorithm === 'ecdsa-secp256k1-sha256'
      ? 'secp256k1'
      : await webcrypto.subtle.importKey('raw', publicKey, { name: 'ECDSA', namedCurve: 'P-256' }, false, [
          'verify',
        ]);
  if (CHECKED_KEYS.size >= CHECKED_KEYS_MAX) CHECKED_KEYS.clear();
  CHECKED_KEYS.set(id, key);
  return key;
}

/** A short, stable fingerprint of a public key: the first 16 bytes of SHA-256 over its SPKI, in hex. */
export async function keyFingerprint(algorithm: SignatureAlgorithm, publicKey: Uint8Array): Promise<string> {
  const digest = await webcrypto.subtle.digest('SHA-256', spkiFromPublicKey(algorithm, publicKey));
  return toHex(new Uint8Array(digest).subarray(0, 16));
}
