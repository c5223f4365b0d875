/**
 * The backend's own secrets, kept in its data folder and created on first start (mode 0600):
 *   receipt-key.pem  the P-256 key that signs receipts (PKCS#8)
 *   template-key     the AES-256-GCM key that encrypts enrolled templates at rest (32 bytes, hex), unless
 *                    the key is kept under a PKCS#11 token's key (template-key.wrapped, template-key.ts)
 *   admin-token      the operator credential for the admin routes
 * A file that exists is never overwritten: losing the template key loses the gallery.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  timingSafeEqual,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex } from '../protocol/bytes.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { keyFingerprint, normaliseLowS, publicKeyFromSpki } from '../protocol/signature.ts';
import { RECEIPT_ALGORITHM } from '../protocol/signup-receipt.ts';
import type { Pkcs11TemplateKeyConfig } from './template-key.ts';

export const RECEIPT_KEY_FILE = 'receipt-key.pem';
export const TEMPLATE_KEY_FILE = 'template-key';
export const ADMIN_TOKEN_FILE = 'admin-token';

/** Reads a secret file, creating it with `create()` first if it does not exist. */
function secretFile(path: string, create: () => string): string {
  if (!existsSync(path)) writeFileSync(path, create(), { mode: 0o600, flag: 'wx' });
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `cannot read ${path}`, { cause });
  }
}

/** Signs receipts with the backend's P-256 key (low-S r||s, like every Irisgate signature). */
export class ReceiptSigner {
  private constructor(
    private readonly key: KeyObject,
    /** Uncompressed point. */
    readonly publicKey: Uint8Array,
    readonly keyId: string,
  ) {}

  static async load(path: string): Promise<ReceiptSigner> {
    const pem = secretFile(path, () =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    );
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new IrisgateError('invalid_argument', `${path} is not a P-256 private key`);
    }
    const spki = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
    const { publicKey } = publicKeyFromSpki(spki);
    return new ReceiptSigner(key, publicKey, await keyFingerprint(RECEIPT_ALGORITHM, publicKey));
  }

  sign(message: Uint8Array): Uint8Array {
    const der = sign('sha256', message, { key: this.key, dsaEncoding: 'ieee-p1363' });
    return normaliseLowS(RECEIPT_ALGORITHM, new Uint8Array(der));
  }
}

/**
 * AES-256-GCM over enrolled templates. The associated data binds a ciphertext to its member and eye, so
 * rows swapped in the database fail to decrypt instead of moving an iris to another identity.
 */
export class TemplateCipher {
  constructor(private readonly key: Uint8Array) {
    if (key.length !== 32) throw new IrisgateError('invalid_argument', 'the template key must be 32 bytes');
  }

  static load(path: string): TemplateCipher {
    const hex = secretFile(path, () => `${toHex(randomBytes(32))}\n`).trim();
    if (!/^[0-9a-f]{64}$/.test(hex))
      throw new IrisgateError('invalid_argument', `${path} is not 32 bytes of hex`);
    return new TemplateCipher(fromHex(hex));
  }

  encrypt(plaintext: Uint8Array, context: string): { iv: Uint8Array; ciphertext: Uint8Array } {
    const iv = new Uint8Array(randomBytes(12));
    const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { iv, ciphertext: new Uint8Array(body) };
  }

  decrypt(iv: Uint8Array, ciphertext: Uint8Array, context: string): Uint8Array {
    const tagAt = ciphertext.length - 16;
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(context));
    decipher.setAuthTag(ciphertext.subarray(tagAt));
    try {
      return new Uint8Array(
        Buffer.concat([decipher.update(ciphertext.subarray(0, tagAt)), decipher.final()]),
      );
    } catch (cause) {
      throw new IrisgateError(
        'group_integrity',
        `template ${context} does not decrypt under the template key`,
        {
          cause,
        },
      );
    }
  }
}

/** The operator credential: compared in constant time, through SHA-256 so lengths never leak. */
export class AdminCredential {
  readonly #digest: Buffer;

  constructor(token: string) {
    if (token.length < 16)
      throw new IrisgateError('invalid_argument', 'the admin token must have at least 16 characters');
    this.#digest = createHash('sha256').update(token).digest();
  }

  /** From IRISGATE_ADMIN_TOKEN when set, else the file (created with a random token). */
  static load(path: string, env = process.env.IRISGATE_ADMIN_TOKEN): AdminCredential {
    return new AdminCredential(
      env || secretFile(path, () => `${randomBytes(24).toString('base64url')}\n`).trim(),
    );
  }

  matches(token: string | undefined): boolean {
    return token !== undefined && timingSafeEqual(createHash('sha256').update(token).digest(), this.#digest);
  }
}

export interface BackendSecrets {
  receiptSigner: ReceiptSigner;
  templateCipher: TemplateCipher;
  admin: AdminCredential;
}

/** The PKCS#11 libraries load only for a backend configured with a token. */
async function tokenTemplateCipher(token: Pkcs11TemplateKeyConfig, dir: string): Promise<TemplateCipher> {
  const { loadPkcs11TemplateKey, WRAPPED_TEMPLATE_KEY_FILE } = await import('./template-key.ts');
  return new TemplateCipher(await loadPkcs11TemplateKey(token, join(dir, WRAPPED_TEMPLATE_KEY_FILE)));
}

/**
 * Loads (creating on first start) the secrets in dir. The template key comes from the `template-key` file,
 * or, given a PKCS#11 token, from `template-key.wrapped` under the token's key (backend/template-key.ts).
 */
export async function loadBackendSecrets(
  dir: string,
  { templateKeyToken }: { templateKeyToken?: Pkcs11TemplateKeyConfig } = {},
): Promise<BackendSecrets> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    receiptSigner: await ReceiptSigner.load(join(dir, RECEIPT_KEY_FILE)),
    templateCipher: templateKeyToken
      ? await tokenTemplateCipher(templateKeyToken, dir)
      : TemplateCipher.load(join(dir, TEMPLATE_KEY_FILE)),
    admin: AdminCredential.load(join(dir, ADMIN_TOKEN_FILE)),
  };
}
