/**
 * `irisgate backend`: run the backend (`serve`), and operate a running one over its admin HTTP API
 * (`devices add|list|revoke`, `ca trust|list`). The operator commands never open the database themselves:
 * PGlite belongs to the one process that serves it.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { type Progress, startProgress } from '../iris/progress.ts';
import { ERROR_CODES, type ErrorCode, IrisgateError } from '../protocol/errors.ts';
import { ADMIN_TOKEN_FILE } from './backend-secrets.ts';
import { type DatabaseLocation, redactDatabaseUrl } from './storage/database.ts';
import type { Pkcs11TemplateKeyConfig } from './template-key.ts';

const DEFAULT_DATA_DIR = './irisgate-data';
const DEFAULT_PORT = 8620;
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_URL = `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const REQUEST_TIMEOUT_MS = 30_000;
/** backendConfig's default, for the help only: the service (fastify, PGlite) is loaded by `serve` alone. */
const DEFAULT_AUDIENCE = 'irisgate-backend';

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) {
    throw new IrisgateError('invalid_argument', `--port must be an integer from 0 to 65535, not "${value}"`);
  }
  return port;
}

/** A progress bar for the uniqueness index load, on a terminal and for a non-empty gallery only. */
function indexLoadProgress(): { onLoadProgress(loaded: number, total: number): void; stop(): void } {
  let bar: Progress | undefined;
  return {
    onLoadProgress(loaded, total) {
      if (!process.stderr.isTTY || total === 0) return;
      bar ??= startProgress('loading enrolled eyes', total);
      bar.update(loaded);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** SIGINT/SIGTERM ask for a graceful stop; a second one exits at once. */
function trapStopSignals(): {
  stopped: Promise<NodeJS.Signals>;
  readonly signal?: NodeJS.Signals;
  release(): void;
} {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  let received: NodeJS.Signals | undefined;
  let resolveStop: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolveIt) => {
    resolveStop = resolveIt;
  });
  const handler = (signal: NodeJS.Signals) => {
    if (received) {
      process.stderr.write(`irisgate backend: ${signal} again, exiting without closing\n`);
      process.exit(1);
    }
    received = signal;
    resolveStop(signal);
  };
  for (const signal of signals) process.on(signal, handler);
  return {
    stopped,
    get signal() {
      return received;
    },
    release() {
      for (const signal of signals) process.off(signal, handler);
    },
  };
}

interface ServeOptions {
  dataDir: string;
  databaseUrl?: string;
  port: number;
  host: string;
  dev: boolean;
  audience?: string;
  logLevel: (typeof LOG_LEVELS)[number];
  templateKeyToken?: string;
  pkcs11Module?: string;
}

/** The PKCS#11 token that keeps the template key, when asked for; its PIN only ever from the environment. */
function templateKeyToken(options: ServeOptions): Pkcs11TemplateKeyConfig | undefined {
  if (!options.templateKeyToken) return undefined;
  const pin = process.env.IRISGATE_TEMPLATE_KEY_PIN;
  if (!options.pkcs11Module || !pin) {
    throw new IrisgateError(
      'invalid_argument',
      '--template-key-token needs --pkcs11-module (or IRISGATE_PKCS11_MODULE) and the PIN in IRISGATE_TEMPLATE_KEY_PIN',
    );
  }
  return { module: options.pkcs11Module, tokenLabel: options.templateKeyToken, pin };
}

async function serve(options: ServeOptions): Promise<void> {
  const { backendConfig, openBackend } = await import('./service.ts');
  const dataDir = resolve(options.dataDir);
  const database: DatabaseLocation = options.databaseUrl
    ? { url: options.databaseUrl }
    : { dataDir: join(dataDir, 'db') };
  const production = !options.dev;
  const trap = trapStopSignals();
  try {
    const progress = indexLoadProgress();
    const backend = await openBackend({
      database,
      secretsDir: dataDir,
      config: backendConfig({ production, ...(options.audience ? { audience: options.audience } : {}) }),
      logger: { level: options.logLevel },
      onLoadProgress: progress.onLoadProgress,
      templateKeyToken: templateKeyToken(options),
    }).finally(() => progress.stop());
    try {
      if (trap.signal) return;
      let url: string;
      try {
        url = await backend.listen({ port: options.port, host: options.host });
      } catch (cause) {
        const code = (cause as { code?: string }).code;
        if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
          throw new IrisgateError(
            'invalid_argument',
            `cannot listen on ${options.host}:${options.port} (${code})`,
            { cause },
          );
        }
        throw cause;
      }
      const { group, index } = backend.services;
      const where =
        'url' in database
          ? `postgres at ${redactDatabaseUrl(database.url)}`
          : `pglite at ${database.dataDir}`;
      const token = process.env.IRISGATE_ADMIN_TOKEN
        ? 'admin token from IRISGATE_ADMIN_TOKEN'
        : `admin token in ${join(dataDir, ADMIN_TOKEN_FILE)}`;
      // One write, so a reader of the listening line has the warning with it.
      process.stderr.write(
        `irisgate backend listening on ${url} (${production ? 'production' : 'development'}, ${where}, ` +
          `${group.size} members, ${index.size} enrolled eyes; ${token})\n` +
          (production
            ? ''
            : 'warning: development mode (--dev): development CAs and devices with development (software) ' +
              'keys are accepted; never enrol real people on it\n'),
      );
      const signal = await trap.stopped;
      process.stderr.write(`irisgate backend: ${signal}, closing\n`);
    } finally {
      await backend.close();
    }
    process.stderr.write('irisgate backend stopped\n');
  } finally {
    trap.release();
  }
}

function serveCommand(): Command {
  return new Command('serve')
    .description('run the backend: HTTP API, device registry, signup gate, uniqueness index, Semaphore group')
    .option(
      '--data-dir <dir>',
      'folder of the secrets (admin token, receipt key, template key) and the PGlite database (DIR/db)',
      DEFAULT_DATA_DIR,
    )
    .addOption(
      new Option('--database-url <url>', 'a PostgreSQL server instead of PGlite').env('DATABASE_URL'),
    )
    .option('--port <port>', 'TCP port (0: any free port)', parsePort, DEFAULT_PORT)
    .option('--host <host>', 'address to listen on', DEFAULT_HOST)
    .option('--dev', 'DEVELOPMENT mode: accept development CAs and development-key devices', false)
    .option(
      '--audience <name>',
      `this backend's name, signed by devices when they authenticate (default: "${DEFAULT_AUDIENCE}")`,
    )
    .addOption(
      new Option('--log-level <level>', 'JSON log level (logs go to stdout)')
        .choices(LOG_LEVELS)
        .default('info'),
    )
    .option(
      '--template-key-token <label>',
      'keep the template encryption key under an AES key on this PKCS#11 token (PIN in IRISGATE_TEMPLATE_KEY_PIN)',
    )
    .addOption(
      new Option('--pkcs11-module <path>', 'the PKCS#11 module of --template-key-token').env(
        'IRISGATE_PKCS11_MODULE',
      ),
    )
    .action(serve);
}

interface AdminOptions {
  url: string;
  adminTokenFile: string;
  json: boolean;
}

/** The options every operator command takes. */
function adminCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .addOption(
      new Option('--url <url>', 'the running backend').env('IRISGATE_BACKEND_URL').default(DEFAULT_URL),
    )
    .option(
      '--admin-token-file <file>',
      'file holding the admin token ($IRISGATE_ADMIN_TOKEN wins when set)',
      join(DEFAULT_DATA_DIR, ADMIN_TOKEN_FILE),
    )
    .option('--json', "print the backend's JSON answer", false);
}

async function adminToken(file: string): Promise<string> {
  const fromEnv = process.env.IRISGATE_ADMIN_TOKEN;
  if (fromEnv) return fromEnv;
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (cause) {
    throw new IrisgateError(
      'invalid_argument',
      `cannot read the admin token from ${file} (give --admin-token-file, or set IRISGATE_ADMIN_TOKEN)`,
      { cause },
    );
  }
  if (!token) throw new IrisgateError('invalid_argument', `${file} is empty`);
  return token;
}

function baseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new IrisgateError('invalid_argument', `--url is not a URL: "${url}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new IrisgateError('invalid_argument', `--url must be http or https, not "${url}"`);
  }
  return parsed.toString().replace(/\/+$/, '');
}

/** Why a fetch did not get an answer, in a few words (fetch itself only says "fetch failed"). */
function networkFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  }
  const cause = (error as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } })
    .cause;
  return (
    cause?.code ??
    cause?.errors?.find((e) => e.code)?.code ??
    cause?.message ??
    (error instanceof Error ? error.message : String(error))
  );
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** One admin API call; an error answer becomes the backend's IrisgateError. */
async function adminRequest<T>(
  options: AdminOptions,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const base = baseUrl(options.url);
  const token = await adminToken(options.adminTokenFile);
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (cause) {
    throw new IrisgateError(
      'backend_unreachable',
      `no backend answered at ${base}: ${networkFailure(cause)} (is \`irisgate backend serve\` running there? ` +
        'give --url or IRISGATE_BACKEND_URL)',
      { cause },
    );
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = json as { code?: unknown; message?: unknown } | undefined;
    if (typeof error?.code === 'string' && typeof error.message === 'string') {
      throw isErrorCode(error.code)
        ? new IrisgateError(error.code, error.message)
        : new IrisgateError('internal_error', `${error.code}: ${error.message}`);
    }
    throw new IrisgateError(
      'internal_error',
      `${method} ${base}${path} answered HTTP ${response.status} without an Irisgate error (is this an Irisgate backend?): ${text.slice(0, 200)}`,
    );
  }
  if (json === undefined) {
    throw new IrisgateError(
      'internal_error',
      `${method} ${base}${path} answered without JSON: is this an Irisgate backend?`,
    );
  }
  return { status: response.status, body: json as T };
}

/** A certificate file as PEM (DER files are wrapped). */
async function readCertificateFile(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `cannot read ${file}`, { cause });
  }
  const text = bytes.toString('utf8');
  if (text.includes('-----BEGIN')) return text;
  if (bytes[0] !== 0x30) {
    throw new IrisgateError('invalid_argument', `${file} is neither a PEM nor a DER certificate`);
  }
  const lines = bytes.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

interface DeviceJson {
  deviceId: string;
  certificateSerial: string;
  development: boolean;
  registeredAtMs: number;
  revokedAtMs: number | null;
  revokedReason: string | null;
}

interface TrustedCaJson {
  fingerprint: string;
  subject: string;
  addedAtMs: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function devicesCommand(): Command {
  const devices = new Command('devices').description('the device registry of a running backend');
  devices.addCommand(
    adminCommand('add', 'register a device by its certificate (an existing registration is kept)')
      .argument('<cert.pem>', 'the device certificate (PEM or DER), e.g. DEVICE_DIR/device.cert.pem')
      .action(async (file: string, options: AdminOptions) => {
        const certificate = await readCertificateFile(file);
        const { status, body } = await adminRequest<DeviceJson>(options, 'POST', '/v1/admin/devices', {
          certificate,
        });
        print(
          options.json,
          body,
          status === 201
            ? `registered device ${body.deviceId} (serial ${body.certificateSerial}${body.development ? ', development keys' : ''})`
            : `device ${body.deviceId} was already registered on ${iso(body.registeredAtMs)}` +
                (body.revokedAtMs === null ? '' : ` and is revoked (${body.revokedReason})`),
        );
      }),
  );
  devices.addCommand(
    adminCommand('list', 'list the registered devices').action(async (options: AdminOptions) => {
      const { body } = await adminRequest<DeviceJson[]>(options, 'GET', '/v1/admin/devices');
      print(
        options.json,
        body,
        body.length === 0
          ? 'no devices registered'
          : table(
              ['DEVICE', 'SERIAL', 'KEYS', 'REGISTERED', 'STATUS'],
              body.map((d) => [
                d.deviceId,
                d.certificateSerial,
                d.development ? 'development' : 'hardware',
                iso(d.registeredAtMs),
                d.revokedAtMs === null ? 'active' : `revoked ${iso(d.revokedAtMs)}: ${d.revokedReason}`,
              ]),
            ),
      );
    }),
  );
  devices.addCommand(
    adminCommand('revoke', 'revoke a device for good: it can no longer authenticate or sign up anyone')
      .argument('<deviceId>', 'the device id (the CN of its certificate)')
      .requiredOption('--reason <text>', 'why, kept in the registry and the audit log')
      .action(async (deviceId: string, options: AdminOptions & { reason: string }) => {
        const { body } = await adminRequest<DeviceJson>(
          options,
          'POST',
          `/v1/admin/devices/${encodeURIComponent(deviceId)}/revoke`,
          { reason: options.reason },
        );
        print(
          options.json,
          body,
          `revoked device ${body.deviceId} on ${iso(body.revokedAtMs ?? 0)}: ${body.revokedReason}`,
        );
      }),
  );
  return devices;
}

function caCommand(): Command {
  const ca = new Command('ca').description('the manufacturer CAs a running backend trusts');
  ca.addCommand(
    adminCommand('trust', 'trust a manufacturer CA: devices it certifies may then be registered')
      .argument('<cert.pem>', 'the CA certificate (PEM or DER), e.g. CA_DIR/ca.cert.pem')
      .action(async (file: string, options: AdminOptions) => {
        const certificate = await readCertificateFile(file);
        const { body } = await adminRequest<TrustedCaJson>(options, 'POST', '/v1/admin/cas', {
          certificate,
        });
        print(options.json, body, `trusted CA "${body.subject}" (sha256 ${body.fingerprint})`);
      }),
  );
  ca.addCommand(
    adminCommand('list', 'list the trusted manufacturer CAs').action(async (options: AdminOptions) => {
      const { body } = await adminRequest<TrustedCaJson[]>(options, 'GET', '/v1/admin/cas');
      print(
        options.json,
        body,
        body.length === 0
          ? 'no trusted CAs'
          : table(
              ['SUBJECT', 'SHA256', 'ADDED'],
              body.map((c) => [c.subject, c.fingerprint, iso(c.addedAtMs)]),
            ),
      );
    }),
  );
  return ca;
}

export function backendCommand(): Command {
  return new Command('backend')
    .description('the uniqueness backend: run it, and manage its devices and trusted CAs over HTTP')
    .addCommand(serveCommand())
    .addCommand(devicesCommand())
    .addCommand(caCommand());
}
