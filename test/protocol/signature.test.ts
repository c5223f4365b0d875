import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bigIntToBytes, bytesToBigInt, concatBytes } from '../../protocol/bytes.ts';
import {
  isLowS,
  normaliseLowS,
  publicKeyFromSpki,
  type SignatureAlgorithm,
  spkiFromPublicKey,
  verifySignature,
} from '../../protocol/signature.ts';

const N: Record<SignatureAlgorithm, bigint> = {
  'ecdsa-p256-sha256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'ecdsa-secp256k1-sha256': 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
};
const CURVE = { 'ecdsa-p256-sha256': 'prime256v1', 'ecdsa-secp256k1-sha256': 'secp256k1' } as const;
const message = new TextEncoder().encode('irisgate signup envelope');

function softwareKey(algorithm: SignatureAlgorithm) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: CURVE[algorithm] });
  const point = publicKeyFromSpki(
    new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
  ).publicKey;
  const signRaw = (data: Uint8Array) =>
    new Uint8Array(sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
  return { point, signRaw };
}

function withS(signature: Uint8Array, s: bigint): Uint8Array {
  return concatBytes(signature.subarray(0, 32), bigIntToBytes(s, 32));
}

describe.each(Object.keys(N) as SignatureAlgorithm[])('%s', (algorithm) => {
  const n = N[algorithm];
  const key = softwareKey(algorithm);

  it('verifies a low-S signature and its SPKI round-trips', async () => {
    const signature = normaliseLowS(algorithm, key.signRaw(message));
    await expect(verifySignature(algorithm, key.point, message, signature)).resolves.toBeUndefined();
    expect(publicKeyFromSpki(spkiFromPublicKey(algorithm, key.point))).toEqual({
      algorithm,
      publicKey: key.point,
    });
  });

  it('normalises high S to n - s, and the strict verifier refuses the high-S twin', async () => {
    const low = normaliseLowS(algorithm, key.signRaw(message));
    const s = bytesToBigInt(low.subarray(32));
    const high = withS(low, n - s);
    expect(isLowS(algorithm, low)).toBe(true);
    expect(isLowS(algorithm, high)).toBe(false);
    expect(normaliseLowS(algorithm, high)).toEqual(low);
    await expect(verifySignature(algorithm, key.point, message, high)).rejects.toMatchObject({
      code: 'high_s_signature',
    });
  });

  it('refuses a signature over other bytes', async () => {
    const signature = normaliseLowS(algorithm, key.signRaw(message));
    const other = new TextEncoder().encode('irisgate signup envelope!');
    await expect(verifySignature(algorithm, key.point, other, signature)).rejects.toMatchObject({
      code: 'invalid_signature',
    });
  });

  it('refuses a signature by another key', async () => {
    const signature = normaliseLowS(algorithm, softwareKey(algorithm).signRaw(message));
    await expect(verifySignature(algorithm, key.point, message, signature)).rejects.toMatchObject({
      code: 'invalid_signature',
    });
  });

  it('refuses malformed signatures: wrong length, r = 0, s >= n', async () => {
    const signature = normaliseLowS(algorithm, key.signRaw(message));
    const cases = [
      signature.subarray(0, 63),
      concatBytes(signature, Uint8Array.of(0)),
      concatBytes(new Uint8Array(32), signature.subarray(32)),
      withS(signature, n),
    ];
    for (const bad of cases) {
      await expect(verifySignature(algorithm, key.point, message, bad)).rejects.toMatchObject({
        code: 'malformed_signature',
      });
    }
  });

  it('refuses public keys that are not uncompressed points on the curve', async () => {
    const signature = normaliseLowS(algorithm, key.signRaw(message));
    const offCurve = Uint8Array.from(key.point);
    offCurve[64] = (offCurve[64] ?? 0) ^ 1;
    const compressed = concatBytes(Uint8Array.of(0x02), key.point.subarray(1, 33));
    for (const bad of [offCurve, compressed, new Uint8Array(65)]) {
      await expect(verifySignature(algorithm, bad, message, signature)).rejects.toMatchObject({
        code: 'malformed_public_key',
      });
    }
  });
});

it('refuses a P-256 key presented as secp256k1 (curve confusion)', async () => {
  const key = softwareKey('ecdsa-p256-sha256');
  const signature = normaliseLowS('ecdsa-p256-sha256', key.signRaw(message));
  await expect(
    verifySignature('ecdsa-secp256k1-sha256', key.point, message, signature),
  ).rejects.toMatchObject({
    code: 'malformed_public_key',
  });
});
