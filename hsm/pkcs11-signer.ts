/**
 * Keys inside a PKCS#11 token (SoftHSM2, or a TPM through tpm2-pkcs11), used through node-webcrypto-p11.
 * Keys are generated inside the token as token objects, sensitive and non-extractable; the private key
 * never leaves it. Signatures come back as raw r||s and are low-S normalised before anyone sees them.
 */
// node-webcrypto-p11 loads @peculiar/x509, whose tsyringe needs this polyfill first.
import 'reflect-metadata';
import type { webcrypto } from 'node:crypto';
import * as graphene from 'graphene-pk11';
import { Crypto, type CryptoKey as P11CryptoKey, TemplateBuilder } from 'node-webcrypto-p11';
import { IrisgateError } from '../protocol/errors.ts';
import type { KeyStore } from '../protocol/key-store.ts';
import { keyFingerprint, normaliseLowS, type SignatureAlgorithm } from '../protocol/signature.ts';
import type { KeyLocation, Signer } from './signer.ts';

export interface Pkcs11TokenConfig {
  /** Path of the PKCS#11 module (.so). */
  module: string;
  /** Label of the token to use. */
  tokenLabel: string;
  /** What the token is; 'tpm' turns on the tpm2-pkcs11 template rules. */
  kind: Extract<KeyStore, 'softhsm' | 'tpm' | 'pkcs11'>;
}

const NAMED_CURVES: Record<SignatureAlgorithm, 'P-256' | 'K-256'> = {
  'ecdsa-p256-sha256': 'P-256',
  'ecdsa-secp256k1-sha256': 'K-256',
};

/**
 * tpm2-pkcs11 rejects node-webcrypto-p11's default template: it sets encrypt/decrypt/wrap/unwrap to false
 * and the TPM disagrees ("attr mismatch 0x104"). Drop those attributes and let the token decide.
 */
class TpmTemplateBuilder extends TemplateBuilder {
  override build(params: Parameters<TemplateBuilder['build']>[0]): graphene.ITemplate {
    const template = super.build(params);
    for (const name of ['encrypt', 'decrypt', 'wrap', 'unwrap', 'derive'] as const) {
      if (template[name] === false) delete template[name];
    }
    return template;
  }
}

/** A loaded PKCS#11 module is process-wide state: share it between tokens and finalise it once. */
const loadedModules = new Map<string, { module: graphene.Module; users: number }>();

function acquireModule(path: string): graphene.Module {
  const loaded = loadedModules.get(path);
  if (loaded) {
    loaded.users++;
    return loaded.module;
  }
  let module: graphene.Module;
  try {
    module = graphene.Module.load(path, path);
    module.initialize();
  } catch (cause) {
    throw new IrisgateError('hsm_unavailable', `cannot load PKCS#11 module ${path}: ${message(cause)}`, {
      cause,
    });
  }
  loadedModules.set(path, { module, users: 1 });
  return module;
}

function releaseModule(path: string): void {
  const loaded = loadedModules.get(path);
  if (!loaded) return;
  if (--loaded.users > 0) return;
  loadedModules.delete(path);
  loaded.module.finalize();
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An open, logged-in session on one token. Close it when done. */
export class Pkcs11Token {
  readonly config: Pkcs11TokenConfig;
  private readonly session: graphene.Session;
  private readonly crypto: Crypto;
  private closed = false;

  private constructor(config: Pkcs11TokenConfig, session: graphene.Session) {
    this.config = config;
    this.session = session;
    this.crypto = new Crypto({ session, name: config.tokenLabel });
    if (config.kind === 'tpm') this.crypto.templateBuilder = new TpmTemplateBuilder();
  }

  /** Opens a read-write session on the token with this label and logs in as the user. */
  static open(config: Pkcs11TokenConfig, pin: string): Pkcs11Token {
    const module = acquireModule(config.module);
    try {
      const slots = module.getSlots(true);
      let slot: graphene.Slot | undefined;
      for (let i = 0; i < slots.length; i++) {
        const candidate = slots.items(i);
        if (candidate.getToken().label.trim() === config.tokenLabel) slot = candidate;
      }
      if (!slot) {
        throw new IrisgateError(
          'hsm_unavailable',
          `no token labelled "${config.tokenLabel}" in ${config.module}`,
        );
      }
      const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
      try {
        session.login(pin, graphene.UserType.USER);
      } catch (cause) {
        session.close();
        throw new IrisgateError('hsm_login_failed', `token "${config.tokenLabel}" refused the PIN`, {
          cause,
        });
      }
      return new Pkcs11Token(config, session);
    } catch (error) {
      releaseModule(config.module);
      throw error;
    }
  }

  /** Generates a new signing key pair inside the token. Refuses if a key with this label exists. */
  async generateSigner(keyLabel: string, algorithm: SignatureAlgorithm): Promise<Pkcs11Signer> {
    if (await this.findPrivateKey(keyLabel)) {
      throw new IrisgateError(
        'key_exists',
        `token "${this.config.tokenLabel}" already holds a key "${keyLabel}"`,
      );
    }
    const params = {
      name: 'ECDSA',
      namedCurve: NAMED_CURVES[algorithm],
      label: keyLabel,
      token: true,
      sensitive: true,
    };
    const pair = await this.crypto.subtle.generateKey(params, false, ['sign', 'verify']);
    return this.signerFor(
      pair.privateKey as P11CryptoKey,
      pair.publicKey as P11CryptoKey,
      keyLabel,
      algorithm,
    );
  }

  /** Opens the existing key pair with this label. */
  async openSigner(keyLabel: string): Promise<Pkcs11Signer> {
    const privateKey = await this.findPrivateKey(keyLabel);
    const publicKey = await this.findKey(keyLabel, 'public');
    if (!privateKey || !publicKey) {
      throw new IrisgateError(
        'key_not_found',
        `token "${this.config.tokenLabel}" holds no key pair "${keyLabel}"`,
      );
    }
    const curve = (publicKey.algorithm as unknown as webcrypto.EcKeyAlgorithm).namedCurve;
    const algorithm = (Object.keys(NAMED_CURVES) as SignatureAlgorithm[]).find(
      (a) => NAMED_CURVES[a] === curve,
    );
    if (!algorithm)
      throw new IrisgateError('unsupported_algorithm', `key "${keyLabel}" is on curve ${curve}`);
    return this.signerFor(privateKey, publicKey, keyLabel, algorithm);
  }

  async hasKey(keyLabel: string): Promise<boolean> {
    return (await this.findPrivateKey(keyLabel)) !== undefined;
  }

  /**
   * Asks the token itself for the private key's value (CKA_VALUE), bypassing every library-level check.
   * A sensitive, non-extractable key makes the token refuse; exposed so tests and audits can prove it.
   */
  async readPrivateKeyValue(keyLabel: string): Promise<Uint8Array> {
    const key = await this.findPrivateKey(keyLabel);
    if (!key) throw new IrisgateError('key_not_found', `no private key "${keyLabel}"`);
    return new Uint8Array(key.p11Object.getAttribute({ value: null }).value as Buffer);
  }

  /** Asks node-webcrypto-p11 to export the private key as PKCS#8, as any WebCrypto caller would. */
  async exportPrivateKey(keyLabel: string): Promise<ArrayBuffer> {
    const key = await this.findPrivateKey(keyLabel);
    if (!key) throw new IrisgateError('key_not_found', `no private key "${keyLabel}"`);
    return this.crypto.subtle.exportKey('pkcs8', key);
  }

  /** The token's own view of a private key's protection attributes. */
  async privateKeyAttributes(
    keyLabel: string,
  ): Promise<{ extractable: boolean; sensitive: boolean; neverExtractable: boolean; token: boolean }> {
    const key = await this.findPrivateKey(keyLabel);
    if (!key) throw new IrisgateError('key_not_found', `no private key "${keyLabel}"`);
    const attrs = key.p11Object.getAttribute({
      extractable: null,
      sensitive: null,
      neverExtractable: null,
      token: null,
    });
    return {
      extractable: Boolean(attrs.extractable),
      sensitive: Boolean(attrs.sensitive),
      neverExtractable: Boolean(attrs.neverExtractable),
      token: Boolean(attrs.token),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.session.logout();
    } catch {
      // already logged out: nothing to undo
    }
    this.session.close();
    releaseModule(this.config.module);
  }

  private async findPrivateKey(label: string): Promise<P11CryptoKey | undefined> {
    return this.findKey(label, 'private');
  }

  private async findKey(label: string, type: webcrypto.KeyType): Promise<P11CryptoKey | undefined> {
    for (const index of await this.crypto.keyStorage.keys()) {
      if (!index.startsWith(`${type}-`)) continue;
      const key = (await this.crypto.keyStorage.getItem(index)) as P11CryptoKey | null;
      if (key && key.type === type && key.algorithm.label === label) return key;
    }
    return undefined;
  }

  private async signerFor(
    privateKey: P11CryptoKey,
    publicKey: P11CryptoKey,
    keyLabel: string,
    algorithm: SignatureAlgorithm,
  ): Promise<Pkcs11Signer> {
    const publicPoint = new Uint8Array(await this.crypto.subtle.exportKey('raw', publicKey));
    const location: KeyLocation = {
      store: this.config.kind,
      module: this.config.module,
      tokenLabel: this.config.tokenLabel,
      keyLabel,
    };
    return new Pkcs11Signer(
      this.crypto,
      privateKey,
      algorithm,
      publicPoint,
      await keyFingerprint(algorithm, publicPoint),
      location,
    );
  }
}

export class Pkcs11Signer implements Signer {
  constructor(
    private readonly crypto: Crypto,
    private readonly privateKey: P11CryptoKey,
    readonly algorithm: SignatureAlgorithm,
    readonly publicKey: Uint8Array,
    readonly keyId: string,
    readonly location: KeyLocation,
  ) {}

  async sign(message: Uint8Array): Promise<Uint8Array> {
    const raw = await this.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, this.privateKey, message);
    return normaliseLowS(this.algorithm, new Uint8Array(raw));
  }
}
