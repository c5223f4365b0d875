/**
 * The X.509 device certificate: a manufacturer CA binds a device id to the device's public keys.
 *
 * The certificate's subject public key is the device attestation key (P-256). An Irisgate extension lists
 * every device key with its role, algorithm and where it lives:
 *
 *   DeviceKeys ::= SEQUENCE OF DeviceKey
 *   DeviceKey  ::= SEQUENCE { role UTF8String, store UTF8String, algorithm UTF8String, publicKey OCTET STRING }
 *
 * A development manufacturer CA carries a marker extension; certificates under it, and keys whose store is
 * 'development', are refused in production.
 */
import * as asn1js from 'asn1js';
import { equalBytes } from './bytes.ts';
import { IrisgateError } from './errors.ts';
import { isKeyStore, type KeyStore } from './key-store.ts';
import {
  assertPublicKey,
  isSignatureAlgorithm,
  publicKeyFromSpki,
  type SignatureAlgorithm,
} from './signature.ts';
import { x509 } from './x509.ts';

/**
 * Irisgate's OID arc under 2.25 (ITU-T X.667, no registration needed): the top 48 bits of the random UUID
 * 50621c8b-419c-4483-b9c7-574beb27e4f5. Not the whole 128-bit integer, because asn1js (under
 * @peculiar/x509) decodes arcs of 50 bits or more wrongly and would never find the extension again.
 */
export const IRISGATE_OID_ARC = '2.25.88382315905436';
export const DEVICE_KEYS_OID = `${IRISGATE_OID_ARC}.1`;
export const DEVELOPMENT_CA_OID = `${IRISGATE_OID_ARC}.2`;

export const DEVICE_KEY_ROLES = ['attestation', 'iris-code', 'tpm-quote'] as const;
export type DeviceKeyRole = (typeof DEVICE_KEY_ROLES)[number];

export interface DeviceKeyInfo {
  role: DeviceKeyRole;
  store: KeyStore;
  algorithm: SignatureAlgorithm;
  /** Uncompressed SEC1 point. */
  publicKey: Uint8Array;
}

export interface DeviceIdentity {
  deviceId: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  keys: DeviceKeyInfo[];
  /** True when the issuing CA is a development CA or any key is a development key. */
  development: boolean;
}

export function encodeDeviceKeys(keys: DeviceKeyInfo[]): Uint8Array {
  const sequence = new asn1js.Sequence({
    value: keys.map(
      (key) =>
        new asn1js.Sequence({
          value: [
            new asn1js.Utf8String({ value: key.role }),
            new asn1js.Utf8String({ value: key.store }),
            new asn1js.Utf8String({ value: key.algorithm }),
            new asn1js.OctetString({ valueHex: key.publicKey }),
          ],
        }),
    ),
  });
  return new Uint8Array(sequence.toBER());
}

export function decodeDeviceKeys(der: Uint8Array): DeviceKeyInfo[] {
  const bad = (why: string) => new IrisgateError('invalid_certificate', `device keys extension: ${why}`);
  const parsed = asn1js.fromBER(der);
  if (
    parsed.offset === -1 ||
    parsed.offset !== der.byteLength ||
    !(parsed.result instanceof asn1js.Sequence)
  ) {
    throw bad('not a DER SEQUENCE');
  }
  const keys = parsed.result.valueBlock.value.map((item) => {
    const fields = item instanceof asn1js.Sequence ? item.valueBlock.value : [];
    const [role, store, algorithm, publicKey] = fields;
    if (
      fields.length !== 4 ||
      !(role instanceof asn1js.Utf8String) ||
      !(store instanceof asn1js.Utf8String) ||
      !(algorithm instanceof asn1js.Utf8String) ||
      !(publicKey instanceof asn1js.OctetString)
    ) {
      throw bad('each key must be SEQUENCE { UTF8String, UTF8String, UTF8String, OCTET STRING }');
    }
    const info = {
      role: role.valueBlock.value,
      store: store.valueBlock.value,
      algorithm: algorithm.valueBlock.value,
      publicKey: new Uint8Array(publicKey.valueBlock.valueHexView),
    };
    if (!(DEVICE_KEY_ROLES as readonly string[]).includes(info.role))
      throw bad(`unknown role "${info.role}"`);
    if (!isKeyStore(info.store)) throw bad(`unknown key store "${info.store}"`);
    if (!isSignatureAlgorithm(info.algorithm)) throw bad(`unknown algorithm "${info.algorithm}"`);
    assertPublicKey(info.algorithm, info.publicKey);
    return info as DeviceKeyInfo;
  });
  const roles = keys.map((k) => k.role);
  if (new Set(roles).size !== roles.length) throw bad('a role appears twice');
  return keys;
}

export function parseCertificate(pemOrDer: string | Uint8Array): x509.X509Certificate {
  try {
    return new x509.X509Certificate(typeof pemOrDer === 'string' ? pemOrDer : Buffer.from(pemOrDer));
  } catch (cause) {
    throw new IrisgateError('invalid_certificate', 'not an X.509 certificate (PEM or DER)', { cause });
  }
}

export function isDevelopmentCa(ca: x509.X509Certificate): boolean {
  return ca.getExtension(DEVELOPMENT_CA_OID) !== null;
}

/** Reads the device id and keys out of a device certificate, checking that they are consistent. */
export function readDeviceCertificate(cert: x509.X509Certificate): Omit<DeviceIdentity, 'development'> {
  const deviceId = cert.subjectName.getField('CN')[0];
  if (!deviceId) throw new IrisgateError('invalid_certificate', 'device certificate has no CN (device id)');
  const extension = cert.getExtension(DEVICE_KEYS_OID);
  if (!extension)
    throw new IrisgateError('invalid_certificate', 'device certificate has no device keys extension');
  const keys = decodeDeviceKeys(new Uint8Array(extension.value));
  const attestation = keys.find((k) => k.role === 'attestation');
  if (!attestation || !keys.some((k) => k.role === 'iris-code')) {
    throw new IrisgateError(
      'invalid_certificate',
      'device certificate must list an attestation and an iris-code key',
    );
  }
  const subjectKey = publicKeyFromSpki(new Uint8Array(cert.publicKey.rawData));
  if (
    subjectKey.algorithm !== attestation.algorithm ||
    !equalBytes(subjectKey.publicKey, attestation.publicKey)
  ) {
    throw new IrisgateError('invalid_certificate', 'subject public key is not the listed attestation key');
  }
  return {
    deviceId,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    keys,
  };
}

export interface VerifyDeviceCertificateOptions {
  /** The trusted manufacturer CA certificate. */
  ca: x509.X509Certificate;
  /** Refuse development CAs and development keys. */
  production: boolean;
  now?: Date;
}

/**
 * Verifies that a device certificate was issued by the trusted manufacturer CA and is valid now, and
 * returns the device identity. Throws untrusted_certificate, certificate_expired, invalid_certificate or
 * development_key.
 */
export async function verifyDeviceCertificate(
  cert: x509.X509Certificate,
  { ca, production, now = new Date() }: VerifyDeviceCertificateOptions,
): Promise<DeviceIdentity> {
  if (cert.issuer !== ca.subject) {
    throw new IrisgateError('untrusted_certificate', `issued by "${cert.issuer}", not by "${ca.subject}"`);
  }
  const signedByCa = await cert.verify({ publicKey: ca.publicKey, signatureOnly: true });
  if (!signedByCa)
    throw new IrisgateError(
      'untrusted_certificate',
      'certificate signature does not verify under the CA key',
    );
  for (const c of [cert, ca]) {
    if (now < c.notBefore || now > c.notAfter) {
      throw new IrisgateError(
        'certificate_expired',
        `"${c.subject}" is valid ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()}`,
      );
    }
  }
  const identity = readDeviceCertificate(cert);
  const development = isDevelopmentCa(ca) || identity.keys.some((k) => k.store === 'development');
  if (production && development) {
    throw new IrisgateError(
      'development_key',
      `device ${identity.deviceId} uses a development CA or development keys`,
    );
  }
  return { ...identity, development };
}
