/**
 * The device registry: a device is registered by its manufacturer certificate, which must chain to the
 * trusted manufacturer CA (and, in production, be neither a development CA's nor carry development keys).
 * Its public keys come from the certificate, never from the device's word. Revocation is permanent.
 */
import { toHex } from '../protocol/bytes.ts';
import { type DeviceIdentity, parseCertificate } from '../protocol/device-certificate.ts';
import { IrisgateError } from '../protocol/errors.ts';
import type { x509 } from '../protocol/x509.ts';
import type { Sql } from './storage/database.ts';
import { verifyWithTrustedCas } from './trusted-cas.ts';

export interface DeviceRecord {
  deviceId: string;
  certificateSerial: string;
  certificateDer: Uint8Array;
  development: boolean;
  registeredAtMs: number;
  revokedAtMs: number | null;
  revokedReason: string | null;
  /** The highest signup counter accepted for a decision so far (null before the first). */
  lastCounter: number | null;
}

interface DeviceRow {
  device_id: string;
  certificate_serial: string;
  certificate_der: Uint8Array;
  development: boolean;
  registered_at_ms: string | number;
  revoked_at_ms: string | number | null;
  revoked_reason: string | null;
  last_counter: string | number | null;
}

function fromRow(row: DeviceRow): DeviceRecord {
  return {
    deviceId: row.device_id,
    certificateSerial: row.certificate_serial,
    certificateDer: row.certificate_der,
    development: row.development,
    registeredAtMs: Number(row.registered_at_ms),
    revokedAtMs: row.revoked_at_ms === null ? null : Number(row.revoked_at_ms),
    revokedReason: row.revoked_reason,
    lastCounter: row.last_counter === null ? null : Number(row.last_counter),
  };
}

/**
 * Registers a device by its certificate, which must chain to one of the trusted CAs. Registering the same certificate again returns the existing
 * record; another certificate for a registered device id is refused (device_exists).
 */
export async function registerDevice(
  sql: Sql,
  certificate: string | Uint8Array,
  {
    cas,
    production,
    now = Date.now(),
  }: { cas: readonly x509.X509Certificate[]; production: boolean; now?: number },
): Promise<{ device: DeviceRecord; identity: DeviceIdentity; created: boolean }> {
  const cert = parseCertificate(certificate);
  const identity = await verifyWithTrustedCas(cert, cas, { production, now: new Date(now) });
  const der = new Uint8Array(cert.rawData);
  const inserted = await sql.query<DeviceRow>(
    `insert into devices (device_id, certificate_serial, certificate_der, development, registered_at_ms)
     values ($1, $2, $3, $4, $5) on conflict (device_id) do nothing returning *`,
    [identity.deviceId, identity.serialNumber, der, identity.development, now],
  );
  if (inserted[0]) return { device: fromRow(inserted[0]), identity, created: true };
  const existing = await findDevice(sql, identity.deviceId);
  if (!existing || toHex(existing.certificateDer) !== toHex(der)) {
    throw new IrisgateError(
      'device_exists',
      `device ${identity.deviceId} is registered with another certificate`,
    );
  }
  return { device: existing, identity, created: false };
}

export async function findDevice(sql: Sql, deviceId: string): Promise<DeviceRecord | undefined> {
  const [row] = await sql.query<DeviceRow>('select * from devices where device_id = $1', [deviceId]);
  return row && fromRow(row);
}

export async function listDevices(sql: Sql): Promise<DeviceRecord[]> {
  return (await sql.query<DeviceRow>('select * from devices order by registered_at_ms, device_id')).map(
    fromRow,
  );
}

/** Revokes a device for good; revoking it again keeps the first time and reason. */
export async function revokeDevice(
  sql: Sql,
  deviceId: string,
  reason: string,
  now = Date.now(),
): Promise<DeviceRecord> {
  const [row] = await sql.query<DeviceRow>(
    `update devices set revoked_at_ms = coalesce(revoked_at_ms, $2), revoked_reason = coalesce(revoked_reason, $3)
     where device_id = $1 returning *`,
    [deviceId, now, reason],
  );
  if (!row) throw new IrisgateError('unknown_device', `no device ${deviceId} is registered`);
  return fromRow(row);
}

/** The registered, unrevoked device with this id, or unknown_device / revoked_device. */
export async function activeDevice(sql: Sql, deviceId: string): Promise<DeviceRecord> {
  const device = await findDevice(sql, deviceId);
  if (!device) throw new IrisgateError('unknown_device', `no device ${deviceId} is registered`);
  if (device.revokedAtMs !== null) {
    throw new IrisgateError('revoked_device', `device ${deviceId} was revoked: ${device.revokedReason}`);
  }
  return device;
}

/**
 * Records a signup counter for a device; it must be strictly greater than every earlier one
 * (replayed_counter otherwise). One conditional UPDATE, so of two concurrent signups one wins.
 */
export async function advanceCounter(sql: Sql, deviceId: string, counter: number): Promise<void> {
  const updated = await sql.query(
    `update devices set last_counter = $2
     where device_id = $1 and (last_counter is null or last_counter < $2) returning device_id`,
    [deviceId, counter],
  );
  if (updated.length === 0) {
    throw new IrisgateError(
      'replayed_counter',
      `counter ${counter} is not above the last one device ${deviceId} used`,
    );
  }
}
