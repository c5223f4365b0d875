/**
 * `irisgate backend` as an operator runs it: `serve` on a data folder (PGlite), then the admin commands
 * against it over HTTP, a graceful stop on SIGTERM, and a restart that keeps the registry.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN_FILE } from '../../backend/backend-secrets.ts';
import { backendCommand } from '../../backend/cli.ts';
import { createManufacturerCa } from '../../hsm/manufacturer-ca.ts';
import { provisionDevice } from '../../hsm/provisioning.ts';
import { IRISGATE_BIN, runIrisgate } from '../support/cli.ts';
import { closedPort } from '../support/network.ts';

const work = mkdtempSync(join(tmpdir(), 'irisgate-backend-cli-'));
/** Where the admin commands look for the token by default, relative to their working folder. */
const dataDir = join(work, 'irisgate-data');
const caPem = join(work, 'ca.pem');
const devicePem = (n: number) => join(work, `device-${n}.pem`);

/** The environment of every command: none of the variables the backend commands read. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = { ...process.env };
  for (const name of ['IRISGATE_ADMIN_TOKEN', 'IRISGATE_BACKEND_URL', 'DATABASE_URL']) delete clean[name];
  return { ...clean, ...extra };
}

const irisgate = (args: string[], extraEnv: Record<string, string> = {}) =>
  runIrisgate(args, { cwd: work, env: env(extraEnv) });

async function json(args: string[], extraEnv: Record<string, string> = {}): Promise<unknown> {
  const result = await irisgate([...args, '--json'], extraEnv);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

/** Devices in id order (the backend lists them in registration order). */
function byId(devices: unknown): { deviceId: string }[] {
  return [...(devices as { deviceId: string }[])].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

interface Server {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();
/** A server start and a few CLI runs (each a fresh node with tsx) take long on a busy machine. */
const SLOW = { timeout: 60_000 };

/** `irisgate backend serve` on the test's data folder; resolves once it prints the URL it listens on. */
function serve(): Promise<Server> {
  const child = spawn(
    'node',
    [IRISGATE_BIN, 'backend', 'serve', '--data-dir', dataDir, '--port', '0', '--dev', '--log-level', 'warn'],
    { cwd: work, env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
      const url = /listening on (http:\/\/[^\s)]+).*\n/.exec(stderr)?.[1];
      if (url) resolve({ child, url, stdout: () => stdout, stderr: () => stderr, exited });
    });
    exited.then((code) => reject(new Error(`backend serve exited (${code}) before listening:\n${stderr}`)));
  });
}

let starting: Promise<Server>;
beforeAll(async () => {
  // The first start creates the database; the CLI checks below run meanwhile.
  starting = serve();
  starting.catch(() => {});
  const ca = await createManufacturerCa(join(work, 'ca'));
  writeFileSync(caPem, ca.cert.toString('pem'));
  for (const n of [1, 2]) {
    const { certificate } = await provisionDevice({
      dir: join(work, `device-${n}`),
      token: { kind: 'development' },
      ca,
      deviceId: `ig-cli-${n}`,
    });
    writeFileSync(devicePem(n), certificate.toString('pem'));
  }
});

afterAll(async () => {
  for (const child of running) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
});

describe('irisgate backend', () => {
  it('has help on every command, and refuses bad usage before talking to any backend', async () => {
    const all = (command: Command): Command[] => [command, ...command.commands.flatMap(all)];
    const commands = all(backendCommand());
    expect(commands.map((c) => c.name())).toEqual(
      expect.arrayContaining(['backend', 'serve', 'devices', 'add', 'list', 'revoke', 'ca', 'trust']),
    );
    for (const command of commands) {
      expect(command.description()).not.toBe('');
      expect(command.helpInformation()).toMatch(/^Usage: /);
    }
    const [top, revokeHelp, noReason, badPort, unreachable] = await Promise.all([
      irisgate(['--help']),
      irisgate(['backend', 'devices', 'revoke', '--help']),
      irisgate(['backend', 'devices', 'revoke', 'ig-cli-1']),
      irisgate(['backend', 'serve', '--port', 'eighty']),
      closedPort().then((port) =>
        irisgate(['backend', 'devices', 'list', '--url', `http://127.0.0.1:${port}`], {
          IRISGATE_ADMIN_TOKEN: 'some-admin-token-0123456789',
        }).then((result) => ({ ...result, port })),
      ),
    ]);
    expect(top.stdout).toMatch(/backend/);
    expect(revokeHelp.code).toBe(0);
    expect(revokeHelp.stdout).toMatch(/^Usage: irisgate backend devices revoke \[options\] <deviceId>/);
    expect(revokeHelp.stdout).toMatch(/--reason <text>/);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/required option '--reason <text>' not specified/);
    expect(badPort.code).toBe(1);
    expect(badPort.stderr).toMatch(/^error \[invalid_argument\]: --port must be an integer/);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      new RegExp(
        `^error \\[backend_unreachable\\]: no backend answered at http://127\\.0\\.0\\.1:${unreachable.port}`,
      ),
    );
  });

  it('serves, trusts a CA and registers, lists and revokes devices', SLOW, async () => {
    const server = await starting;
    expect(server.stderr()).toContain(
      `(development, pglite at ${dataDir}/db, 0 members, 0 enrolled eyes; admin token in ${dataDir}/admin-token)`,
    );
    expect(server.stderr()).toMatch(/warning: development mode/);
    const url = ['--url', server.url];

    const trust = await irisgate(['backend', 'ca', 'trust', caPem, ...url]);
    expect(trust.code).toBe(0);
    expect(trust.stdout).toMatch(
      /^trusted CA "CN=Irisgate Development Manufacturer CA, O=Irisgate" \(sha256 [0-9a-f]{64}\)/,
    );

    const [added, second] = await Promise.all([
      json(['backend', 'devices', 'add', devicePem(1), ...url]),
      irisgate(['backend', 'devices', 'add', devicePem(2)], { IRISGATE_BACKEND_URL: server.url }),
    ]);
    expect(added).toMatchObject({ deviceId: 'ig-cli-1', development: true, revokedAtMs: null });
    expect(second.stdout).toMatch(/^registered device ig-cli-2 \(serial [0-9a-f]+, development keys\)/);
    const [again, listed] = await Promise.all([
      irisgate(['backend', 'devices', 'add', devicePem(1), ...url]),
      json(['backend', 'devices', 'list', ...url]),
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^device ig-cli-1 was already registered on \d{4}-/);
    expect(byId(listed)).toMatchObject([
      { deviceId: 'ig-cli-1', revokedAtMs: null },
      { deviceId: 'ig-cli-2', revokedAtMs: null },
    ]);

    const revoked = await irisgate(['backend', 'devices', 'revoke', 'ig-cli-1', '--reason', 'lost', ...url]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked device ig-cli-1 on \d{4}-.*: lost$/m);
    const [list, table] = await Promise.all([
      json(['backend', 'devices', 'list', ...url]),
      irisgate(['backend', 'devices', 'list', ...url]),
    ]);
    expect(byId(list)).toMatchObject([
      { deviceId: 'ig-cli-1', revokedAtMs: expect.any(Number), revokedReason: 'lost' },
      { deviceId: 'ig-cli-2', revokedAtMs: null },
    ]);
    expect(table.stdout).toMatch(/^DEVICE\s+SERIAL\s+KEYS\s+REGISTERED\s+STATUS$/m);
    expect(table.stdout).toMatch(/^ig-cli-1 .* revoked \d{4}-.*: lost$/m);
    expect(table.stdout).toMatch(/^ig-cli-2 .* active$/m);
    // Logs are pino JSON on stdout, at the level asked for.
    const logs = server
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'device revoked', deviceId: 'ig-cli-1' }));
    expect(logs.every((entry) => entry.level >= 40)).toBe(true);
  });

  it("passes on the backend's errors with their codes", async () => {
    const server = await starting;
    const url = ['--url', server.url];
    const wrongToken = join(work, 'wrong-token');
    writeFileSync(wrongToken, 'not-the-admin-token-0123456789\n');
    const token = readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim();
    const [unauthorized, envWins, unknown, noFile] = await Promise.all([
      irisgate(['backend', 'devices', 'list', ...url, '--admin-token-file', wrongToken]),
      irisgate(['backend', 'ca', 'list', ...url, '--admin-token-file', wrongToken, '--json'], {
        IRISGATE_ADMIN_TOKEN: token,
      }),
      irisgate(['backend', 'devices', 'revoke', 'ig-nobody', '--reason', 'x', ...url]),
      irisgate(['backend', 'devices', 'add', join(work, 'nothing.pem'), ...url]),
    ]);
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toMatch(/^error \[unauthorized\]: /);
    expect(envWins.code).toBe(0);
    expect(JSON.parse(envWins.stdout)).toMatchObject([{ subject: expect.stringMatching(/Development/) }]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error \[unknown_device\]: /);
    expect(noFile.stderr).toMatch(/^error \[invalid_argument\]: cannot read .*nothing\.pem/);
  });

  it('stops gracefully on SIGTERM and keeps the registry across a restart', SLOW, async () => {
    const server = await starting;
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toMatch(/SIGTERM, closing\nirisgate backend stopped\n$/);

    const restarted = await serve();
    const url = ['--url', restarted.url];
    const [devices, cas] = await Promise.all([
      json(['backend', 'devices', 'list', ...url]),
      json(['backend', 'ca', 'list', ...url]),
    ]);
    expect(byId(devices)).toMatchObject([
      { deviceId: 'ig-cli-1', revokedReason: 'lost' },
      { deviceId: 'ig-cli-2', revokedAtMs: null },
    ]);
    expect(cas).toHaveLength(1);
    restarted.child.kill('SIGINT');
    expect(await restarted.exited).toBe(0);
  });
});
