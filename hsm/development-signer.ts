/**
 * DEVELOPMENT ONLY: a software key in a file, for running the demo on a machine with no HSM at all.
 * Its location says store 'development', the device certificate says so too, and a backend in production
 * mode refuses it. Never use it on a device that enrols real people.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { IrisgateError } from '../protocol/errors.ts';
import {
  keyFingerprint,
  normaliseLowS,
  publicKeyFromSpki,
  type SignatureAlgorithm,
} from '../protocol/signature.ts';
import type { KeyLocation, Signer } from './signer.ts';

const OPENSSL_CURVES: Record<SignatureAlgorithm, string> = {
  'ecdsa-p256-sha256': 'prime256v1',
  'ecdsa-secp256k1-sha256': 'secp256k1',
};

export class DevelopmentSigner implements Signer {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly algorithm: SignatureAlgorithm,
    readonly publicKey: Uint8Array,
    readonly keyId: string,
    readonly location: KeyLocation,
  ) {}

  /** Generates a key and writes it (PKCS#8 PEM, mode 0600) to path. Refuses to overwrite. */
  static async generate(path: string, algorithm: SignatureAlgorithm): Promise<DevelopmentSigner> {
    if (existsSync(path)) throw new IrisgateError('key_exists', `development key ${path} already exists`);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: OPENSSL_CURVES[algorithm] });
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    return DevelopmentSigner.fromKey(privateKey, path);
  }

  static async open(path: string): Promise<DevelopmentSigner> {
    let pem: string;
    try {
      pem = await readFile(path, 'utf8');
    } catch (cause) {
      throw new IrisgateError('key_not_found', `no development key at ${path}`, { cause });
    }
    return DevelopmentSigner.fromKey(createPrivateKey(pem), path);
  }

  private static async fromKey(privateKey: KeyObject, path: string): Promise<DevelopmentSigner> {
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    const { algorithm, publicKey } = publicKeyFromSpki(new Uint8Array(spki));
    const location: KeyLocation = { store: 'development', keyLabel: basename(path) };
    return new DevelopmentSigner(
      privateKey,
      algorithm,
      publicKey,
      await keyFingerprint(algorithm, publicKey),
      location,
    );
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    const raw = sign('sha256', message, { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return normaliseLowS(this.algorithm, new Uint8Array(raw));
  }
}
