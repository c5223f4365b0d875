import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { activeDevice, listDevices, registerDevice, revokeDevice } from '../../backend/device-registry.ts';
import { createManufacturerCa, type ManufacturerCa } from '../../hsm/manufacturer-ca.ts';
import { provisionDevice } from '../../hsm/provisioning.ts';
import { DATABASE_TARGETS, migratedDatabasePerTest } from '../support/databases.ts';

const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `irisgate-${name}-`));

let devCa: ManufacturerCa;
let factoryCa: ManufacturerCa;
beforeAll(async () => {
  devCa = await createManufacturerCa(tempDir('reg-dev-ca'));
  factoryCa = await createManufacturerCa(tempDir('reg-prod-ca'), { name: 'Factory CA', development: false });
});

/** A device provisioned with development keys (no HSM needed for registry tests). */
async function device(ca: ManufacturerCa, deviceId?: string): Promise<string> {
  const { certificate } = await provisionDevice({
    dir: tempDir('reg-device'),
    token: { kind: 'development' },
    ca,
    deviceId,
  });
  return certificate.toString('pem');
}

describe.each(DATABASE_TARGETS)('device registry on %s', (target) => {
  const { fresh } = migratedDatabasePerTest(target);

  it('registers a device by certificate, idempotently, and revokes it for good', async () => {
    const db = await fresh();
    const pem = await device(devCa, 'ig-registry-1');
    const t = Date.now();
    const first = await registerDevice(db, pem, { cas: [devCa.cert], production: false, now: t });
    expect(first).toMatchObject({
      created: true,
      device: { deviceId: 'ig-registry-1', development: true, revokedAtMs: null },
    });
    expect(first.identity.keys.map((k) => k.role)).toEqual(['attestation', 'iris-code']);
    const again = await registerDevice(db, pem, { cas: [devCa.cert], production: false, now: t + 1000 });
    expect(again).toMatchObject({ created: false, device: { registeredAtMs: t } });
    expect((await activeDevice(db, 'ig-registry-1')).certificateSerial).toBe(first.device.certificateSerial);

    await revokeDevice(db, 'ig-registry-1', 'stolen', t + 2000);
    await revokeDevice(db, 'ig-registry-1', 'again', t + 3000);
    await expect(activeDevice(db, 'ig-registry-1')).rejects.toMatchObject({
      code: 'revoked_device',
      message: /stolen/,
    });
    expect((await listDevices(db)).map((d) => [d.deviceId, d.revokedAtMs, d.revokedReason])).toEqual([
      ['ig-registry-1', t + 2000, 'stolen'],
    ]);
  });

  it('refuses unknown devices, other CAs, development devices in production, and a second certificate', async () => {
    const db = await fresh();
    await expect(activeDevice(db, 'ig-none')).rejects.toMatchObject({ code: 'unknown_device' });
    await expect(revokeDevice(db, 'ig-none', 'x')).rejects.toMatchObject({ code: 'unknown_device' });
    const pem = await device(devCa, 'ig-registry-2');
    await expect(registerDevice(db, pem, { cas: [factoryCa.cert], production: false })).rejects.toMatchObject(
      {
        code: 'untrusted_certificate',
      },
    );
    await expect(registerDevice(db, pem, { cas: [devCa.cert], production: true })).rejects.toMatchObject({
      code: 'development_key',
    });
    await expect(
      registerDevice(db, 'not a certificate', { cas: [devCa.cert], production: false }),
    ).rejects.toMatchObject({
      code: 'invalid_certificate',
    });
    await registerDevice(db, pem, { cas: [devCa.cert], production: false });
    const second = await device(devCa, 'ig-registry-2');
    await expect(registerDevice(db, second, { cas: [devCa.cert], production: false })).rejects.toMatchObject({
      code: 'device_exists',
    });
    expect(await listDevices(db)).toHaveLength(1);
  });
});
