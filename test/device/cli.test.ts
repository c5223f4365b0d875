import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OUTBOX_DIR } from '../../device/agent.ts';
import { nextCounter } from '../../device/device-counter.ts';
import { Outbox } from '../../device/outbox.ts';
import { createManufacturerCa } from '../../hsm/manufacturer-ca.ts';
import { provisionDevice } from '../../hsm/provisioning.ts';
import { parseIdentityFile } from '../../protocol/identity-file.ts';
import { inject } from '../support/backend.ts';
import { type Run, runIrisgate } from '../support/cli.ts';
import { startDeviceRig } from '../support/device.ts';
import { closedPort } from '../support/network.ts';

const work = mkdtempSync(join(tmpdir(), 'irisgate-device-cli-'));

function irisgate(args: string[]): Promise<Run> {
  const env = { ...process.env };
  delete env.IRISGATE_HSM_PIN;
  return runIrisgate(args, { cwd: work, env });
}

const PENDING_ID = 'ab'.repeat(32);
let deviceId: string;
let notAfter: string;
let backendUrl: string;
let pendingSinceMs: number;
let runs: Record<
  | 'help'
  | 'status'
  | 'statusWords'
  | 'noProfile'
  | 'noProfileJson'
  | 'enrollEmpty'
  | 'enrollNoDir'
  | 'unknown',
  Run
>;

beforeAll(async () => {
  const ca = await createManufacturerCa(join(work, 'ca'));
  const deviceDir = join(work, 'device');
  const { profile, certificate } = await provisionDevice({
    dir: deviceDir,
    token: { kind: 'development' },
    ca,
  });
  deviceId = profile.deviceId;
  notAfter = certificate.notAfter.toISOString();
  const stateDir = join(work, 'state');
  mkdirSync(stateDir);
  const outbox = await Outbox.open(join(stateDir, OUTBOX_DIR));
  await outbox.put(PENDING_ID, { envelope: { note: 'a signup waiting for the backend' }, signature: '00' });
  pendingSinceMs = (await outbox.list('pending'))[0]?.createdAtMs as number;
  await nextCounter(stateDir, 1_700_000_000_123);
  backendUrl = `http://127.0.0.1:${await closedPort()}`;
  // Relative paths: resolved against the configuration file's folder, not the working folder.
  const config = join(work, 'conf', 'irisgate-device.json');
  mkdirSync(join(work, 'conf'));
  writeFileSync(config, JSON.stringify({ backendUrl, deviceDir: '../device', stateDir: '../state' }));
  const noProfileConfig = join(work, 'conf', 'no-profile.json');
  writeFileSync(noProfileConfig, JSON.stringify({ backendUrl, deviceDir: '../empty', stateDir: '../state' }));
  const empty = join(work, 'empty');
  mkdirSync(empty);
  const [help, status, statusWords, noProfile, noProfileJson, enrollEmpty, enrollNoDir, unknown] =
    await Promise.all([
      irisgate(['device', '--help']),
      irisgate(['device', 'status', '--config', config, '--json']),
      irisgate(['device', 'status', '--config', config]),
      irisgate(['device', 'status', '--config', noProfileConfig]),
      irisgate(['device', 'status', '--config', noProfileConfig, '--json']),
      irisgate(['device', 'enroll', '--dir', empty, '--config', config]),
      irisgate(['device', 'enroll', '--config', config]),
      irisgate(['device', 'status', '--config', config, '--verbose']),
    ]);
  runs = { help, status, statusWords, noProfile, noProfileJson, enrollEmpty, enrollNoDir, unknown };
}, 90_000);

describe('irisgate device', () => {
  it('lists run, enroll and status in its help', () => {
    const { help } = runs;
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: irisgate device \[options\] \[command\]/);
    for (const command of ['run', 'enroll', 'status'])
      expect(help.stdout).toMatch(new RegExp(`\\n  ${command} `));
  });

  it('status --json: the device, a pending signup and a backend that does not answer', () => {
    const { status } = runs;
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report).toEqual({
      deviceId,
      keyStore: 'development',
      certificateValidUntil: notAfter,
      backend: { url: backendUrl, ready: false },
      camera: 'synthetic',
      counter: 1_700_000_000_123,
      outbox: {
        pending: 1,
        delivered: 0,
        rejected: 0,
        corrupt: 0,
        oldestPendingAtMs: pendingSinceMs,
        recentRejections: [],
      },
    });
  });

  it('status in words says the backend is not reachable and how much is pending', () => {
    const { statusWords } = runs;
    expect(statusWords.code).toBe(0);
    expect(statusWords.stdout).toContain(`device       ${deviceId} (keys: development;`);
    expect(statusWords.stdout).toContain(`backend      ${backendUrl} NOT REACHABLE or not ready`);
    expect(statusWords.stdout).toContain('outbox       1 pending, 0 delivered, 0 refused');
    expect(statusWords.stdout).toMatch(/oldest {7}pending since \d{4}-\d\d-\d\dT.* \(0 attempts\)/);
  });

  it('status on a folder without a device profile exits 1 with invalid_argument (JSON under --json)', () => {
    const { noProfile, noProfileJson } = runs;
    expect(noProfile.code).toBe(1);
    expect(noProfile.stdout).toBe('');
    expect(noProfile.stderr).toMatch(
      /^error \[invalid_argument\]: no device profile in .*empty \(run irisgate hsm init\)/,
    );
    expect(noProfileJson.code).toBe(1);
    expect(JSON.parse(noProfileJson.stdout)).toMatchObject({ error: { code: 'invalid_argument' } });
  });

  it('enroll on a folder without a synthetic set exits 1 with invalid_argument before opening the agent', () => {
    const { enrollEmpty } = runs;
    expect(enrollEmpty.code).toBe(1);
    expect(enrollEmpty.stdout).toBe('');
    expect(enrollEmpty.stderr).toMatch(/^error \[invalid_argument\]: .*empty holds no synthetic set/);
  });

  it('exits 2 on bad usage: a missing required option, an unknown option', () => {
    const { enrollNoDir, unknown } = runs;
    expect(enrollNoDir.code).toBe(2);
    expect(enrollNoDir.stderr).toMatch(/required option '--dir <dir>' not specified/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--verbose'/);
    expect(unknown.stdout).toBe('');
  });
});

describe('irisgate device enroll', () => {
  it('enrols the people of a synthetic set through the agent into a backend', async () => {
    const rig = await startDeviceRig();
    try {
      // The command is the device's one writer of the state folder.
      await rig.agent.close();
      const set = join(work, 'set');
      // Seed 9's one person passes the device's own checks on this machine's renders.
      expect((await irisgate(['iris', 'synth', '--out', set, '--identities', '1', '--seed', '9'])).code).toBe(
        0,
      );
      const config = join(work, 'enroll.json');
      writeFileSync(
        config,
        JSON.stringify({ backendUrl: rig.url, deviceDir: rig.deviceDir, stateDir: rig.stateDir }),
      );
      const run = await irisgate(['device', 'enroll', '--dir', set, '--config', config, '--json']);
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines.at(-1)).toEqual({ people: 1, enrolled: 1, duplicates: 0, refused: 0, failed: 0 });
      expect(lines[0]).toMatchObject({ name: 'id0000', outcome: 'enrolled' });
      // The wallet is kept with the set, and the backend's group holds its commitment.
      // It is an identity file `irisgate proof create --identity` reads.
      const wallet = JSON.parse(readFileSync(join(set, 'wallets', 'id0000.json'), 'utf8'));
      expect(parseIdentityFile(wallet).commitment.toString()).toBe(lines[0].commitment);
      const proof = await inject(rig.h.backend, 'GET', `/v1/group/members/${wallet.commitment}/proof`);
      expect(proof.statusCode).toBe(200);
    } finally {
      await rig.close();
    }
  }, 180_000);
});
