/**
 * Signatures per second of every Irisgate signer: SoftHSM (P-256, secp256k1), a software TPM through
 * tpm2-pkcs11 (swtpm, P-256) and the development file signer (P-256, secp256k1), each over a 32-byte
 * and a 1 MiB message, against the development P-256 signer as baseline. Brings up its own HSM fixture
 * in a fresh temporary folder and stops and removes it afterwards.
 *
 *   npm run bench -- hsm             table on stdout, progress on stderr
 *   npm run -s bench -- hsm --json   one JSON object on stdout instead
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevelopmentSigner } from '../hsm/development-signer.ts';
import {
  FIXTURE_SCRIPT,
  type FixtureToken,
  type HsmFixture,
  startHsmFixture,
  stopHsmFixture,
} from '../hsm/fixture/fixture.ts';
import { Pkcs11Token } from '../hsm/pkcs11-signer.ts';
import type { Signer } from '../hsm/signer.ts';
import { type SignatureAlgorithm, verifySignature } from '../protocol/signature.ts';
import { type Column, percentile, table } from './report.ts';

/** Each case signs for at least this long and at least MIN_SIGNATURES times, after WARMUP_SIGNATURES. */
const TIME_BUDGET_MS = 1500;
const MIN_SIGNATURES = 20;
const WARMUP_SIGNATURES = 3;

const MESSAGES = [
  { label: '32 B', bytes: randomBytes(32) },
  { label: '1 MiB', bytes: randomBytes(1024 * 1024) },
];

const CURVES: Record<SignatureAlgorithm, string> = {
  'ecdsa-p256-sha256': 'P-256',
  'ecdsa-secp256k1-sha256': 'secp256k1',
};

const BASELINE = { backend: 'development', curve: CURVES['ecdsa-p256-sha256'] };

interface NamedSigner {
  backend: string;
  curve: string;
  signer: Signer;
}

interface Result {
  backend: string;
  curve: string;
  message: string;
  messageBytes: number;
  signatures: number;
  signaturesPerSecond: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  /** signaturesPerSecond over the development P-256 signer's, same message size. */
  vsDevelopmentP256: number;
}

export async function run({ json }: { json: boolean }): Promise<void> {
  const results = await withHsmFixture(async (fixture) => {
    const tokens: Pkcs11Token[] = [];
    const open = (config: FixtureToken): Pkcs11Token => {
      const token = Pkcs11Token.open(config, config.pin);
      tokens.push(token);
      return token;
    };
    try {
      progress('generating keys');
      const softhsm = open(fixture.softhsm);
      const tpm = open(fixture.tpm);
      const development = async (algorithm: SignatureAlgorithm) =>
        DevelopmentSigner.generate(join(fixture.dir, 'development', `${algorithm}.pem`), algorithm);
      const signers: NamedSigner[] = [
        named('development', await development('ecdsa-p256-sha256')),
        named('development', await development('ecdsa-secp256k1-sha256')),
        named('softhsm', await softhsm.generateSigner('bench-p256', 'ecdsa-p256-sha256')),
        named('softhsm', await softhsm.generateSigner('bench-secp256k1', 'ecdsa-secp256k1-sha256')),
        named('swtpm', await tpm.generateSigner('bench-p256', 'ecdsa-p256-sha256')),
      ];
      return await measureAll(signers);
    } finally {
      for (const token of tokens) token.close();
    }
  });
  console.log(json ? JSON.stringify({ benchmark: 'hsm', results }) : table(COLUMNS, results));
}

/** Runs body against a fresh fixture, which is stopped and removed afterwards, on Ctrl-C too. */
async function withHsmFixture<T>(body: (fixture: HsmFixture) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'irisgate-bench-hsm-'));
  const stopOnInterrupt = () => {
    execFileSync('bash', [FIXTURE_SCRIPT, 'down', dir]);
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', stopOnInterrupt);
  try {
    progress('starting SoftHSM and swtpm');
    return await body(await startHsmFixture(dir));
  } finally {
    process.off('SIGINT', stopOnInterrupt);
    try {
      await stopHsmFixture(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function named(backend: string, signer: Signer): NamedSigner {
  return { backend, curve: CURVES[signer.algorithm], signer };
}

async function measureAll(signers: NamedSigner[]): Promise<Result[]> {
  const measured: Omit<Result, 'vsDevelopmentP256'>[] = [];
  for (const { backend, curve, signer } of signers) {
    for (const message of MESSAGES) {
      progress(`${backend} ${curve} ${message.label}`);
      const latenciesMs = await timeSignatures(signer, message.bytes);
      measured.push({
        backend,
        curve,
        message: message.label,
        messageBytes: message.bytes.length,
        ...summarise(latenciesMs),
      });
    }
  }
  return measured.map((result) => {
    const baseline = measured.find(
      (other) =>
        other.backend === BASELINE.backend &&
        other.curve === BASELINE.curve &&
        other.message === result.message,
    );
    return {
      ...result,
      vsDevelopmentP256: result.signaturesPerSecond / (baseline?.signaturesPerSecond ?? NaN),
    };
  });
}

/** Verifies one signature, warms up, then times sequential signatures until the budget is spent. */
async function timeSignatures(signer: Signer, message: Uint8Array): Promise<number[]> {
  await verifySignature(signer.algorithm, signer.publicKey, message, await signer.sign(message));
  for (let i = 0; i < WARMUP_SIGNATURES; i++) await signer.sign(message);
  const latenciesMs: number[] = [];
  const start = process.hrtime.bigint();
  let elapsedMs = 0;
  while (elapsedMs < TIME_BUDGET_MS || latenciesMs.length < MIN_SIGNATURES) {
    const before = process.hrtime.bigint();
    await signer.sign(message);
    const after = process.hrtime.bigint();
    latenciesMs.push(Number(after - before) / 1e6);
    elapsedMs = Number(after - start) / 1e6;
  }
  return latenciesMs;
}

function summarise(latenciesMs: number[]) {
  const meanMs = latenciesMs.reduce((sum, ms) => sum + ms, 0) / latenciesMs.length;
  return {
    signatures: latenciesMs.length,
    signaturesPerSecond: 1000 / meanMs,
    meanMs,
    p50Ms: percentile(latenciesMs, 0.5),
    p95Ms: percentile(latenciesMs, 0.95),
  };
}

const COLUMNS: Column<Result>[] = [
  { title: 'backend', width: 17, alignLeft: true, cell: (r) => r.backend },
  { title: 'curve', width: 9, alignLeft: true, cell: (r) => r.curve },
  { title: 'msg', width: 5, alignLeft: true, cell: (r) => r.message },
  {
    title: 'sig/s',
    width: 8,
    cell: (r) => r.signaturesPerSecond.toFixed(r.signaturesPerSecond < 100 ? 1 : 0),
  },
  { title: 'mean ms', width: 8, cell: (r) => r.meanMs.toFixed(3) },
  { title: 'p50 ms', width: 8, cell: (r) => r.p50Ms.toFixed(3) },
  { title: 'p95 ms', width: 8, cell: (r) => r.p95Ms.toFixed(3) },
  { title: 'vs dev-P-256', width: 12, cell: (r) => `${r.vsDevelopmentP256.toPrecision(3)}x` },
];

function progress(message: string): void {
  console.error(`hsm: ${message}`);
}
