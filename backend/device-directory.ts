/**
 * What the routes ask about devices: the registry plus the trusted CAs, with each device's verified
 * certificate cached. Every lookup still reads the device's row (so a revocation applies at once) and
 * checks the certificate's validity period against the clock; the chain is verified once per certificate.
 */
import { type DeviceIdentity, type DeviceKeyInfo, parseCertificate } from '../protocol/device-certificate.ts';
import { IrisgateError } from '../protocol/errors.ts';
import type { x509 } from '../protocol/x509.ts';
import {
  activeDevice,
  type DeviceRecord,
  listDevices,
  registerDevice,
  revokeDevice,
} from './device-registry.ts';
import type { Sql } from './storage/database.ts';
import { listTrustedCas, type TrustedCa, trustCa, verifyWithTrustedCas } from './trusted-cas.ts';

export interface ActiveDevice {
  device: DeviceRecord;
  identity: DeviceIdentity;
  key(role: 'attestation' | 'iris-code'): DeviceKeyInfo;
}

export class DeviceDirectory {
  #cas: x509.X509Certificate[] = [];
  /** Verified certificates by device id and serial, with the validity window of the whole chain. */
  readonly #identities = new Map<
    string,
    { identity: DeviceIdentity; validFromMs: number; validUntilMs: number }
  >();

  private constructor(
    private readonly sql: Sql,
    readonly production: boolean,
  ) {}

  static async open(sql: Sql, { production }: { production: boolean }): Promise<DeviceDirectory> {
    const directory = new DeviceDirectory(sql, production);
    directory.#cas = (await listTrustedCas(sql)).map((ca) => ca.certificate);
    return directory;
  }

  async trustCa(pemOrDer: string | Uint8Array, now = Date.now()): Promise<TrustedCa> {
    const trusted = await trustCa(this.sql, pemOrDer, now);
    this.#cas = (await listTrustedCas(this.sql)).map((ca) => ca.certificate);
    return trusted;
  }

  listTrustedCas(): Promise<TrustedCa[]> {
    return listTrustedCas(this.sql);
  }

  register(certificate: string | Uint8Array, now = Date.now()) {
    return registerDevice(this.sql, certificate, { cas: this.#cas, production: this.production, now });
  }

  list(): Promise<DeviceRecord[]> {
    return listDevices(this.sql);
  }

  revoke(deviceId: string, reason: string, now = Date.now()): Promise<DeviceRecord> {
    return revokeDevice(this.sql, deviceId, reason, now);
  }

  /**
   * The registered, unrevoked device with a certificate that is valid now, chains to a trusted CA and
   * (in production) is not a development device.
   */
  async active(deviceId: string, now = Date.now()): Promise<ActiveDevice> {
    const device = await activeDevice(this.sql, deviceId);
    const cacheKey = `${deviceId}/${device.certificateSerial}`;
    let verified = this.#identities.get(cacheKey);
    if (!verified) {
      const certificate = parseCertificate(device.certificateDer);
      const identity = await verifyWithTrustedCas(certificate, this.#cas, {
        production: this.production,
        now: new Date(now),
      });
      const ca = this.#cas.find((c) => c.subject === certificate.issuer) as x509.X509Certificate;
      verified = {
        identity,
        validFromMs: Math.max(identity.notBefore.getTime(), ca.notBefore.getTime()),
        validUntilMs: Math.min(identity.notAfter.getTime(), ca.notAfter.getTime()),
      };
      this.#identities.set(cacheKey, verified);
    }
    if (now < verified.validFromMs || now > verified.validUntilMs) {
      throw new IrisgateError(
        'certificate_expired',
        `the certificate chain of device ${deviceId} is not valid now`,
      );
    }
    const { identity } = verified;
    return {
      device,
      identity,
      key(role) {
        const key = identity.keys.find((k) => k.role === role);
        if (!key) throw new IrisgateError('invalid_certificate', `device ${deviceId} has no ${role} key`);
        return key;
      },
    };
  }
}
