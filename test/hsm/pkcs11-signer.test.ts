import { webcrypto } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevelopmentSigner } from '../../hsm/development-signer.ts';
import type { FixtureToken } from '../../hsm/fixture/fixture.ts';
import { Pkcs11Token } from '../../hsm/pkcs11-signer.ts';
import type { Signer } from '../../hsm/signer.ts';
import { bigIntToBytes, bytesToBigInt, concatBytes } from '../../protocol/bytes.ts';
import { isLowS, type SignatureAlgorithm, verifySignature } from '../../protocol/signature.ts';
import { sharedHsmFixture, uniqueKeyLabel } from '../support/hsm.ts';

const fixture = sharedHsmFixture();
const message = webcrypto.getRandomValues(new Uint8Array(32));
const ORDER: Record<SignatureAlgorithm, bigint> = {
  'ecdsa-p256-sha256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'ecdsa-secp256k1-sha256': 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
};

/** Exercises one signer: round trip, always low-S, and each rejection. */
async function checkSigner(signer: Signer, other: Signer): Promise<void> {
  const signature = await signer.sign(message);
  expect(signature).toHaveLength(64);
  await verifySignature(signer.algorithm, signer.publicKey, message, signature);
  // Tokens return high S about half of the time: 24 signatures all low-S means the signer normalises.
  for (let i = 0; i < 24; i++) expect(isLowS(signer.algorithm, await signer.sign(message))).toBe(true);

  const otherBytes = Uint8Array.from(message);
  otherBytes[0] = (otherBytes[0] ?? 0) ^ 0x80;
  await expect(
    verifySignature(signer.algorithm, signer.publicKey, otherBytes, signature),
  ).rejects.toMatchObject({
    code: 'invalid_signature',
  });
  await expect(
    verifySignature(signer.algorithm, signer.publicKey, message, await other.sign(message)),
  ).rejects.toMatchObject({ code: 'invalid_signature' });
  const highS = concatBytes(
    signature.subarray(0, 32),
    bigIntToBytes(ORDER[signer.algorithm] - bytesToBigInt(signature.subarray(32)), 32),
  );
  await expect(verifySignature(signer.algorithm, signer.publicKey, message, highS)).rejects.toMatchObject({
    code: 'high_s_signature',
  });
}

const TOKEN_CASES: ['softhsm' | 'tpm', SignatureAlgorithm][] = [
  ['softhsm', 'ecdsa-p256-sha256'],
  ['softhsm', 'ecdsa-secp256k1-sha256'],
  ['tpm', 'ecdsa-p256-sha256'],
];

describe.each(TOKEN_CASES)('%s token, %s', (kind, algorithm) => {
  const tokenOf = (): FixtureToken => fixture[kind];
  let token: Pkcs11Token;
  beforeAll(() => {
    const config = tokenOf();
    token = Pkcs11Token.open(config, config.pin);
  });
  afterAll(() => token.close());

  it('generates a token key that signs, verifies strictly and is always low-S', async () => {
    const label = uniqueKeyLabel('sign');
    const signer = await token.generateSigner(label, algorithm);
    const other = await token.generateSigner(uniqueKeyLabel('other'), algorithm);
    expect(signer.location).toMatchObject({
      store: tokenOf().kind,
      tokenLabel: tokenOf().tokenLabel,
      keyLabel: label,
    });
    await checkSigner(signer, other);
  });

  it('reopens the same key by label', async () => {
    const label = uniqueKeyLabel('reopen');
    const created = await token.generateSigner(label, algorithm);
    const reopened = await token.openSigner(label);
    expect(reopened.algorithm).toBe(algorithm);
    expect(reopened.publicKey).toEqual(created.publicKey);
    expect(reopened.keyId).toBe(created.keyId);
    await verifySignature(algorithm, created.publicKey, message, await reopened.sign(message));
  });

  it('keeps the private key inside the token: non-extractable, sensitive, export refused', async () => {
    const label = uniqueKeyLabel('sealed');
    await token.generateSigner(label, algorithm);
    expect(await token.privateKeyAttributes(label)).toEqual({
      extractable: false,
      sensitive: true,
      neverExtractable: true,
      token: true,
    });
    await expect(token.exportPrivateKey(label)).rejects.toThrow(/not extractable/i);
    // SoftHSM refuses the sensitive value; tpm2-pkcs11 holds only a TPM-wrapped blob and has no value to give.
    await expect(token.readPrivateKeyValue(label)).rejects.toThrow(/CKR_ATTRIBUTE_(SENSITIVE|TYPE_INVALID)/);
  });

  it('refuses a second key under an existing label, and an unknown label', async () => {
    const label = uniqueKeyLabel('dup');
    await token.generateSigner(label, algorithm);
    await expect(token.generateSigner(label, algorithm)).rejects.toMatchObject({ code: 'key_exists' });
    await expect(token.openSigner(uniqueKeyLabel('missing'))).rejects.toMatchObject({
      code: 'key_not_found',
    });
  });
});

describe('opening tokens', () => {
  it('refuses a wrong PIN', () => {
    expect(() => Pkcs11Token.open(fixture.softhsm, '0000')).toThrow(
      expect.objectContaining({ code: 'hsm_login_failed' }),
    );
  });

  it('refuses an unknown token label and a missing module', () => {
    expect(() =>
      Pkcs11Token.open({ ...fixture.softhsm, tokenLabel: 'no-such-token' }, fixture.softhsm.pin),
    ).toThrow(expect.objectContaining({ code: 'hsm_unavailable' }));
    expect(() =>
      Pkcs11Token.open({ ...fixture.softhsm, module: '/nonexistent/libpkcs11.so' }, '1234'),
    ).toThrow(expect.objectContaining({ code: 'hsm_unavailable' }));
  });
});

describe.each(['ecdsa-p256-sha256', 'ecdsa-secp256k1-sha256'] as const)(
  'development signer %s',
  (algorithm) => {
    const dir = mkdtempSync(join(tmpdir(), 'irisgate-devkey-'));

    it('signs, verifies strictly, is low-S and marked as development', async () => {
      const signer = await DevelopmentSigner.generate(join(dir, 'a.pem'), algorithm);
      const other = await DevelopmentSigner.generate(join(dir, 'b.pem'), algorithm);
      expect(signer.location.store).toBe('development');
      await checkSigner(signer, other);
      const reopened = await DevelopmentSigner.open(join(dir, 'a.pem'));
      expect(reopened.publicKey).toEqual(signer.publicKey);
    });

    it('refuses to overwrite a key and to open a missing one', async () => {
      await DevelopmentSigner.generate(join(dir, 'c.pem'), algorithm);
      await expect(DevelopmentSigner.generate(join(dir, 'c.pem'), algorithm)).rejects.toMatchObject({
        code: 'key_exists',
      });
      await expect(DevelopmentSigner.open(join(dir, 'missing.pem'))).rejects.toMatchObject({
        code: 'key_not_found',
      });
    });
  },
);
