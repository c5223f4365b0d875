/**
 * The manufacturer CAs this backend trusts (`irisgate backend ca trust`). A device certificate is checked
 * against the trusted CA whose subject is its issuer; a development CA is refused in production.
 */
import { createHash } from 'node:crypto';
import {
  type DeviceIdentity,
  parseCertificate,
  verifyDeviceCertificate,
} from '../protocol/device-certificate.ts';
import { IrisgateError } from '../protocol/errors.ts';
import type { x509 } from '../protocol/x509.ts';
import type { Sql } from './storage/database.ts';

export interface TrustedCa {
  fingerprint: string;
  subject: string;
  certificate: x509.X509Certificate;
  addedAtMs: number;
}

function fingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Trusts a CA certificate (idempotent); it must be a CA (basic constraints) and currently valid. */
export async function trustCa(sql: Sql, pemOrDer: string | Uint8Array, now = Date.now()): Promise<TrustedCa> {
  const certificate = parseCertificate(pemOrDer);
  const constraints = certificate.getExtension('2.5.29.19') as x509.BasicConstraintsExtension | null;
  if (!constraints?.ca)
    throw new IrisgateError('invalid_certificate', 'the certificate is not a CA certificate');
  if (now < certificate.notBefore.getTime() || now > certificate.notAfter.getTime()) {
    throw new IrisgateError('certificate_expired', `"${certificate.subject}" is not valid now`);
  }
  const der = new Uint8Array(certificate.rawData);
  const print = fingerprint(der);
  await sql.query(
    `insert into trusted_cas (fingerprint, subject, certificate_der, added_at_ms) values ($1, $2, $3, $4)
     on conflict (fingerprint) do nothing`,
    [print, certificate.subject, der, now],
  );
  const [row] = await sql.query<{ added_at_ms: string | number }>(
    'select added_at_ms from trusted_cas where fingerprint = $1',
    [print],
  );
  return {
    fingerprint: print,
    subject: certificate.subject,
    certificate,
    addedAtMs: Number(row?.added_at_ms),
  };
}

export async function listTrustedCas(sql: Sql): Promise<TrustedCa[]> {
  const rows = await sql.query<{
    fingerprint: string;
    subject: string;
    certificate_der: Uint8Array;
    added_at_ms: string | number;
  }>('select * from trusted_cas order by added_at_ms, fingerprint');
  return rows.map((row) => ({
    fingerprint: row.fingerprint,
    subject: row.subject,
    certificate: parseCertificate(row.certificate_der),
    addedAtMs: Number(row.added_at_ms),
  }));
}

/** Verifies a device certificate against the trusted CA that issued it (untrusted_certificate if none). */
export function verifyWithTrustedCas(
  cert: x509.X509Certificate,
  cas: readonly x509.X509Certificate[],
  options: { production: boolean; now?: Date },
): Promise<DeviceIdentity> {
  const ca = cas.find((candidate) => candidate.subject === cert.issuer);
  if (!ca) {
    throw new IrisgateError('untrusted_certificate', `no trusted manufacturer CA is "${cert.issuer}"`);
  }
  return verifyDeviceCertificate(cert, { ca, ...options });
}
