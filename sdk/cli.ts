/**
 * `irisgate proof`: a wallet and an app on the command line.
 *
 *   irisgate proof identity new [--out FILE] [--force] [--qr] [--json]
 *   irisgate proof identity show [FILE] [--qr] [--json]
 *   irisgate proof create --identity FILE --app ID --action A --signal S [--backend URL] [--backend-key HEX]
 *                         [--out FILE] [--json]
 *   irisgate proof verify FILE --app ID --action A [--signal S] [--backend URL | --offline --backend-key HEX]
 *                         [--max-root-age SECONDS] [--nullifiers DIR|postgres://URL] [--max-uses N] [--json]
 *
 * `identity new` makes a Semaphore identity file (0600) and prints its commitment and the QR payload the
 * capture device reads; `create` fetches the identity's inclusion proof from the backend and writes a
 * presentation (sdk/presentation.ts); `verify` checks one as an app does, the roots from the backend's
 * history or offline from the presentation's root statement with the backend's key pinned, the nullifiers
 * in a PGlite folder or a PostgreSQL database. A refusal exits 1 with `error [code]: message`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Identity } from '@semaphore-protocol/core';
import { Command, InvalidArgumentError, Option } from 'commander';
import QRCode from 'qrcode';
import { releaseProver } from '../circuits/prover.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { createIdentityFile, readIdentityFile } from '../protocol/identity-file.ts';
import { identityQrPayload } from '../protocol/identity-qr-payload.ts';
import type { NullifierStore, RootSource } from '../protocol/uniqueness-proof.ts';
import { type NullifierDatabase, openNullifierDatabase } from './nullifier-db.ts';
import { type Presentation, parsePresentation } from './presentation.ts';
import { backendRoots, offlineRoots, openUniquenessVerifier, receiptPublicKey } from './verify.ts';
import { createUniquenessProof, fetchInclusionProof } from './wallet.ts';

const DEFAULT_IDENTITY_FILE = 'irisgate-identity.json';
const DEFAULT_BACKEND = 'http://127.0.0.1:8620';
const DEFAULT_NULLIFIERS = './irisgate-nullifiers';

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

const status = (line: string) => process.stderr.write(`${line}\n`);

/** A commander option parser for an integer >= min (a usage error otherwise). */
function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
    return n;
  };
}

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError('expected a number of seconds >= 0');
  }
  return n;
}

async function describeIdentity(
  file: string,
  identity: Identity,
  { json, qr, created }: { json: boolean; qr: boolean; created: boolean },
): Promise<void> {
  const commitment = identity.commitment.toString();
  const payload = identityQrPayload(identity.commitment);
  print(
    json,
    { file, commitment, qrPayload: payload, ...(created ? { created: true } : {}) },
    [
      ...(created ? [`created ${file} (mode 0600; keep it secret, it is your identity)`] : []),
      `commitment  ${commitment}`,
      `qr payload  ${payload}`,
    ].join('\n'),
  );
  if (qr && !json) {
    process.stdout.write(await QRCode.toString(payload, { type: 'utf8', errorCorrectionLevel: 'M' }));
  }
}

function identityCommand(): Command {
  const identity = new Command('identity').description('a Semaphore identity in a file (the wallet)');
  identity
    .command('new')
    .description('create a new identity file and print its commitment and QR payload')
    .option('--out <file>', 'where to write it', DEFAULT_IDENTITY_FILE)
    .option('--force', 'replace the file when it exists', false)
    .option('--qr', 'also draw the QR code the capture device reads (not with --json)', false)
    .option('--json', 'print JSON', false)
    .action(async (options: { out: string; force: boolean; qr: boolean; json: boolean }) => {
      const file = resolve(options.out);
      const created = await createIdentityFile(file, { force: options.force });
      await describeIdentity(file, created, { json: options.json, qr: options.qr, created: true });
    });
  identity
    .command('show')
    .description("print an identity file's commitment and QR payload (never its private key)")
    .argument('[file]', 'the identity file', DEFAULT_IDENTITY_FILE)
    .option('--qr', 'also draw the QR code the capture device reads (not with --json)', false)
    .option('--json', 'print JSON', false)
    .action(async (file: string, options: { qr: boolean; json: boolean }) => {
      const path = resolve(file);
      await describeIdentity(path, await readIdentityFile(path), { ...options, created: false });
    });
  return identity;
}

interface CreateOptions {
  identity: string;
  app: string;
  action: string;
  signal: string;
  backend: string;
  backendKey?: string;
  out?: string;
  json: boolean;
}

async function create(options: CreateOptions): Promise<void> {
  const identity = await readIdentityFile(resolve(options.identity));
  const backendPublicKey = options.backendKey ? receiptPublicKey(options.backendKey) : undefined;
  try {
    status(`fetching the inclusion proof of ${identity.commitment} from ${options.backend}`);
    const { inclusion, rootStatement } = await fetchInclusionProof(options.backend, identity.commitment, {
      backendPublicKey,
    });
    status(`proving membership of the group (root ${inclusion.root}) for ${options.app} / ${options.action}`);
    const started = performance.now();
    const proof = await createUniquenessProof({
      identity,
      inclusion,
      appId: options.app,
      action: options.action,
      signal: options.signal,
    });
    const provingMs = Math.round(performance.now() - started);
    status(`proved in ${(provingMs / 1000).toFixed(1)} s`);
    const presentation: Presentation = {
      version: 1,
      appId: options.app,
      action: options.action,
      signal: options.signal,
      proof,
      rootStatement,
    };
    const text = `${JSON.stringify(presentation, null, 2)}\n`;
    if (!options.out) {
      process.stdout.write(text);
      return;
    }
    const out = resolve(options.out);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, text);
    print(
      options.json,
      {
        out,
        appId: options.app,
        action: options.action,
        nullifier: proof.nullifier,
        merkleRoot: proof.merkleTreeRoot,
        provingMs,
      },
      `wrote the presentation to ${out} (nullifier ${proof.nullifier})`,
    );
  } finally {
    await releaseProver();
  }
}

interface VerifyOptions {
  app: string;
  action: string;
  signal?: string;
  backend: string;
  offline: boolean;
  backendKey?: string;
  maxRootAge?: number;
  nullifiers: string;
  maxUses: number;
  json: boolean;
}

async function readPresentation(file: string) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `the presentation ${file} cannot be read`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new IrisgateError('invalid_format', `the presentation ${file} is not JSON`, { cause });
  }
  return parsePresentation(json);
}

async function verify(file: string, options: VerifyOptions): Promise<void> {
  const presentation = await readPresentation(resolve(file));
  if (options.signal !== undefined && options.signal !== presentation.signal) {
    throw new IrisgateError(
      'invalid_proof',
      `the presentation was made for the signal ${JSON.stringify(presentation.signal)}, not ${JSON.stringify(options.signal)}`,
    );
  }
  let roots: RootSource;
  if (options.offline) {
    if (presentation.rootStatement === undefined) {
      throw new IrisgateError(
        'invalid_root_statement',
        'the presentation holds no root statement to check offline',
      );
    }
    roots = await offlineRoots([presentation.rootStatement], options.backendKey as string);
  } else roots = backendRoots(options.backend);
  // Opened at the nullifier's spending only, the last step: a refused proof never creates the database.
  let database: Promise<NullifierDatabase> | undefined;
  const nullifiers: NullifierStore = {
    use: async (entry) => {
      database ??= openNullifierDatabase(options.nullifiers);
      return (await database).store.use(entry);
    },
  };
  try {
    const verifier = await openUniquenessVerifier({ roots, nullifiers, maxUses: options.maxUses });
    const verdict = await verifier.verifyUniquenessProof({
      proof: presentation.proof,
      appId: options.app,
      action: options.action,
      signal: presentation.signal,
      maxRootAgeSeconds: options.maxRootAge,
    });
    print(
      options.json,
      { verified: true, ...verdict },
      [
        `VERIFIED: a unique person for ${verdict.appId} / ${verdict.action} (use ${verdict.uses} of ${verdict.maxUses})`,
        `nullifier   ${verdict.nullifier}`,
        `root        ${verdict.merkleRoot}${options.offline ? ' (offline, signed by the pinned backend key)' : ''}`,
        `first used  ${new Date(verdict.createdAtMs).toISOString()}`,
      ].join('\n'),
    );
  } finally {
    await (await database?.catch(() => undefined))?.close();
    await releaseProver();
  }
}

export function proofCommand(): Command {
  const proof = new Command('proof').description(
    'uniqueness proofs: a wallet identity, proofs for an app action, and their verification',
  );
  proof.addCommand(identityCommand());
  proof
    .command('create')
    .description("prove the identity is an enrolled person, once for the app's action, bound to a signal")
    .requiredOption('--identity <file>', 'the identity file (irisgate proof identity new)')
    .requiredOption('--app <id>', 'the app id')
    .requiredOption('--action <action>', 'the action')
    .requiredOption('--signal <signal>', 'what the proof is bound to (a wallet address, a vote; may be "")')
    .option('--backend <url>', "the backend's base URL", DEFAULT_BACKEND)
    .option('--backend-key <hex>', "check the root statement with the backend's receipt key (GET /v1/info)")
    .option('--out <file>', 'write the presentation here (default: stdout)')
    .option('--json', 'with --out, print a JSON summary', false)
    .action((options: CreateOptions) => create(options));
  proof
    .command('verify')
    .description('verify a presentation as an app does: proof, root, and the nullifier spent once')
    .argument('<file>', 'the presentation (irisgate proof create)')
    .requiredOption('--app <id>', 'the app id the proof must be for')
    .requiredOption('--action <action>', 'the action the proof must be for')
    .option('--signal <signal>', "the signal the app expects (must equal the presentation's)")
    .option('--backend <url>', 'check the root against the backend (its root history)', DEFAULT_BACKEND)
    .addOption(
      new Option('--offline', "check the root with the presentation's root statement and --backend-key")
        .default(false)
        .conflicts('backend'),
    )
    .option('--backend-key <hex>', "the backend's receipt public key (uncompressed P-256, hex) for --offline")
    .option(
      '--max-root-age <seconds>',
      'how long ago the root may have been replaced (default 3600)',
      seconds,
    )
    .option(
      '--nullifiers <dir|url>',
      'spent nullifiers: a PGlite folder or a postgres:// URL',
      DEFAULT_NULLIFIERS,
    )
    .option('--max-uses <n>', 'uses a person may make of the action', wholeNumber(1), 1)
    .option('--json', 'print JSON', false)
    .action((file: string, options: VerifyOptions, command: Command) => {
      if (options.offline && !options.backendKey) command.error('error: --offline needs --backend-key <hex>');
      return verify(file, options);
    });
  return proof;
}
