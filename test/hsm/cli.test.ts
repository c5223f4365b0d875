/**
 * The `irisgate hsm` commands as an operator runs them, against a fixture of their own: brought up twice in
 * a row, then restarted, with the device keys still usable each time.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCertificate, readDeviceCertificate } from '../../protocol/device-certificate.ts';
import { verifyQuote } from '../../protocol/tpm-attestation.ts';
import { IRISGATE_BIN, type Run, runIrisgate } from '../support/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'irisgate-cli-'));
const fixtureDir = join(work, 'fixture');

function irisgate(...args: string[]): Promise<Run> {
  return runIrisgate(args, { cwd: work });
}

async function json(...args: string[]): Promise<Record<string, unknown>> {
  const result = await irisgate(...args, '--json');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

afterAll(() => irisgate('hsm', 'fixture', 'down', fixtureDir));

describe('irisgate hsm', () => {
  it('prints help for the program and each command', async () => {
    const top = await irisgate('--help');
    expect(top.stdout).toMatch(/Usage: irisgate/);
    expect(top.stdout).toMatch(/hsm/);
    for (const command of [
      ['hsm'],
      ['hsm', 'ca', 'init'],
      ['hsm', 'init'],
      ['hsm', 'show'],
      ['hsm', 'fixture'],
    ]) {
      const help = await irisgate(...command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`Usage: irisgate ${command.join(' ')}`));
    }
  });

  it('brings the fixture up twice in a row', async () => {
    expect((await irisgate('hsm', 'fixture', 'up', fixtureDir)).code).toBe(0);
    const again = await irisgate('hsm', 'fixture', 'up', fixtureDir);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already initialised/);
    expect(again.stderr).toMatch(/software TPM already running/);
  });

  it('creates a development CA once, and refuses to overwrite it', async () => {
    const created = await json('hsm', 'ca', 'init', '--dir', 'ca');
    expect(created.subject).toBe('CN=Irisgate Development Manufacturer CA, O=Irisgate');
    const again = await irisgate('hsm', 'ca', 'init', '--dir', 'ca', '--json');
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ error: { code: 'key_exists' } });
  });

  const quoteKey = { role: 'tpm-quote', store: 'tpm', algorithm: 'ecdsa-p256-sha256' };
  it.each([
    ['softhsm', 'ecdsa-secp256k1-sha256', []],
    ['tpm', 'ecdsa-p256-sha256', [quoteKey]],
  ])('provisions and shows a device on the %s token', async (token, irisAlgorithm, tpmKeys) => {
    const dir = `device-${token}`;
    const init = await json(
      'hsm',
      'init',
      '--dir',
      dir,
      '--ca',
      'ca',
      '--fixture',
      fixtureDir,
      '--token',
      token,
    );
    expect(init.created).toEqual(['attestation', 'irisCode']);
    const show = await json('hsm', 'show', '--dir', dir, '--check-keys', '--fixture', fixtureDir);
    expect(show).toMatchObject({
      deviceId: init.deviceId,
      token: { kind: token },
      keysChecked: true,
      certificate: { subject: `CN=${init.deviceId}, O=Irisgate device` },
      keys: [
        { role: 'attestation', store: token, algorithm: 'ecdsa-p256-sha256' },
        { role: 'iris-code', store: token, algorithm: irisAlgorithm },
        ...tpmKeys,
      ],
    });
    expect(String((show.certificate as { pem: string }).pem)).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const text = await irisgate('hsm', 'show', '--dir', dir);
    expect(text.stdout).toContain(`device id:   ${init.deviceId}`);
  });

  it('quotes PCR 16 after measuring files, and the quote verifies under the AK in the certificate', async () => {
    const nonce = randomBytes(20);
    const files = [IRISGATE_BIN, fileURLToPath(import.meta.url)];
    const evidence = await json(
      ...['hsm', 'quote', '--dir', 'device-tpm', '--fixture', fixtureDir, '--nonce', nonce.toString('hex')],
      ...['--measure', ...files],
    );
    const fileDigests = files.map((file) => createHash('sha256').update(readFileSync(file)).digest());
    expect(evidence.measurement).toBe(createHash('sha256').update(Buffer.concat(fileDigests)).digest('hex'));

    const certificate = parseCertificate(readFileSync(join(work, 'device-tpm', 'device.cert.pem'), 'utf8'));
    const ak = readDeviceCertificate(certificate).keys.find((k) => k.role === 'tpm-quote');
    const pcr16 = Buffer.from((evidence.pcrs as Record<string, string>)['16'] ?? '', 'hex');
    const quote = {
      attest: Buffer.from(String(evidence.attest), 'base64'),
      signature: Buffer.from(String(evidence.signature), 'hex'),
      akPublicKey: ak?.publicKey ?? new Uint8Array(),
      expectedPcrs: { bank: 'sha256' as const, values: new Map([[16, pcr16]]) },
    };
    await expect(verifyQuote({ ...quote, nonce })).resolves.toMatchObject({ type: 'quote' });
    await expect(verifyQuote({ ...quote, nonce: randomBytes(20) })).rejects.toMatchObject({
      code: 'nonce_mismatch',
    });

    const softhsmDevice = await irisgate(
      'hsm',
      'quote',
      '--dir',
      'device-softhsm',
      '--nonce',
      '00',
      '--json',
    );
    expect(JSON.parse(softhsmDevice.stdout)).toMatchObject({ error: { code: 'invalid_argument' } });
    const missingFile = await irisgate(
      'hsm',
      'quote',
      '--dir',
      'device-tpm',
      '--nonce',
      '00',
      '--measure',
      'nope',
    );
    expect(missingFile.stderr).toMatch(/^error \[invalid_argument\]: cannot measure nope/);
  });

  it('keeps the TPM token and its keys across a fixture restart', async () => {
    expect((await irisgate('hsm', 'fixture', 'down', fixtureDir)).code).toBe(0);
    const restarted = await irisgate('hsm', 'fixture', 'up', fixtureDir);
    expect(restarted.stderr).toMatch(/software TPM up on/);
    expect(restarted.stderr).toMatch(/token irisgate-tpm already present/);
    const show = await json('hsm', 'show', '--dir', 'device-tpm', '--check-keys', '--fixture', fixtureDir);
    expect(show.keysChecked).toBe(true);
    const init = await json(
      'hsm',
      'init',
      '--dir',
      'device-tpm',
      '--ca',
      'ca',
      '--fixture',
      fixtureDir,
      '--token',
      'tpm',
    );
    expect(init.created).toEqual([]);
  });

  it('reports bad input with a stable code and exit status', async () => {
    const missing = await irisgate('hsm', 'show', '--dir', 'nowhere');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error \[invalid_argument\]: no device profile/);
    const noLabel = await irisgate(
      'hsm',
      'init',
      '--token',
      'pkcs11',
      '--module',
      '/nonexistent.so',
      '--json',
    );
    expect(JSON.parse(noLabel.stdout)).toMatchObject({ error: { code: 'invalid_argument' } });
    const badPin = await irisgate(
      'hsm',
      'init',
      '--dir',
      'x',
      '--ca',
      'ca',
      '--fixture',
      fixtureDir,
      '--pin',
      '9999',
      '--json',
    );
    expect(JSON.parse(badPin.stdout)).toMatchObject({ error: { code: 'hsm_login_failed' } });
    const badChoice = await irisgate('hsm', 'init', '--token', 'cloud');
    expect(badChoice.code).toBe(2);
    expect(badChoice.stderr).toMatch(/Allowed choices are softhsm, tpm, pkcs11, development/);
  });
});
