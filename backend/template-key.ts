/**
 * The template data key (DEK) kept under a key-encryption key (KEK) on the backend's PKCS#11 token
 * (envelope encryption). The KEK is an AES-256 token object, sensitive and non-extractable; it is created
 * with its label when missing and never replaced. The 32-byte DEK is drawn once at random and stored in
 * `template-key.wrapped` as the token's AES-GCM encryption of it under the KEK:
 *   {"version": 1, "tokenLabel": ..., "keyLabel": ..., "iv": hex, "wrapped": hex}
 * At start the token decrypts it and the DEK goes to TemplateCipher, so templates decrypt in-process.
 * Losing the file or the KEK loses the gallery: neither is ever overwritten.
 */
// node-webcrypto-p11 loads @peculiar/x509, whose tsyringe needs this polyfill first.
import 'reflect-metadata';
import { randomBytes, type webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as graphene from 'graphene-pk11';
import { Crypto, CryptoKey as P11CryptoKey, TemplateBuilder } from 'node-webcrypto-p11';
import { fromHex, toHex } from '../protocol/bytes.ts';
import { IrisgateError } from '../protocol/errors.ts';

export const WRAPPED_TEMPLATE_KEY_FILE = 'template-key.wrapped';
export const DEFAULT_TEMPLATE_KEK_LABEL = 'irisgate-template-kek';

export interface Pkcs11TemplateKeyConfig {
  /** Path of the PKCS#11 module (.so). */
  module: string;
  /** Label of the token that holds the KEK. */
  tokenLabel: string;
  /** The token's user PIN. */
  pin: string;
  /** Label of the KEK on the token; default 'irisgate-template-kek'. */
  keyLabel?: string;
}

/** What `template-key.wrapped` holds. */
export interface WrappedTemplateKey {
  version: 1;
  tokenLabel: string;
  keyLabel: string;
  /** The 12-byte AES-GCM nonce, hex. */
  iv: string;
  /** The DEK encrypted under the KEK followed by the 16-byte GCM tag (48 bytes), hex. */
  wrapped: string;
}

const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Binds the wrapped key to its purpose: the KEK's ciphertexts for anything else do not open as one. */
const WRAP_ASSOCIATED_DATA = new TextEncoder().encode('irisgate/template-key/v1');
const KEK_USAGES: webcrypto.KeyUsage[] = ['encrypt', 'decrypt'];
const IV_HEX = new RegExp(`^[0-9a-f]{${IV_BYTES * 2}}$`);
const WRAPPED_HEX = new RegExp(`^[0-9a-f]{${(DATA_KEY_BYTES + TAG_BYTES) * 2}}$`);

/** node-webcrypto-p11 leaves CKA_PRIVATE to the token's default for secret keys: ask for it explicitly. */
class PrivateSecretTemplateBuilder extends TemplateBuilder {
  override build(params: Parameters<TemplateBuilder['build']>[0]): graphene.ITemplate {
    const template = super.build(params);
    if (params.type === 'secret' && params.action === 'generate') template.private = true;
    return template;
  }
}

/** Calls in this process, one after another (see loadPkcs11TemplateKey). */
let queue: Promise<unknown> = Promise.resolve();

/** Returns the 32-byte template data key, unwrapping (or on first use creating and wrapping) it with the token's KEK. */
export async function loadPkcs11TemplateKey(
  config: Pkcs11TemplateKeyConfig,
  wrappedKeyPath: string,
): Promise<Uint8Array> {
  // One call at a time in this process: each may initialise and finalise the (process-wide) module.
  const run = queue.then(() => loadTemplateKeyNow(config, wrappedKeyPath));
  queue = run.catch(() => undefined);
  return run;
}

async function loadTemplateKeyNow(
  config: Pkcs11TemplateKeyConfig,
  wrappedKeyPath: string,
): Promise<Uint8Array> {
  const keyLabel = config.keyLabel ?? DEFAULT_TEMPLATE_KEK_LABEL;
  const existing = readWrappedKey(wrappedKeyPath);
  if (existing) checkLabels(existing, config.tokenLabel, keyLabel, wrappedKeyPath);
  return withTokenSession(config, async (crypto) => {
    const keks = await findKeks(crypto, keyLabel);
    if (existing) return unwrapDataKey(crypto, keks, existing, config.tokenLabel, wrappedKeyPath);

    const kek = keks[0] ?? (await generateKek(crypto, keyLabel));
    const dataKey = new Uint8Array(randomBytes(DATA_KEY_BYTES));
    const iv = new Uint8Array(randomBytes(IV_BYTES));
    const wrapped = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: WRAP_ASSOCIATED_DATA },
      kek,
      dataKey,
    );
    const file: WrappedTemplateKey = {
      version: 1,
      tokenLabel: config.tokenLabel,
      keyLabel,
      iv: toHex(iv),
      wrapped: toHex(new Uint8Array(wrapped)),
    };
    mkdirSync(dirname(wrappedKeyPath), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(wrappedKeyPath, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Another process wrapped its key first: that one is the template key.
      const theirs = readWrappedKey(wrappedKeyPath);
      if (!theirs) throw error;
      checkLabels(theirs, config.tokenLabel, keyLabel, wrappedKeyPath);
      return unwrapDataKey(
        crypto,
        await findKeks(crypto, keyLabel),
        theirs,
        config.tokenLabel,
        wrappedKeyPath,
      );
    }
    return dataKey;
  });
}

/** Reads and checks the wrapped key file; undefined when it does not exist yet. */
function readWrappedKey(path: string): WrappedTemplateKey | undefined {
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `cannot read ${path}`, { cause });
  }
  const invalid = (why: string, cause?: unknown): IrisgateError =>
    new IrisgateError('template_key_invalid', `${path} is not a wrapped template key: ${why}`, { cause });
  let parsed: Partial<Record<keyof WrappedTemplateKey, unknown>>;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw invalid('not JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid('not a JSON object');
  if (parsed.version !== 1) throw invalid(`version ${String(parsed.version)} is not supported`);
  const { tokenLabel, keyLabel, iv, wrapped } = parsed;
  if (typeof tokenLabel !== 'string' || typeof keyLabel !== 'string')
    throw invalid('tokenLabel and keyLabel must be strings');
  if (typeof iv !== 'string' || !IV_HEX.test(iv)) throw invalid(`iv must be ${IV_BYTES} bytes of hex`);
  if (typeof wrapped !== 'string' || !WRAPPED_HEX.test(wrapped))
    throw invalid(`wrapped must be ${DATA_KEY_BYTES + TAG_BYTES} bytes of hex`);
  return { version: 1, tokenLabel, keyLabel, iv, wrapped };
}

/** A wrapped key names the token and KEK that wrapped it: refuse a configuration naming others. */
function checkLabels(file: WrappedTemplateKey, tokenLabel: string, keyLabel: string, path: string): void {
  if (file.tokenLabel === tokenLabel && file.keyLabel === keyLabel) return;
  throw new IrisgateError(
    'template_key_invalid',
    `${path} was wrapped by key "${file.keyLabel}" on token "${file.tokenLabel}", ` +
      `not by the configured key "${keyLabel}" on token "${tokenLabel}"`,
  );
}

async function unwrapDataKey(
  crypto: Crypto,
  keks: P11CryptoKey[],
  file: WrappedTemplateKey,
  tokenLabel: string,
  path: string,
): Promise<Uint8Array> {
  if (keks.length === 0) {
    throw new IrisgateError(
      'key_not_found',
      `token "${tokenLabel}" holds no AES-256 key "${file.keyLabel}" to unwrap ${path} with`,
    );
  }
  // Two processes starting at once may each have created a KEK with this label: try them all.
  let lastError: unknown;
  for (const kek of keks) {
    try {
      const dataKey = new Uint8Array(
        await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: fromHex(file.iv), additionalData: WRAP_ASSOCIATED_DATA },
          kek,
          fromHex(file.wrapped),
        ),
      );
      if (dataKey.length === DATA_KEY_BYTES) return dataKey;
      lastError = new Error(`unwrapped ${dataKey.length} bytes, not ${DATA_KEY_BYTES}`);
    } catch (cause) {
      // SoftHSM answers a failed GCM tag check with CKR_GENERAL_ERROR: any failure here means this file
      // was not wrapped by this key (or was changed since).
      lastError = cause;
    }
  }
  throw new IrisgateError(
    'template_key_invalid',
    `${path} does not decrypt under key "${file.keyLabel}" on token "${tokenLabel}" (changed or wrapped by another key)`,
    { cause: lastError },
  );
}

/**
 * The AES-256 token keys with this label. Searched by attributes in the token, not through
 * node-webcrypto-p11's keyStorage, whose getItem scans every object on the token once per key (seconds on
 * a token holding a few hundred keys).
 */
async function findKeks(crypto: Crypto, label: string): Promise<P11CryptoKey[]> {
  const found = crypto.session.find({
    class: graphene.ObjectClass.SECRET_KEY,
    keyType: graphene.KeyType.AES,
    valueLen: DATA_KEY_BYTES,
    label,
    token: true,
  });
  return Array.from(
    { length: found.length },
    (_, i) =>
      new P11CryptoKey(
        found.items(i).toType<graphene.SecretKey>(),
        { name: 'AES-GCM', length: 256 } as webcrypto.AesKeyAlgorithm,
        KEK_USAGES,
      ),
  );
}

async function generateKek(crypto: Crypto, label: string): Promise<P11CryptoKey> {
  const params = { name: 'AES-GCM', length: 256, label, token: true, sensitive: true };
  return (await crypto.subtle.generateKey(params, false, KEK_USAGES)) as P11CryptoKey;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Opens a logged-in read-write session on the token, runs `use`, then logs out and closes everything it
 * opened. A PKCS#11 module's state is process-wide: finalise it only if this call initialised it, and log
 * out only if this call logged in, so other users of the module in this process keep their sessions.
 */
async function withTokenSession<T>(
  config: Pkcs11TemplateKeyConfig,
  use: (crypto: Crypto) => Promise<T>,
): Promise<T> {
  const unavailable = (why: string, cause?: unknown): IrisgateError =>
    new IrisgateError('hsm_unavailable', why, cause === undefined ? undefined : { cause });
  let module: graphene.Module;
  try {
    module = graphene.Module.load(config.module, config.module);
  } catch (cause) {
    throw unavailable(`cannot load PKCS#11 module ${config.module}: ${message(cause)}`, cause);
  }
  // Probe: listing slots fails with CKR_CRYPTOKI_NOT_INITIALIZED unless another user initialised it.
  let initialisedHere = true;
  try {
    module.getSlots(true);
    initialisedHere = false;
  } catch {
    // not initialised yet: this call does it, and finalises it afterwards
  }
  try {
    // Also when already initialised: graphene then ignores CKR_CRYPTOKI_ALREADY_INITIALIZED but still
    // reads the module's info, which node-webcrypto-p11's AES-GCM needs (the cryptoki version).
    module.initialize();
  } catch (cause) {
    throw unavailable(`cannot initialise PKCS#11 module ${config.module}: ${message(cause)}`, cause);
  }
  try {
    const slots = module.getSlots(true);
    let slot: graphene.Slot | undefined;
    for (let i = 0; i < slots.length && !slot; i++) {
      const candidate = slots.items(i);
      if (candidate.getToken().label.trim() === config.tokenLabel) slot = candidate;
    }
    if (!slot) throw unavailable(`no token labelled "${config.tokenLabel}" in ${config.module}`);
    let session: graphene.Session;
    try {
      session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
    } catch (cause) {
      throw unavailable(`cannot open a session on token "${config.tokenLabel}": ${message(cause)}`, cause);
    }
    try {
      let loggedInHere = false;
      try {
        session.login(config.pin, graphene.UserType.USER);
        loggedInHere = true;
      } catch (cause) {
        // Another user of the module in this process is logged in: the session already is too.
        if (!/CKR_USER_ALREADY_LOGGED_IN/.test(message(cause))) {
          throw new IrisgateError('hsm_login_failed', `token "${config.tokenLabel}" refused the PIN`, {
            cause,
          });
        }
      }
      try {
        const crypto = new Crypto({ session, name: config.tokenLabel });
        crypto.templateBuilder = new PrivateSecretTemplateBuilder();
        return await use(crypto);
      } finally {
        if (loggedInHere) {
          try {
            session.logout();
          } catch {
            // already logged out: nothing to undo
          }
        }
      }
    } finally {
      session.close();
    }
  } finally {
    if (initialisedHere) module.finalize();
  }
}
