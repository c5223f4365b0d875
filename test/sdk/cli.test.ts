import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseIdentityQrPayload } from '../../protocol/identity-qr-payload.ts';
import { proofCommand } from '../../sdk/cli.ts';
import { Identity, type Presentation, releaseProver, writeIdentityFile } from '../../sdk/index.ts';
import { type Run, runIrisgate } from '../support/cli.ts';
import { closedPort } from '../support/network.ts';
import { proofFixture } from '../support/proofs.ts';
import { receiptKey } from './support.ts';

const work = mkdtempSync(join(tmpdir(), 'irisgate-proof-cli-'));

const irisgate = (args: string[]) => runIrisgate(['proof', ...args], { cwd: work });

const APP = 'app_cli';
const ACTION = 'vote';
const SIGNAL = 'ballot-7';
let presentation: Presentation;
let runs: Record<string, Run>;

beforeAll(async () => {
  const { group, proofs } = await proofFixture({
    seed: 'sdk-cli',
    members: 2,
    provers: 1,
    appId: APP,
    action: ACTION,
    signal: SIGNAL,
  });
  await releaseProver();
  const key = receiptKey();
  const now = Date.now();
  presentation = {
    version: 1,
    appId: APP,
    action: ACTION,
    signal: SIGNAL,
    proof: proofs[0] as Presentation['proof'],
    rootStatement: key.signStatement({
      root: group.root,
      size: group.size,
      createdAtMs: now - 60_000,
      supersededAtMs: null,
      statedAtMs: now,
    }),
  };
  const tampered = {
    ...presentation,
    proof: { ...presentation.proof, nullifier: (BigInt(presentation.proof.nullifier) + 1n).toString() },
  };
  writeFileSync(join(work, 'valid.json'), JSON.stringify(presentation));
  await writeIdentityFile(join(work, 'wallet.json'), new Identity('sdk-cli/wallet'));
  writeFileSync(join(work, 'tampered.json'), JSON.stringify(tampered));
  const backend = `http://127.0.0.1:${await closedPort()}`;
  const verify = (file: string, ...more: string[]) => [
    'verify',
    file,
    '--app',
    APP,
    '--action',
    ACTION,
    ...more,
  ];
  const offline = ['--offline', '--backend-key', key.publicKeyHex];

  const identity = async () => {
    const created = await irisgate(['identity', 'new', '--json']);
    const shown = await irisgate(['identity', 'show']);
    const again = await irisgate(['identity', 'new']);
    return { created, shown, again };
  };
  const named = async (entries: [string, Promise<Run>][]) =>
    Object.fromEntries(await Promise.all(entries.map(async ([name, run]) => [name, await run] as const)));
  const [ids, others] = await Promise.all([
    identity(),
    named([
      ['verifyHelp', irisgate(['verify', '--help'])],
      ['noApp', irisgate(['verify', 'valid.json', '--action', ACTION])],
      ['offlineNoKey', irisgate(verify('valid.json', '--offline'))],
      ['tampered', irisgate(verify('tampered.json', ...offline, '--nullifiers', 'other'))],
      ['wrongSignal', irisgate(verify('valid.json', ...offline, '--signal', 'ballot-8'))],
      ['away', irisgate(verify('valid.json', '--backend', backend, '--nullifiers', 'away'))],
      [
        'createAway',
        irisgate(['create', '--identity', 'wallet.json', '--app', APP, '--action', ACTION, '--signal', '']),
      ],
    ]),
  ]);
  runs = { ...ids, ...others };
}, 120_000);

describe('irisgate proof', () => {
  it('prints its help', () => {
    expect(runs.verifyHelp?.code).toBe(0);
    for (const option of [
      '--app',
      '--offline',
      '--backend-key',
      '--nullifiers',
      '--max-uses',
      '--max-root-age',
    ]) {
      expect(runs.verifyHelp?.stdout).toContain(option);
    }
  });

  it('exits 2 on usage errors', () => {
    for (const name of ['noApp', 'offlineNoKey']) {
      expect(runs[name]?.code, name).toBe(2);
      expect(runs[name]?.stderr, name).toMatch(/error: /);
    }
    expect(runs.noApp?.stderr).toContain('--app');
    expect(runs.offlineNoKey?.stderr).toContain('--backend-key');
  });

  it('creates an identity file, shows it, and never overwrites it', () => {
    const { created, shown, again } = runs as Record<string, Run>;
    expect(created?.code).toBe(0);
    const file = join(work, 'irisgate-identity.json');
    const json = JSON.parse(created?.stdout ?? '');
    expect(json).toEqual({
      file,
      commitment: expect.any(String),
      qrPayload: expect.any(String),
      created: true,
    });
    expect(parseIdentityQrPayload(json.qrPayload).toString()).toBe(json.commitment);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).commitment).toBe(json.commitment);
    expect(shown?.code).toBe(0);
    expect(shown?.stdout).toContain(`commitment  ${json.commitment}`);
    expect(shown?.stdout).toContain(`qr payload  irisgate:commitment:v1:${json.commitment}`);
    expect(shown?.stdout).not.toContain(JSON.parse(readFileSync(file, 'utf8')).privateKey);
    expect(again?.code).toBe(1);
    expect(again?.stderr).toMatch(/^error \[invalid_argument\]: .*exists already/);
  });

  it('refuses a tampered presentation, another signal, and an absent backend', () => {
    const expectations: [string, string][] = [
      ['tampered', 'invalid_proof'],
      ['wrongSignal', 'invalid_proof'],
      ['away', 'backend_unreachable'],
      ['createAway', 'backend_unreachable'],
    ];
    for (const [name, code] of expectations) {
      expect(runs[name]?.code, `${name}: ${runs[name]?.stderr}`).toBe(1);
      expect(runs[name]?.stderr, name).toMatch(new RegExp(`^error \\[${code}\\]: `, 'm'));
    }
    // A refused proof never opened (or created) its nullifier database.
    expect(existsSync(join(work, 'other'))).toBe(false);
  });
});

/** The usage errors commander raises before any action runs (in-process: no process per case). */
describe('irisgate proof usage', () => {
  async function usageError(args: string[]): Promise<string> {
    const program = new Command('irisgate').addCommand(proofCommand());
    let stderr = '';
    const quiet = (command: Command): void => {
      command.exitOverride().configureOutput({ writeErr: (text) => (stderr += text), writeOut: () => {} });
      for (const child of command.commands) quiet(child);
    };
    quiet(program);
    const error = await program.parseAsync(['proof', ...args], { from: 'user' }).catch((e: unknown) => e);
    expect(error, args.join(' ')).toBeInstanceOf(CommanderError);
    return stderr;
  }
  const verify = ['verify', 'p.json', '--app', 'app_x', '--action', 'vote'];

  it('refuses bad options before doing anything', async () => {
    expect(await usageError([...verify, '--max-uses', '0'])).toContain('expected an integer >= 1');
    expect(await usageError([...verify, '--max-uses', '1.5'])).toContain('expected an integer >= 1');
    expect(await usageError([...verify, '--max-root-age', '-1'])).toContain('seconds >= 0');
    expect(
      await usageError([...verify, '--offline', '--backend-key', 'ab', '--backend', 'http://x']),
    ).toContain('cannot be used with');
    expect(await usageError([...verify, '--offline'])).toContain('--offline needs --backend-key');
    expect(await usageError(['verify', 'p.json', '--action', 'vote'])).toContain(
      "'--app <id>' not specified",
    );
    expect(await usageError(['create', '--identity', 'f', '--app', 'a', '--action', 'b'])).toContain(
      '--signal',
    );
    expect(await usageError(['identity', 'new', '--bogus'])).toContain("unknown option '--bogus'");
  });
});
