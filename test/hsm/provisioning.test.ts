import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createManufacturerCa,
  issueDeviceCertificate,
  type ManufacturerCa,
} from '../../hsm/manufacturer-ca.ts';
import {
  DEVICE_CERT_FILE,
  KEY_LABELS,
  loadDeviceProfile,
  openDeviceKeys,
  PROFILE_FILE,
  provisionDevice,
} from '../../hsm/provisioning.ts';
import { certifyPkcs11Key } from '../../hsm/tpm-attestation.ts';
import {
  decodeDeviceKeys,
  encodeDeviceKeys,
  parseCertificate,
  verifyDeviceCertificate,
} from '../../protocol/device-certificate.ts';
import { sharedHsmFixture } from '../support/hsm.ts';

const fixture = sharedHsmFixture();
const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `irisgate-${name}-`));
const YEAR_MS = 365 * 86_400_000;

let devCa: ManufacturerCa;
let productionCa: ManufacturerCa;
beforeAll(async () => {
  devCa = await createManufacturerCa(tempDir('dev-ca'));
  productionCa = await createManufacturerCa(tempDir('prod-ca'), {
    name: 'Acme Orb Factory CA',
    development: false,
  });
});

describe('device provisioning on SoftHSM', () => {
  it('binds the device id and both keys in a certificate that chains to the CA', async () => {
    const dir = tempDir('device');
    const { profile, certificate } = await provisionDevice({
      dir,
      token: fixture.softhsm,
      pin: fixture.softhsm.pin,
      ca: devCa,
    });
    const identity = await verifyDeviceCertificate(certificate, { ca: devCa.cert, production: false });
    expect(identity.deviceId).toBe(profile.deviceId);
    expect(identity.development).toBe(true);
    expect(identity.keys.map(({ role, store, algorithm }) => ({ role, store, algorithm }))).toEqual([
      { role: 'attestation', store: 'softhsm', algorithm: 'ecdsa-p256-sha256' },
      { role: 'iris-code', store: 'softhsm', algorithm: 'ecdsa-secp256k1-sha256' },
    ]);
    const keys = await openDeviceKeys(dir, profile, fixture.softhsm.pin);
    try {
      expect(identity.keys[0]?.publicKey).toEqual(keys.attestation.publicKey);
      expect(identity.keys[1]?.publicKey).toEqual(keys.irisCode.publicKey);
    } finally {
      keys.close();
    }
  });

  it('reuses the keys already in the token when run again, and re-issues the certificate', async () => {
    const first = await provisionDevice({
      dir: tempDir('again'),
      token: fixture.softhsm,
      pin: '1234',
      ca: devCa,
    });
    const second = await provisionDevice({
      dir: tempDir('again'),
      token: fixture.softhsm,
      pin: '1234',
      ca: devCa,
    });
    expect(second.created).toEqual([]);
    expect(second.profile.keys).toEqual(first.profile.keys);
    expect(second.certificate.serialNumber).not.toBe(first.certificate.serialNumber);
  });

  it('is accepted in production under a production CA', async () => {
    const { certificate } = await provisionDevice({
      dir: tempDir('prod'),
      token: fixture.softhsm,
      pin: '1234',
      ca: productionCa,
    });
    const identity = await verifyDeviceCertificate(certificate, { ca: productionCa.cert, production: true });
    expect(identity.development).toBe(false);
  });

  it('refuses a profile whose keys are not the ones in the token', async () => {
    const dir = tempDir('tampered');
    await provisionDevice({ dir, token: fixture.softhsm, pin: '1234', ca: devCa });
    const profile = JSON.parse(readFileSync(join(dir, PROFILE_FILE), 'utf8'));
    profile.keys.irisCode.publicKey = profile.keys.attestation.publicKey;
    await expect(openDeviceKeys(dir, profile, '1234')).rejects.toMatchObject({ code: 'key_not_found' });
  });
});

describe('device provisioning on the software TPM', () => {
  it('uses P-256 for both keys and records the TPM as their store', async () => {
    const dir = tempDir('tpm-device');
    const { certificate } = await provisionDevice({
      dir,
      token: fixture.tpm,
      pin: fixture.tpm.pin,
      ca: devCa,
    });
    const identity = await verifyDeviceCertificate(certificate, { ca: devCa.cert, production: false });
    expect(identity.keys.map(({ role, store, algorithm }) => ({ role, store, algorithm }))).toEqual([
      { role: 'attestation', store: 'tpm', algorithm: 'ecdsa-p256-sha256' },
      { role: 'iris-code', store: 'tpm', algorithm: 'ecdsa-p256-sha256' },
      { role: 'tpm-quote', store: 'tpm', algorithm: 'ecdsa-p256-sha256' },
    ]);
    const loaded = await loadDeviceProfile(dir);
    (await openDeviceKeys(dir, loaded.profile, fixture.tpm.pin)).close();
  });

  it("lists the TPM's attestation key (AK) in the certificate, matching the profile", async () => {
    const dir = tempDir('tpm-ak');
    const { certificate, profile } = await provisionDevice({
      dir,
      token: fixture.tpm,
      pin: '1234',
      ca: devCa,
    });
    const identity = await verifyDeviceCertificate(certificate, { ca: devCa.cert, production: false });
    const ak = identity.keys.find((k) => k.role === 'tpm-quote');
    expect(ak?.store).toBe('tpm');
    expect(ak && Buffer.from(ak.publicKey).toString('hex')).toBe(profile.tpmQuoteKey?.publicKey);
  });

  it('refuses to certify keys as TPM-held without valid residency evidence', async () => {
    const keys = (
      await verifyDeviceCertificate(
        (
          await provisionDevice({ dir: tempDir('tpm-ev'), token: fixture.tpm, pin: '1234', ca: devCa })
        ).certificate,
        { ca: devCa.cert, production: false },
      )
    ).keys;
    const request = { deviceId: 'ig-test', keys };
    await expect(issueDeviceCertificate(devCa, request)).rejects.toMatchObject({ code: 'key_not_in_tpm' });

    const attestation = keys.find((k) => k.role === 'attestation');
    const nonce = new Uint8Array(32).fill(7);
    const evidence = await certifyPkcs11Key({
      tokenLabel: fixture.tpm.tokenLabel,
      keyLabel: KEY_LABELS.attestation,
      userPin: '1234',
      nonce,
    });
    // The attestation key's evidence presented for the iris-code key too.
    const swapped = { nonce, certifications: { attestation: evidence, 'iris-code': evidence } };
    await expect(issueDeviceCertificate(devCa, { ...request, tpmResidency: swapped })).rejects.toMatchObject({
      code: 'key_not_in_tpm',
    });
    // Evidence over another nonce than the one the CA chose.
    const stale = {
      nonce: new Uint8Array(32).fill(8),
      certifications: { attestation: evidence, 'iris-code': evidence },
    };
    await expect(issueDeviceCertificate(devCa, { ...request, tpmResidency: stale })).rejects.toMatchObject({
      code: 'nonce_mismatch',
    });
    expect(attestation?.store).toBe('tpm');
  });
});

describe('device certificate verification', () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('verify');
    await provisionDevice({ dir, token: fixture.softhsm, pin: '1234', ca: devCa });
  });
  const certificate = () => parseCertificate(readFileSync(join(dir, DEVICE_CERT_FILE), 'utf8'));

  it('refuses a certificate from another CA, even one with the same name', async () => {
    await expect(
      verifyDeviceCertificate(certificate(), { ca: productionCa.cert, production: false }),
    ).rejects.toMatchObject({ code: 'untrusted_certificate' });
    const impostor = await createManufacturerCa(tempDir('impostor-ca'));
    expect(impostor.cert.subject).toBe(devCa.cert.subject);
    await expect(
      verifyDeviceCertificate(certificate(), { ca: impostor.cert, production: false }),
    ).rejects.toMatchObject({
      code: 'untrusted_certificate',
    });
  });

  it('refuses a certificate whose signed bytes were altered', async () => {
    const der = new Uint8Array(certificate().rawData);
    const id = new TextEncoder().encode(certificate().subjectName.getField('CN')[0]);
    const at = Buffer.from(der).indexOf(Buffer.from(id));
    der[at] = (der[at] ?? 0) ^ 0x01;
    await expect(
      verifyDeviceCertificate(parseCertificate(der), { ca: devCa.cert, production: false }),
    ).rejects.toMatchObject({ code: 'untrusted_certificate' });
  });

  it('refuses certificates outside their validity period', async () => {
    for (const now of [new Date(Date.now() - YEAR_MS), new Date(Date.now() + 11 * YEAR_MS)]) {
      await expect(
        verifyDeviceCertificate(certificate(), { ca: devCa.cert, production: false, now }),
      ).rejects.toMatchObject({ code: 'certificate_expired' });
    }
  });

  it('refuses a development CA in production', async () => {
    await expect(
      verifyDeviceCertificate(certificate(), { ca: devCa.cert, production: true }),
    ).rejects.toMatchObject({
      code: 'development_key',
    });
  });

  it('refuses development keys in production, even under a production CA', async () => {
    const devDir = tempDir('dev-signer');
    const { certificate: devCert } = await provisionDevice({
      dir: devDir,
      token: { kind: 'development' },
      ca: productionCa,
    });
    const identity = await verifyDeviceCertificate(devCert, { ca: productionCa.cert, production: false });
    expect(identity.keys.every((k) => k.store === 'development')).toBe(true);
    await expect(
      verifyDeviceCertificate(devCert, { ca: productionCa.cert, production: true }),
    ).rejects.toMatchObject({
      code: 'development_key',
    });
  });

  it('refuses malformed device-key extensions', () => {
    const key = { role: 'attestation', store: 'softhsm', algorithm: 'ecdsa-p256-sha256' } as const;
    const point =
      readFileSync(join(dir, PROFILE_FILE), 'utf8').match(/"publicKey": "(04[0-9a-f]{128})"/)?.[1] ?? '';
    const publicKey = Uint8Array.from(Buffer.from(point, 'hex'));
    expect(decodeDeviceKeys(encodeDeviceKeys([{ ...key, publicKey }]))).toEqual([{ ...key, publicKey }]);
    const cases = [
      Uint8Array.of(0x04, 0x00),
      encodeDeviceKeys([
        { ...key, publicKey },
        { ...key, publicKey },
      ]),
      encodeDeviceKeys([{ ...key, store: 'cloud' as never, publicKey }]),
      encodeDeviceKeys([{ ...key, publicKey: publicKey.subarray(0, 33) }]),
    ];
    for (const bad of cases) {
      expect(() => decodeDeviceKeys(bad)).toThrow(
        expect.objectContaining({
          code: expect.stringMatching(/^(invalid_certificate|malformed_public_key)$/),
        }),
      );
    }
  });

  it('writes the profile without any secret', () => {
    const text = readFileSync(join(dir, PROFILE_FILE), 'utf8');
    expect(text).not.toMatch(/"pin"|PRIVATE KEY/i);
    expect(text).not.toContain(`"${fixture.softhsm.pin}"`);
  });
});
