import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as graphene from 'graphene-pk11';
import { Crypto, CryptoKey as P11CryptoKey } from 'node-webcrypto-p11';
import { describe, expect, it } from 'vitest';
import { TemplateCipher } from '../../backend/backend-secrets.ts';
import {
  loadPkcs11TemplateKey,
  type Pkcs11TemplateKeyConfig,
  WRAPPED_TEMPLATE_KEY_FILE,
  type WrappedTemplateKey,
} from '../../backend/template-key.ts';
import { Pkcs11Token } from '../../hsm/pkcs11-signer.ts';
import { verifySignature } from '../../protocol/signature.ts';
import { sharedHsmFixture, uniqueKeyLabel } from '../support/hsm.ts';

const token = sharedHsmFixture().softhsm;

function configFor(keyLabel: string): Pkcs11TemplateKeyConfig {
  return { module: token.module, tokenLabel: token.tokenLabel, pin: token.pin, keyLabel };
}

function freshWrappedKeyPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'irisgate-template-key-')), WRAPPED_TEMPLATE_KEY_FILE);
}

function readWrapped(path: string): WrappedTemplateKey {
  return JSON.parse(readFileSync(path, 'utf8')) as WrappedTemplateKey;
}

function writeWrapped(path: string, file: WrappedTemplateKey): void {
  writeFileSync(path, JSON.stringify(file));
}

function flipHexByte(hex: string, byte: number): string {
  const bytes = Buffer.from(hex, 'hex');
  bytes[byte] = (bytes[byte] ?? 0) ^ 0x01;
  return bytes.toString('hex');
}

/** A logged-in session of the test's own on the token, closed (and the module finalised) afterwards. */
async function onToken<T>(use: (session: graphene.Session, crypto: Crypto) => Promise<T>): Promise<T> {
  const module = graphene.Module.load(token.module);
  module.initialize();
  const slots = module.getSlots(true);
  let slot: graphene.Slot | undefined;
  for (let i = 0; i < slots.length; i++) {
    if (slots.items(i).getToken().label.trim() === token.tokenLabel) slot = slots.items(i);
  }
  if (!slot) throw new Error(`no token ${token.tokenLabel}`);
  const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
  try {
    session.login(token.pin);
    return await use(session, new Crypto({ session, name: token.tokenLabel }));
  } finally {
    session.logout();
    session.close();
    module.finalize();
  }
}

function secretKeysLabelled(session: graphene.Session, label: string): graphene.SecretKey[] {
  const found = session.find({ class: graphene.ObjectClass.SECRET_KEY, label, token: true });
  return Array.from({ length: found.length }, (_, i) => found.items(i).toType<graphene.SecretKey>());
}

describe('template data key wrapped by a KEK on the PKCS#11 token', () => {
  it('creates the KEK and the wrapped file on first use, and returns the same 32 bytes after', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    const path = freshWrappedKeyPath();
    const first = await loadPkcs11TemplateKey(configFor(keyLabel), path);
    expect(first).toBeInstanceOf(Uint8Array);
    expect(first).toHaveLength(32);
    expect(first.some((b) => b !== 0)).toBe(true);

    const file = readWrapped(path);
    expect(file).toEqual({
      version: 1,
      tokenLabel: token.tokenLabel,
      keyLabel,
      iv: expect.stringMatching(/^[0-9a-f]{24}$/),
      wrapped: expect.stringMatching(/^[0-9a-f]{96}$/),
    });
    expect(file.wrapped).not.toContain(Buffer.from(first).toString('hex').slice(0, 16));
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const second = await loadPkcs11TemplateKey(configFor(keyLabel), path);
    expect(second).toEqual(first);
    expect(readWrapped(path)).toEqual(file);
    // The KEK was created once, not again on the second start.
    await onToken(async (session) => expect(secretKeysLabelled(session, keyLabel)).toHaveLength(1));
  });

  it('keeps the KEK in the token: AES-256, private, sensitive, never extractable, export refused', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    await loadPkcs11TemplateKey(configFor(keyLabel), freshWrappedKeyPath());
    await onToken(async (session, crypto) => {
      const [kek] = secretKeysLabelled(session, keyLabel);
      if (!kek) throw new Error('no KEK on the token');
      expect(
        kek.getAttribute({
          keyType: null,
          valueLen: null,
          token: null,
          private: null,
          sensitive: null,
          alwaysSensitive: null,
          extractable: null,
          neverExtractable: null,
          encrypt: null,
          decrypt: null,
        }),
      ).toEqual({
        keyType: graphene.KeyType.AES,
        valueLen: 32,
        token: true,
        private: true,
        sensitive: true,
        alwaysSensitive: true,
        extractable: false,
        neverExtractable: true,
        encrypt: true,
        decrypt: true,
      });
      // The token itself refuses the value ...
      expect(() => kek.getAttribute({ value: null })).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      // ... and so does WebCrypto export, as any caller would try it.
      const key = new P11CryptoKey(kek, { name: 'AES-GCM', length: 256 } as webcrypto.AesKeyAlgorithm, [
        'encrypt',
        'decrypt',
      ]);
      expect(key.extractable).toBe(false);
      await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow(/not extractable/);
      key.extractable = true; // a caller that lies about it still gets nothing: the token refuses the value
      await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    });
  });

  it('gives a key TemplateCipher encrypts and decrypts with, across restarts', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    const path = freshWrappedKeyPath();
    const template = webcrypto.getRandomValues(new Uint8Array(12_800));
    const before = new TemplateCipher(await loadPkcs11TemplateKey(configFor(keyLabel), path));
    const { iv, ciphertext } = before.encrypt(template, 'member-7/left');
    const after = new TemplateCipher(await loadPkcs11TemplateKey(configFor(keyLabel), path));
    expect(after.decrypt(iv, ciphertext, 'member-7/left')).toEqual(template);
    expect(() => after.decrypt(iv, ciphertext, 'member-7/right')).toThrow(
      expect.objectContaining({ code: 'group_integrity' }),
    );
  });

  it('refuses a tampered wrapped key or nonce, and leaves the file as it was', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    const path = freshWrappedKeyPath();
    await loadPkcs11TemplateKey(configFor(keyLabel), path);
    const original = readWrapped(path);
    for (const tampered of [
      { ...original, wrapped: flipHexByte(original.wrapped, 0) },
      { ...original, wrapped: flipHexByte(original.wrapped, 47) }, // the GCM tag
      { ...original, iv: flipHexByte(original.iv, 5) },
    ]) {
      writeWrapped(path, tampered);
      await expect(loadPkcs11TemplateKey(configFor(keyLabel), path)).rejects.toMatchObject({
        code: 'template_key_invalid',
        message: expect.stringMatching(/does not decrypt under key/),
      });
      expect(readWrapped(path)).toEqual(tampered);
    }
  });

  it('refuses a file that is not a wrapped key', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    const path = freshWrappedKeyPath();
    await loadPkcs11TemplateKey(configFor(keyLabel), path);
    const original = readWrapped(path);
    for (const text of [
      '',
      'not json',
      JSON.stringify({ ...original, version: 2 }),
      JSON.stringify({ ...original, iv: original.iv.slice(2) }),
      JSON.stringify({ ...original, wrapped: `${original.wrapped}00` }),
      JSON.stringify({ ...original, keyLabel: 7 }),
    ]) {
      writeFileSync(path, text);
      await expect(loadPkcs11TemplateKey(configFor(keyLabel), path)).rejects.toMatchObject({
        code: 'template_key_invalid',
      });
    }
  });

  it('refuses the file under another key label, and a file relabelled to name another KEK', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    const otherLabel = uniqueKeyLabel('template-kek');
    const path = freshWrappedKeyPath();
    const otherPath = freshWrappedKeyPath();
    await loadPkcs11TemplateKey(configFor(keyLabel), path);
    await loadPkcs11TemplateKey(configFor(otherLabel), otherPath);

    // Configuration names another KEK than the file: refused before anything is created or written.
    const orphanLabel = uniqueKeyLabel('template-kek');
    await expect(loadPkcs11TemplateKey(configFor(orphanLabel), path)).rejects.toMatchObject({
      code: 'template_key_invalid',
      message: expect.stringContaining(`not by the configured key "${orphanLabel}"`),
    });
    await expect(loadPkcs11TemplateKey(configFor(otherLabel), path)).rejects.toMatchObject({
      code: 'template_key_invalid',
    });
    await expect(
      loadPkcs11TemplateKey({ ...configFor(keyLabel), tokenLabel: 'renamed-token' }, path),
    ).rejects.toMatchObject({ code: 'template_key_invalid' });
    await onToken(async (session) => expect(secretKeysLabelled(session, orphanLabel)).toHaveLength(0));

    // A file wrapped by one KEK whose labels were edited to name another does not decrypt under it.
    writeWrapped(otherPath, { ...readWrapped(otherPath), keyLabel });
    await expect(loadPkcs11TemplateKey(configFor(keyLabel), otherPath)).rejects.toMatchObject({
      code: 'template_key_invalid',
    });
  });

  it('refuses a wrapped file whose KEK is not on the token, without creating one', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    const path = freshWrappedKeyPath();
    await loadPkcs11TemplateKey(configFor(keyLabel), path);
    const missingLabel = uniqueKeyLabel('template-kek');
    writeWrapped(path, { ...readWrapped(path), keyLabel: missingLabel });
    await expect(loadPkcs11TemplateKey(configFor(missingLabel), path)).rejects.toMatchObject({
      code: 'key_not_found',
    });
    await onToken(async (session) => expect(secretKeysLabelled(session, missingLabel)).toHaveLength(0));
  });

  it('wraps a new data key under an existing KEK when the file is new, never replacing the KEK', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    const first = await loadPkcs11TemplateKey(configFor(keyLabel), freshWrappedKeyPath());
    const second = await loadPkcs11TemplateKey(configFor(keyLabel), freshWrappedKeyPath());
    expect(second).not.toEqual(first);
    await onToken(async (session) => expect(secretKeysLabelled(session, keyLabel)).toHaveLength(1));
  });

  it('serialises concurrent first calls in one process: one KEK, one file, one key', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    const path = freshWrappedKeyPath();
    const keys = await Promise.all([1, 2, 3].map(() => loadPkcs11TemplateKey(configFor(keyLabel), path)));
    expect(keys[1]).toEqual(keys[0]);
    expect(keys[2]).toEqual(keys[0]);
    await onToken(async (session) => expect(secretKeysLabelled(session, keyLabel)).toHaveLength(1));
  });

  it('refuses a wrong PIN, an unknown token and a missing module, writing nothing', async () => {
    const keyLabel = uniqueKeyLabel('template-kek');
    const path = freshWrappedKeyPath();
    await expect(loadPkcs11TemplateKey({ ...configFor(keyLabel), pin: '0000' }, path)).rejects.toMatchObject({
      code: 'hsm_login_failed',
    });
    await expect(
      loadPkcs11TemplateKey({ ...configFor(keyLabel), tokenLabel: 'no-such-token' }, path),
    ).rejects.toMatchObject({ code: 'hsm_unavailable', message: expect.stringContaining('no-such-token') });
    await expect(
      loadPkcs11TemplateKey({ ...configFor(keyLabel), module: '/nonexistent/libpkcs11.so' }, path),
    ).rejects.toMatchObject({ code: 'hsm_unavailable' });
    expect(existsSync(path)).toBe(false);
    // The right PIN still works afterwards: the failures left nothing logged in or initialised behind.
    expect(await loadPkcs11TemplateKey(configFor(keyLabel), path)).toHaveLength(32);
  });

  it('leaves another user of the module in this process logged in and working', async () => {
    const signerToken = Pkcs11Token.open(token, token.pin);
    try {
      const signer = await signerToken.generateSigner(uniqueKeyLabel('beside'), 'ecdsa-p256-sha256');
      const path = freshWrappedKeyPath();
      const keyLabel = uniqueKeyLabel('template-kek');
      const key = await loadPkcs11TemplateKey(configFor(keyLabel), path);
      expect(await loadPkcs11TemplateKey(configFor(keyLabel), path)).toEqual(key);
      const message = new Uint8Array(32).fill(9);
      await verifySignature(signer.algorithm, signer.publicKey, message, await signer.sign(message));
    } finally {
      signerToken.close();
    }
  });
});
