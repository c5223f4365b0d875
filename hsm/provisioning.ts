/**
 * Device provisioning: create (or reuse) the device's attestation key and iris-code signing key in its
 * token, have the manufacturer CA certify them, and record where everything is in a device profile
 * (DIR/device.json with the certificates beside it). No secret is ever written to the profile.
 */
import { webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toHex } from '../protocol/bytes.ts';
import { type DeviceKeyInfo, parseCertificate } from '../protocol/device-certificate.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { type SignatureAlgorithm, verifySignature } from '../protocol/signature.ts';
import type { x509 } from '../protocol/x509.ts';
import { DevelopmentSigner } from './development-signer.ts';
import {
  type DeviceCertificateRequest,
  issueDeviceCertificate,
  type KeyResidencyEvidence,
  type ManufacturerCa,
} from './manufacturer-ca.ts';
import { Pkcs11Token, type Pkcs11TokenConfig } from './pkcs11-signer.ts';
import type { Signer } from './signer.ts';
import { certifyPkcs11Key, provisionAttestationKey } from './tpm-attestation.ts';

export const PROFILE_FILE = 'device.json';
export const DEVICE_CERT_FILE = 'device.cert.pem';
export const PROFILE_CA_CERT_FILE = 'manufacturer-ca.cert.pem';
export const KEY_LABELS = { attestation: 'irisgate-attestation', irisCode: 'irisgate-iris-code' } as const;

export type DeviceTokenConfig = Pkcs11TokenConfig | { kind: 'development' };
type KeyName = keyof typeof KEY_LABELS;

export interface ProfileKey {
  label: string;
  algorithm: SignatureAlgorithm;
  keyId: string;
  /** Uncompressed point, hex. */
  publicKey: string;
}

export interface DeviceProfile {
  version: 1;
  deviceId: string;
  token: DeviceTokenConfig;
  keys: Record<KeyName, ProfileKey>;
  /** On a TPM: the persistent attestation key (AK) that quotes PCRs and certifies the other keys. */
  tpmQuoteKey?: { handle: number; publicKey: string };
}

export interface DeviceKeys {
  attestation: Signer;
  irisCode: Signer;
  close(): void;
}

/** The iris-code key is secp256k1 like the Orb's, except on a TPM, which has no secp256k1 (P-256 there). */
export function irisCodeAlgorithm(token: DeviceTokenConfig): SignatureAlgorithm {
  return token.kind === 'tpm' ? 'ecdsa-p256-sha256' : 'ecdsa-secp256k1-sha256';
}

const KEY_ALGORITHMS = (token: DeviceTokenConfig): Record<KeyName, SignatureAlgorithm> => ({
  attestation: 'ecdsa-p256-sha256',
  irisCode: irisCodeAlgorithm(token),
});

function developmentKeyPath(dir: string, name: KeyName): string {
  return join(dir, 'keys', `${KEY_LABELS[name]}.key.pem`);
}

/** Opens the device's two signers, creating any that do not exist yet when create is true. */
async function openOrCreateKeys(
  dir: string,
  token: DeviceTokenConfig,
  pin: string | undefined,
  create: boolean,
): Promise<DeviceKeys & { created: KeyName[] }> {
  const algorithms = KEY_ALGORITHMS(token);
  const created: KeyName[] = [];
  if (token.kind === 'development') {
    const open = async (name: KeyName) => {
      const path = developmentKeyPath(dir, name);
      try {
        return await DevelopmentSigner.open(path);
      } catch (error) {
        if (!create || !(error instanceof IrisgateError && error.code === 'key_not_found')) throw error;
        created.push(name);
        return DevelopmentSigner.generate(path, algorithms[name]);
      }
    };
    return { attestation: await open('attestation'), irisCode: await open('irisCode'), created, close() {} };
  }
  if (pin === undefined) throw new IrisgateError('hsm_login_failed', 'a PIN is needed to open the token');
  const session = Pkcs11Token.open(token, pin);
  try {
    const open = async (name: KeyName) => {
      if (await session.hasKey(KEY_LABELS[name])) return session.openSigner(KEY_LABELS[name]);
      if (!create)
        throw new IrisgateError('key_not_found', `token "${token.tokenLabel}" has no ${KEY_LABELS[name]}`);
      created.push(name);
      return session.generateSigner(KEY_LABELS[name], algorithms[name]);
    };
    const attestation = await open('attestation');
    const irisCode = await open('irisCode');
    return { attestation, irisCode, created, close: () => session.close() };
  } catch (error) {
    session.close();
    throw error;
  }
}

/** Proof of possession: each key signs a fresh challenge that verifies under its public key. */
async function assertKeysSign(keys: Signer[]): Promise<void> {
  for (const key of keys) {
    const challenge = webcrypto.getRandomValues(new Uint8Array(32));
    await verifySignature(key.algorithm, key.publicKey, challenge, await key.sign(challenge));
  }
}

function profileKey(signer: Signer): ProfileKey {
  return {
    label: signer.location.keyLabel,
    algorithm: signer.algorithm,
    keyId: signer.keyId,
    publicKey: toHex(signer.publicKey),
  };
}

export interface ProvisionResult {
  profile: DeviceProfile;
  certificate: x509.X509Certificate;
  /** Keys generated by this run; the others already existed in the token and were reused. */
  created: KeyName[];
}

/**
 * Provisions a device into dir: keys in the token (reused if present, never overwritten), a device
 * certificate from the manufacturer CA, and the profile. Running it again re-issues the certificate.
 */
export async function provisionDevice({
  dir,
  token,
  pin,
  ca,
  deviceId,
}: {
  dir: string;
  token: DeviceTokenConfig;
  pin?: string;
  ca: ManufacturerCa;
  deviceId?: string;
}): Promise<ProvisionResult> {
  if (token.kind !== 'development' && pin === undefined) {
    throw new IrisgateError('hsm_login_failed', 'a PIN is needed to open the token');
  }
  await mkdir(dir, { recursive: true });
  const keys = await openOrCreateKeys(dir, token, pin, true);
  try {
    await assertKeysSign([keys.attestation, keys.irisCode]);
    const request: DeviceCertificateRequest = {
      deviceId: deviceId ?? `ig-${keys.attestation.keyId.slice(0, 16)}`,
      keys: [
        { role: 'attestation', ...certKey(keys.attestation) },
        { role: 'iris-code', ...certKey(keys.irisCode) },
      ],
    };
    const profile: DeviceProfile = {
      version: 1,
      deviceId: request.deviceId,
      token: tokenDescription(token),
      keys: { attestation: profileKey(keys.attestation), irisCode: profileKey(keys.irisCode) },
    };
    if (token.kind === 'tpm' && pin !== undefined) {
      const ak = await provisionAttestationKey();
      request.keys.push({
        role: 'tpm-quote',
        store: 'tpm',
        algorithm: 'ecdsa-p256-sha256',
        publicKey: ak.publicKey,
      });
      request.tpmResidency = await certifyTokenKeys(token.tokenLabel, pin, keys);
      profile.tpmQuoteKey = { handle: ak.handle, publicKey: toHex(ak.publicKey) };
    }
    const certificate = await issueDeviceCertificate(ca, request);
    await writeFile(join(dir, DEVICE_CERT_FILE), certificate.toString('pem'));
    await writeFile(join(dir, PROFILE_CA_CERT_FILE), ca.cert.toString('pem'));
    await writeFile(join(dir, PROFILE_FILE), `${JSON.stringify(profile, null, 2)}\n`);
    return { profile, certificate, created: keys.created };
  } finally {
    keys.close();
  }
}

/** Only what names the token: a caller's config object may carry a PIN or environment. */
function tokenDescription(token: DeviceTokenConfig): DeviceTokenConfig {
  if (token.kind === 'development') return { kind: 'development' };
  return { kind: token.kind, module: token.module, tokenLabel: token.tokenLabel };
}

/** Has the TPM's AK certify both token keys over a fresh nonce, for the CA to check. */
async function certifyTokenKeys(
  tokenLabel: string,
  userPin: string,
  keys: DeviceKeys,
): Promise<NonNullable<DeviceCertificateRequest['tpmResidency']>> {
  const nonce = webcrypto.getRandomValues(new Uint8Array(32));
  const certify = (signer: Signer): Promise<KeyResidencyEvidence> =>
    certifyPkcs11Key({ tokenLabel, keyLabel: signer.location.keyLabel, userPin, nonce });
  return {
    nonce,
    certifications: {
      attestation: await certify(keys.attestation),
      'iris-code': await certify(keys.irisCode),
    },
  };
}

function certKey(signer: Signer): Omit<DeviceKeyInfo, 'role'> {
  return { store: signer.location.store, algorithm: signer.algorithm, publicKey: signer.publicKey };
}

export async function loadDeviceProfile(dir: string): Promise<{
  profile: DeviceProfile;
  certificate: x509.X509Certificate;
  caCertificate: x509.X509Certificate;
}> {
  let text: string;
  try {
    text = await readFile(join(dir, PROFILE_FILE), 'utf8');
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `no device profile in ${dir} (run irisgate hsm init)`, {
      cause,
    });
  }
  const profile = JSON.parse(text) as DeviceProfile;
  if (profile.version !== 1)
    throw new IrisgateError('invalid_argument', `unsupported profile version ${profile.version}`);
  const certificate = parseCertificate(await readFile(join(dir, DEVICE_CERT_FILE), 'utf8'));
  const caCertificate = parseCertificate(await readFile(join(dir, PROFILE_CA_CERT_FILE), 'utf8'));
  return { profile, certificate, caCertificate };
}

/** Opens the signers of a provisioned device and checks they are the keys its profile names. */
export async function openDeviceKeys(dir: string, profile: DeviceProfile, pin?: string): Promise<DeviceKeys> {
  const keys = await openOrCreateKeys(dir, profile.token, pin, false);
  for (const name of ['attestation', 'irisCode'] as const) {
    if (toHex(keys[name].publicKey) !== profile.keys[name].publicKey) {
      keys.close();
      throw new IrisgateError(
        'key_not_found',
        `the token's ${KEY_LABELS[name]} is not the key this profile names`,
      );
    }
  }
  return keys;
}
