/**
 * The manufacturer CA that issues device certificates. `irisgate hsm ca init` makes a development CA whose
 * key is a file; a real deployment brings its own CA (certificate and key in the same PEM layout).
 */
import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toHex } from '../protocol/bytes.ts';
import {
  DEVELOPMENT_CA_OID,
  DEVICE_KEYS_OID,
  type DeviceKeyInfo,
  encodeDeviceKeys,
  parseCertificate,
} from '../protocol/device-certificate.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { spkiFromPublicKey } from '../protocol/signature.ts';
import { verifyKeyCertification } from '../protocol/tpm-attestation.ts';
import { x509 } from '../protocol/x509.ts';

export const CA_CERT_FILE = 'ca.cert.pem';
export const CA_KEY_FILE = 'ca.key.pem';
const DAY_MS = 86_400_000;
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface ManufacturerCa {
  cert: x509.X509Certificate;
  privateKey: webcrypto.CryptoKey;
}

function randomSerial(): string {
  const serial = webcrypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive INTEGER
  return toHex(serial);
}

/**
 * Creates a manufacturer CA (P-256, key in a file) in dir; refuses to overwrite one. By default it is
 * marked as a development CA, which production backends refuse. An unmarked CA with a key in a file is only
 * for tests that play a real manufacturer; a real one keeps its key in its own HSM.
 */
export async function createManufacturerCa(
  dir: string,
  { name = 'Irisgate Development Manufacturer CA', validityDays = 3650, development = true } = {},
): Promise<ManufacturerCa> {
  if (existsSync(join(dir, CA_KEY_FILE))) {
    throw new IrisgateError('key_exists', `a CA key already exists in ${dir}`);
  }
  const keys = (await webcrypto.subtle.generateKey(ECDSA_P256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name}, O=Irisgate`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validityDays * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(development ? [new x509.Extension(DEVELOPMENT_CA_OID, false, new Uint8Array([0x05, 0x00]))] : []),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, CA_KEY_FILE), x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), { mode: 0o600 });
  await writeFile(join(dir, CA_CERT_FILE), cert.toString('pem'));
  return { cert, privateKey: keys.privateKey };
}

export async function loadManufacturerCa(dir: string): Promise<ManufacturerCa> {
  const read = async (file: string) => {
    try {
      return await readFile(join(dir, file), 'utf8');
    } catch (cause) {
      throw new IrisgateError('invalid_argument', `cannot read ${join(dir, file)}`, { cause });
    }
  };
  const cert = parseCertificate(await read(CA_CERT_FILE));
  const pkcs8 = x509.PemConverter.decodeFirst(await read(CA_KEY_FILE));
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, ECDSA_P256, false, ['sign']);
  return { cert, privateKey };
}

/** TPM2_Certify evidence for one key, made by the AK listed as the device's 'tpm-quote' key. */
export interface KeyResidencyEvidence {
  attest: Uint8Array;
  signature: Uint8Array;
  /** TPM2B_PUBLIC of the certified key. */
  certifiedPublic: Uint8Array;
}

export interface DeviceCertificateRequest {
  deviceId: string;
  keys: DeviceKeyInfo[];
  /**
   * For every key whose store is 'tpm': proof that it lives in the TPM, certified by the AK over the
   * nonce the CA chose. The CA refuses to certify a key as TPM-held without it.
   */
  tpmResidency?: {
    nonce: Uint8Array;
    certifications: Partial<Record<DeviceKeyInfo['role'], KeyResidencyEvidence>>;
  };
  validityDays?: number;
}

/** Checks that every key claimed to be in a TPM was certified by the device's AK over the CA's nonce. */
async function assertTpmResidency({ keys, tpmResidency }: DeviceCertificateRequest): Promise<void> {
  const tpmKeys = keys.filter((k) => k.store === 'tpm' && k.role !== 'tpm-quote');
  if (tpmKeys.length === 0) return;
  const ak = keys.find((k) => k.role === 'tpm-quote');
  if (!ak || !tpmResidency) {
    throw new IrisgateError(
      'key_not_in_tpm',
      'TPM-held keys need the TPM attestation key and certify evidence',
    );
  }
  for (const key of tpmKeys) {
    const evidence = tpmResidency.certifications[key.role];
    if (!evidence) throw new IrisgateError('key_not_in_tpm', `no certify evidence for the ${key.role} key`);
    await verifyKeyCertification({
      ...evidence,
      akPublicKey: ak.publicKey,
      nonce: tpmResidency.nonce,
      claimedPublicKey: key.publicKey,
    });
  }
}

/**
 * Issues a device certificate binding deviceId to its keys; the subject key is the attestation key.
 * Keys claimed to live in a TPM are certified as such only with valid residency evidence.
 */
export async function issueDeviceCertificate(
  ca: ManufacturerCa,
  request: DeviceCertificateRequest,
): Promise<x509.X509Certificate> {
  const { deviceId, keys, validityDays = 3650 } = request;
  const attestation = keys.find((k) => k.role === 'attestation');
  if (!attestation) {
    throw new IrisgateError('invalid_argument', 'a device certificate needs an attestation key');
  }
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(deviceId)) {
    throw new IrisgateError('invalid_argument', 'device id must be 1-64 characters of [A-Za-z0-9._-]');
  }
  await assertTpmResidency(request);
  const now = Date.now();
  const subjectSpki = spkiFromPublicKey(attestation.algorithm, attestation.publicKey);
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${deviceId}, O=Irisgate device`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(Math.min(now + validityDays * DAY_MS, ca.cert.notAfter.getTime())),
    publicKey: subjectSpki,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
      new x509.Extension(DEVICE_KEYS_OID, false, encodeDeviceKeys(keys)),
    ],
  });
}
