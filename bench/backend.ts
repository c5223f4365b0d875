/**
 * Signups per second, end to end over HTTP, with a gallery of 10,000 and one of 100,000 enrolled templates,
 * on PGlite and on PostgreSQL. A signup is the whole path a device takes to the backend's answer: the
 * envelope and frame signatures checked, the policy, the nonce and counter consumed, the 1:N search, and
 * for a new person the group insertion, encrypted templates, signed receipt and audit entry committed.
 *
 * For each gallery size and engine, a fresh database is seeded in bulk (random identity commitments,
 * syntheticEye templates sealed under the backend's template key, the matching Semaphore root), the
 * backend opened on it (timed: it rebuilds the group and decrypts the gallery) and listening on a port.
 * Devices with development keys are registered and authenticated; every signup (a new person's eye, its
 * session nonce, the chained frame signatures and the envelope signature) is built before the timing
 * starts, so client-side signing never counts. Then, over real HTTP:
 *   - a few warm-up signups (not counted);
 *   - signups one at a time: the time a signup spends outside the search, end to end (client latency
 *     minus the server-timing search) and in the backend (server-timing total, from the request's arrival,
 *     minus search: the figure held to the 20 ms budget);
 *   - the timed phase: signups CONCURRENCY in flight (one device each, so every device's counter arrives
 *     in order): signups/s, p50/p99 latency and the search p50 from server-timing;
 *   - already-enrolled people captured again: must be refused 409 duplicate_identity; their p50.
 * Targets on the 2-core reference machine: >= 10 signups/s with 10,000 enrolled and >= 1 with 100,000
 * (in between, and above, 10 x 10,000 / templates), <= 20 ms p50 outside the search. Each row is compared
 * with its targets, and with the smallest gallery of the same engine in this run.
 *
 *   npm run bench -- backend             table on stdout, progress on stderr
 *   npm run -s bench -- backend --json   one JSON object on stdout instead
 *
 * Environment:
 *   IRISGATE_BENCH_GALLERY=2000,10000    gallery sizes (default 10000,100000)
 *   IRISGATE_BENCH_ENGINES=pglite        engines (default pglite,postgres)
 *   IRISGATE_BENCH_SIGNUPS=100           signups in the timed phase (default 200 up to 10,000 enrolled,
 *                                        60 above)
 *   IRISGATE_BENCH_CONCURRENCY=4         signups in flight in the timed phase, one device each (default 4)
 *   IRISGATE_BENCH_EYES=2                eyes per signup, each searched against the whole gallery (default 1)
 *   BENCH_DATABASE_URL, else TEST_DATABASE_URL: the PostgreSQL server, where each run creates a database
 *                                        and drops it afterwards; unreachable: skipped
 *                                        (default postgres://postgres@127.0.0.1:5432/postgres)
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Group } from '@semaphore-protocol/core';
import pg from 'pg';
import { ADMIN_TOKEN_FILE, TEMPLATE_KEY_FILE, TemplateCipher } from '../backend/backend-secrets.ts';
import { backendConfig, openBackend } from '../backend/service.ts';
import { defaultSignupPolicy } from '../backend/signup-policy.ts';
import {
  type DatabaseLocation,
  openDatabase,
  redactDatabaseUrl,
  type Sql,
} from '../backend/storage/database.ts';
import { migrate } from '../backend/storage/migrations.ts';
import { sealTemplate } from '../backend/uniqueness-index.ts';
import { createManufacturerCa, type ManufacturerCa } from '../hsm/manufacturer-ca.ts';
import { type DeviceKeys, openDeviceKeys, provisionDevice } from '../hsm/provisioning.ts';
import { type PackedIrisCode, packIrisCode } from '../iris/matcher.ts';
import { startProgress } from '../iris/progress.ts';
import { fromHex, toHex } from '../protocol/bytes.ts';
import { deviceAuthSigningBytes } from '../protocol/device-messages.ts';
import type { IrisCode } from '../protocol/iris-code-layout.ts';
import type { EyeSide } from '../protocol/signup-envelope.ts';
import { SOFTWARE_VERSION } from '../protocol/software-version.ts';
import { recapture, syntheticEye, TestDevice } from '../test/support/backend.ts';
import { type Column, percentile, table } from './report.ts';

type Engine = 'pglite' | 'postgres';

const OUTSIDE_SEARCH_BUDGET_MS = 20;
/** >= 10 signups/s with 10,000 enrolled; beyond, the search grows with the gallery: 10 x 10,000 / N. */
const TARGET = { galleryTemplates: 10_000, signupsPerSecond: 10 };
const WARMUP_SIGNUPS = 3;
const SEQUENTIAL_SIGNUPS = 30;
const DUPLICATE_SIGNUPS = 10;
/** Bulk seeding: rows per INSERT statement and per transaction. */
const ROWS_PER_STATEMENT = 250;
const ROWS_PER_TRANSACTION = 5_000;
/** Seeds of syntheticEye: gallery members from here, new people (probes) from PROBE_SEED. */
const GALLERY_SEED = 1_000_000;
const PROBE_SEED = 500_000_000;
const HOUR_MS = 3_600_000;

interface Settings {
  galleries: number[];
  engines: Engine[];
  signups: number | undefined;
  concurrency: number;
  eyes: 1 | 2;
  postgresUrl: string;
}

interface Result {
  engine: Engine;
  galleryTemplates: number;
  /** Why this row was not measured (the PostgreSQL server unreachable, ...); absent when it was. */
  skipped?: string;
  eyesPerSignup: number;
  concurrency: number;
  /** A fresh database opened and migrated (PGlite: initdb). */
  createMs: number;
  /** Bulk insert of the members, their sealed templates and the root. */
  seedMs: number;
  /** openBackend: migrations, the group rebuilt from its members, the gallery loaded and decrypted. */
  startMs: number;
  /** Timed phase. */
  signups: number;
  accepted: number;
  /** Answers other than 200, by "status code". */
  failures: Record<string, number>;
  signupsPerSecond: number;
  targetSignupsPerSecond: number;
  /** signupsPerSecond / targetSignupsPerSecond. */
  vsTarget: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** server-timing search, per signup (all its eyes). */
  searchP50Ms: number;
  /** server-timing total minus search under load: includes the wait behind other signups' decisions. */
  loadedOutsideSearchP50Ms: number;
  /** One signup at a time: client latency minus server-timing search (adds the client and loopback). */
  outsideSearchP50Ms: number;
  /**
   * One signup at a time: server-timing total (request received to answer: body parsing, validation,
   * checks, transaction) minus search. The time the signup spends in the backend outside the search: the
   * figure held to the budget.
   */
  serverOutsideSearchP50Ms: number;
  sequentialLatencyP50Ms: number;
  sequentialSearchP50Ms: number;
  /** serverOutsideSearchP50Ms / the 20 ms budget. */
  outsideVsBudget: number;
  duplicates: { signups: number; refused409: number; latencyP50Ms: number; searchP50Ms: number };
  /** signupsPerSecond / the same engine's with the smallest gallery in this run. */
  vsSmallestGallery: number;
  /** The machine's 1-minute load average just after the timed phase (2 cores: above 2, others compete). */
  loadAverage1m: number;
  pass: boolean;
}

export async function run({ json }: { json: boolean }): Promise<void> {
  const settings = readSettings();
  progress(
    `galleries ${settings.galleries.join(', ')}; engines ${settings.engines.join(', ')}; ` +
      `${settings.concurrency} in flight; ${settings.eyes} eye(s) per signup`,
  );
  const workDir = await mkdtemp(join(tmpdir(), 'irisgate-bench-backend-'));
  const cleanups = new Set<() => Promise<void>>();
  const onInterrupt = () => {
    void (async () => {
      for (const cleanup of cleanups) await cleanup().catch(() => {});
      await rm(workDir, { recursive: true, force: true });
      process.exit(130);
    })();
  };
  process.once('SIGINT', onInterrupt);
  const loadAtStart = loadavg()[0] as number;
  const results: Result[] = [];
  const people = new SyntheticPeople();
  let fleet: Fleet | undefined;
  try {
    fleet = await Fleet.create(join(workDir, 'fleet'), settings.concurrency);
    let postgresDown: string | undefined;
    for (const size of settings.galleries) {
      people.grow(size);
      for (const engine of settings.engines) {
        if (engine === 'postgres' && postgresDown) {
          results.push(skipped(engine, size, settings, postgresDown));
          continue;
        }
        let database: { location: DatabaseLocation; drop(): Promise<void> };
        try {
          database = await createDatabase(engine, workDir, settings.postgresUrl);
        } catch (error) {
          const why = (error as Error).message;
          postgresDown = `PostgreSQL at ${redactDatabaseUrl(settings.postgresUrl)} unreachable: ${why}`;
          progress(`postgres skipped: ${postgresDown}`);
          results.push(skipped(engine, size, settings, postgresDown));
          continue;
        }
        cleanups.add(database.drop);
        try {
          results.push(await measure(engine, size, database.location, people, fleet, settings, workDir));
        } finally {
          await database.drop();
          cleanups.delete(database.drop);
        }
      }
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    fleet?.close();
    await rm(workDir, { recursive: true, force: true });
  }
  const withRatios = compareWithSmallest(results);
  const machine = {
    cpus: availableParallelism(),
    loadAverage1m: { start: loadAtStart, end: loadavg()[0] as number },
  };
  if (json) {
    console.log(
      JSON.stringify({
        benchmark: 'backend',
        targets: {
          signupsPerSecond: TARGET,
          outsideSearchP50Ms: OUTSIDE_SEARCH_BUDGET_MS,
        },
        settings: { ...settings, postgresUrl: redactDatabaseUrl(settings.postgresUrl) },
        machine,
        results: withRatios,
      }),
    );
    return;
  }
  console.log(
    `signups end to end over HTTP, ${settings.eyes} new eye(s) per signup, timed phase ` +
      `${settings.concurrency} in flight; "out" = outside the search, p50, one signup at a time ` +
      `(e2e: latency - search; srv: server-timing total - search, held to the budget of ${OUTSIDE_SEARCH_BUDGET_MS} ms); ` +
      `target signups/s: ${TARGET.signupsPerSecond} at ${TARGET.galleryTemplates} templates, ` +
      `x ${TARGET.galleryTemplates}/N above; ${machine.cpus} CPUs, 1-min load average ` +
      `${machine.loadAverage1m.start.toFixed(1)} at start, ${machine.loadAverage1m.end.toFixed(1)} at end\n`,
  );
  console.log(table(COLUMNS, withRatios));
  for (const result of withRatios) {
    const where = `${result.engine} ${result.galleryTemplates}`;
    if (result.skipped) console.log(`${where}: skipped: ${result.skipped}`);
    for (const [answer, count] of Object.entries(result.failures)) {
      console.log(`${where}: ${count} signup(s) answered ${answer}`);
    }
    if (!result.skipped && result.duplicates.refused409 !== result.duplicates.signups) {
      console.log(
        `${where}: only ${result.duplicates.refused409}/${result.duplicates.signups} duplicates refused 409`,
      );
    }
  }
}

function readSettings(): Settings {
  const list = (name: string, fallback: string) =>
    (process.env[name] || fallback)
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  const positive = (name: string, text: string): number => {
    const value = Number(text.replace(/_/g, ''));
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error(`${name}: "${text}" is not a positive integer`);
    return value;
  };
  const galleries = [
    ...new Set(
      list('IRISGATE_BENCH_GALLERY', '10000,100000').map((s) => positive('IRISGATE_BENCH_GALLERY', s)),
    ),
  ].sort((a, b) => a - b);
  const engines = list('IRISGATE_BENCH_ENGINES', 'pglite,postgres').map((name): Engine => {
    if (name !== 'pglite' && name !== 'postgres')
      throw new Error(`IRISGATE_BENCH_ENGINES: unknown "${name}"`);
    return name;
  });
  const signups = process.env.IRISGATE_BENCH_SIGNUPS;
  const eyes = positive('IRISGATE_BENCH_EYES', process.env.IRISGATE_BENCH_EYES || '1');
  if (eyes > 2) throw new Error('IRISGATE_BENCH_EYES: a signup has 1 or 2 eyes');
  return {
    galleries,
    engines,
    signups: signups ? positive('IRISGATE_BENCH_SIGNUPS', signups) : undefined,
    concurrency: positive('IRISGATE_BENCH_CONCURRENCY', process.env.IRISGATE_BENCH_CONCURRENCY || '4'),
    eyes: eyes as 1 | 2,
    postgresUrl:
      process.env.BENCH_DATABASE_URL ??
      process.env.TEST_DATABASE_URL ??
      'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

function targetSignupsPerSecond(galleryTemplates: number): number {
  return (
    (TARGET.signupsPerSecond * TARGET.galleryTemplates) / Math.max(galleryTemplates, TARGET.galleryTemplates)
  );
}

/**
 * The enrolled population, the same for every engine: member i has one eye, syntheticEye(GALLERY_SEED + i),
 * and a random identity commitment. Grows in order, so the root of every gallery size asked for is
 * computed on the way (the Lean IMT is built once).
 */
class SyntheticPeople {
  readonly templates: PackedIrisCode[] = [];
  readonly commitments: string[] = [];
  readonly #group = new Group();
  readonly #roots = new Map<number, string>();

  grow(size: number): void {
    if (size <= this.templates.length) return;
    const from = this.templates.length;
    let started = performance.now();
    const bar = startProgress(`backend: generating ${size - from} templates`, size - from);
    for (let i = from; i < size; i++) {
      this.templates.push(packIrisCode(syntheticEye(GALLERY_SEED + i)));
      // 248 random bits: always below the BN254 scalar field order.
      this.commitments.push(BigInt(`0x${randomBytes(31).toString('hex')}`).toString());
      if ((i - from) % 1000 === 999) bar.update(i - from + 1);
    }
    bar.update(size - from);
    bar.stop();
    progress(`generated ${size - from} templates in ${seconds(performance.now() - started)}`);
    started = performance.now();
    this.#group.addMembers(this.commitments.slice(from, size).map(BigInt));
    this.#roots.set(size, this.#group.root.toString());
    progress(`group root of ${size} members in ${seconds(performance.now() - started)}`);
  }

  root(size: number): string {
    const root = this.#roots.get(size);
    if (root === undefined) throw new Error(`no root computed for ${size} members`);
    return root;
  }

  /** The eye of gallery member i, as the device would capture it again. */
  recaptured(i: number): IrisCode {
    return recapture(syntheticEye(GALLERY_SEED + i), PROBE_SEED - 1 - i);
  }
}

/** The devices (development keys) and their CA, provisioned once and registered with every backend. */
class Fleet {
  private constructor(
    readonly ca: ManufacturerCa,
    readonly devices: { deviceId: string; keys: DeviceKeys; certificatePem: string }[],
  ) {}

  static async create(dir: string, count: number): Promise<Fleet> {
    progress(`provisioning ${count} devices`);
    const ca = await createManufacturerCa(join(dir, 'ca'));
    const devices: Fleet['devices'] = [];
    try {
      for (let i = 0; i < count; i++) {
        const deviceDir = join(dir, `device-${i}`);
        const { profile, certificate } = await provisionDevice({
          dir: deviceDir,
          token: { kind: 'development' },
          ca,
        });
        devices.push({
          deviceId: profile.deviceId,
          keys: await openDeviceKeys(deviceDir, profile),
          certificatePem: certificate.toString('pem'),
        });
      }
    } catch (error) {
      for (const device of devices) device.keys.close();
      throw error;
    }
    return new Fleet(ca, devices);
  }

  close(): void {
    for (const device of this.devices) device.keys.close();
  }
}

async function createDatabase(
  engine: Engine,
  workDir: string,
  adminUrl: string,
): Promise<{ location: DatabaseLocation; drop(): Promise<void> }> {
  if (engine === 'pglite') {
    const dir = await mkdtemp(join(workDir, 'pglite-'));
    return {
      location: { dataDir: join(dir, 'data') },
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const name = `irisgate_bench_${randomBytes(6).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    location: { url: url.toString() },
    drop: () => admin(`drop database if exists ${name} with (force)`),
  };
}

/** Seeds, opens the backend, prepares every signup, then times them over HTTP. */
async function measure(
  engine: Engine,
  size: number,
  location: DatabaseLocation,
  people: SyntheticPeople,
  fleet: Fleet,
  settings: Settings,
  workDir: string,
): Promise<Result> {
  const label = `${engine} ${size}`;
  const secretsDir = await mkdtemp(join(workDir, 'secrets-'));
  const cipher = TemplateCipher.load(join(secretsDir, TEMPLATE_KEY_FILE));

  progress(`${label}: creating and seeding the database`);
  const { createMs, seedMs } = await seed(location, cipher, people, size, label);
  progress(
    `${label}: database created in ${seconds(createMs)}, seeded ${size} members in ${seconds(seedMs)} ` +
      `(${Math.round((size * 1000) / seedMs)} members/s)`,
  );

  progress(`${label}: starting the backend`);
  const config = backendConfig({
    production: false,
    // Signups are built before the timed phase and sent over minutes: keep their nonces, tokens and
    // device times valid for the run.
    nonceTtlMs: HOUR_MS,
    tokenTtlMs: HOUR_MS,
    policy: { ...defaultSignupPolicy(SOFTWARE_VERSION), maxClockSkewMs: HOUR_MS },
    limits: { requestsPerMinute: 1_000_000, signupsPerDevicePerHour: 1_000_000 },
  });
  const loadBar = startProgress(`backend: ${label}: loading the gallery`, size);
  const started = performance.now();
  const backend = await openBackend({
    database: location,
    secretsDir,
    config,
    onLoadProgress: (templates) => loadBar.update(templates),
  });
  const startMs = performance.now() - started;
  loadBar.stop();
  progress(`${label}: backend started in ${seconds(startMs)}`);
  try {
    if (backend.services.index.size !== size || backend.services.group.size !== size) {
      throw new Error(
        `the backend loaded ${backend.services.index.size} templates and ` +
          `${backend.services.group.size} members, not ${size}`,
      );
    }
    const url = await backend.listen({ port: 0, host: '127.0.0.1' });
    const client = new Client(url);
    const adminToken =
      process.env.IRISGATE_ADMIN_TOKEN || readFileSync(join(secretsDir, ADMIN_TOKEN_FILE), 'utf8').trim();
    const devices = await enrolFleet(client, fleet, adminToken);

    const timedCount = settings.signups ?? (size <= 10_000 ? 200 : 60);
    progress(
      `${label}: building ${WARMUP_SIGNUPS + SEQUENTIAL_SIGNUPS + timedCount + DUPLICATE_SIGNUPS} ` +
        'signed signups',
    );
    let probe = 0;
    const newPerson = (): { side: EyeSide; template: IrisCode }[] => {
      const person = probe++;
      const left = { side: 'left' as const, template: syntheticEye(PROBE_SEED + 2 * person) };
      const right = { side: 'right' as const, template: syntheticEye(PROBE_SEED + 2 * person + 1) };
      return settings.eyes === 2 ? [left, right] : [person % 2 === 0 ? left : right];
    };
    // Built in the order they are sent, so every device's counters arrive increasing.
    const warmup = await prepare(client, devices, WARMUP_SIGNUPS, newPerson);
    const sequential = await prepare(client, devices, SEQUENTIAL_SIGNUPS, newPerson);
    const timed = await prepare(client, devices, timedCount, newPerson);
    const duplicateMembers = Array.from({ length: DUPLICATE_SIGNUPS }, (_, i) =>
      Math.floor(((i + 0.5) * size) / DUPLICATE_SIGNUPS),
    );
    let duplicate = 0;
    const duplicates = await prepare(client, devices, DUPLICATE_SIGNUPS, () => {
      const member = duplicateMembers[duplicate++] as number;
      return [{ side: member % 2 === 0 ? 'left' : 'right', template: people.recaptured(member) }];
    });

    progress(`${label}: ${WARMUP_SIGNUPS} warm-up and ${SEQUENTIAL_SIGNUPS} signups one at a time`);
    const warm = await sendAll(client, warmup, 1);
    const one = await sendAll(client, sequential, 1);
    progress(`${label}: timed phase, ${timedCount} signups, ${settings.concurrency} in flight`);
    const loaded = await sendAll(client, timed, settings.concurrency);
    const loadAverage1m = loadavg()[0] as number;
    progress(`${label}: ${DUPLICATE_SIGNUPS} signups of enrolled people`);
    const dup = await sendAll(client, duplicates, 1);

    const failures: Record<string, number> = {};
    for (const answer of [...warm.answers, ...one.answers, ...loaded.answers]) {
      if (answer.status !== 200) failures[answer.outcome] = (failures[answer.outcome] ?? 0) + 1;
    }
    const refused = dup.answers.filter((a) => a.status === 409 && a.outcome.endsWith('duplicate_identity'));
    for (const answer of dup.answers) {
      if (!refused.includes(answer)) {
        const key = `duplicate answered ${answer.outcome}`;
        failures[key] = (failures[key] ?? 0) + 1;
      }
    }
    const p50 = (answers: Answer[], value: (a: Answer) => number) => percentile(answers.map(value), 0.5);
    const signupsPerSecond = (loaded.answers.length * 1000) / loaded.wallMs;
    const target = targetSignupsPerSecond(size);
    const outsideSearchP50Ms = p50(one.answers, (a) => a.latencyMs - a.searchMs);
    const serverOutsideSearchP50Ms = p50(one.answers, (a) => a.serverTotalMs - a.searchMs);
    const accepted = loaded.answers.filter((a) => a.status === 200).length;
    const result: Result = {
      engine,
      galleryTemplates: size,
      eyesPerSignup: settings.eyes,
      concurrency: settings.concurrency,
      createMs,
      seedMs,
      startMs,
      signups: loaded.answers.length,
      accepted,
      failures,
      signupsPerSecond,
      targetSignupsPerSecond: target,
      vsTarget: signupsPerSecond / target,
      latencyP50Ms: p50(loaded.answers, (a) => a.latencyMs),
      latencyP99Ms: percentile(
        loaded.answers.map((a) => a.latencyMs),
        0.99,
      ),
      searchP50Ms: p50(loaded.answers, (a) => a.searchMs),
      loadedOutsideSearchP50Ms: p50(loaded.answers, (a) => a.serverTotalMs - a.searchMs),
      outsideSearchP50Ms,
      serverOutsideSearchP50Ms,
      sequentialLatencyP50Ms: p50(one.answers, (a) => a.latencyMs),
      sequentialSearchP50Ms: p50(one.answers, (a) => a.searchMs),
      outsideVsBudget: serverOutsideSearchP50Ms / OUTSIDE_SEARCH_BUDGET_MS,
      duplicates: {
        signups: dup.answers.length,
        refused409: refused.length,
        latencyP50Ms: p50(dup.answers, (a) => a.latencyMs),
        searchP50Ms: p50(dup.answers, (a) => a.searchMs),
      },
      vsSmallestGallery: Number.NaN,
      loadAverage1m,
      pass:
        Object.keys(failures).length === 0 &&
        signupsPerSecond >= target &&
        serverOutsideSearchP50Ms <= OUTSIDE_SEARCH_BUDGET_MS,
    };
    progress(
      `${label}: ${signupsPerSecond.toFixed(1)} signups/s, p50 ${result.latencyP50Ms.toFixed(1)} ms, ` +
        `search p50 ${result.searchP50Ms.toFixed(1)} ms, ` +
        `outside the search p50 ${serverOutsideSearchP50Ms.toFixed(1)} ms in the backend, ` +
        `${outsideSearchP50Ms.toFixed(1)} ms end to end`,
    );
    return result;
  } finally {
    await backend.close();
  }
}

/** Members, their sealed templates and the current root, in multi-row inserts. */
async function seed(
  location: DatabaseLocation,
  cipher: TemplateCipher,
  people: SyntheticPeople,
  size: number,
  label: string,
): Promise<{ createMs: number; seedMs: number }> {
  let started = performance.now();
  const db = await openDatabase(location);
  try {
    await migrate(db);
    const createMs = performance.now() - started;
    started = performance.now();
    const now = Date.now();
    const bar = startProgress(`backend: ${label}: seeding`, size);
    for (let start = 0; start < size; start += ROWS_PER_TRANSACTION) {
      const end = Math.min(size, start + ROWS_PER_TRANSACTION);
      await db.transaction(async (sql) => {
        for (let from = start; from < end; from += ROWS_PER_STATEMENT) {
          const indices = Array.from(
            { length: Math.min(end, from + ROWS_PER_STATEMENT) - from },
            (_, i) => from + i,
          );
          await insertRows(
            sql,
            'semaphore_members',
            ['index', 'commitment', 'inserted_at_ms'],
            indices.map((i) => [i, people.commitments[i], now]),
          );
          await insertRows(
            sql,
            'enrolled_templates',
            ['member_index', 'side', 'iv', 'ciphertext'],
            indices.map((i) => {
              const side: EyeSide = i % 2 === 0 ? 'left' : 'right';
              const { iv, ciphertext } = sealTemplate(cipher, i, side, people.templates[i] as PackedIrisCode);
              return [i, side, iv, ciphertext];
            }),
          );
        }
      });
      bar.update(end);
    }
    bar.stop();
    // With its size, as the backend records a root (a root without one is replayed once at start).
    await db.query('insert into semaphore_roots (root, created_at_ms, size) values ($1, $2, $3)', [
      people.root(size),
      now,
      size,
    ]);
    return { createMs, seedMs: performance.now() - started };
  } finally {
    await db.close();
  }
}

/**
 * One multi-row INSERT with the values inlined as SQL literals (numbers, digit strings, fixed words and
 * bytea as '\\x..' hex, all generated here): PGlite takes bound bytea parameters several times slower.
 */
async function insertRows(sql: Sql, tableName: string, columns: string[], rows: unknown[][]): Promise<void> {
  const literal = (value: unknown): string => {
    if (value instanceof Uint8Array) return `'\\x${toHex(value)}'::bytea`;
    if (typeof value === 'number') return String(value);
    if (typeof value === 'string' && /^[0-9a-z_]+$/.test(value)) return `'${value}'`;
    throw new Error(`no literal for ${typeof value}`);
  };
  const tuples = rows.map((row) => `(${row.map(literal).join(', ')})`);
  await sql.exec(`insert into ${tableName} (${columns.join(', ')}) values ${tuples.join(', ')}`);
}

/** Plain HTTP to the listening backend (fetch, keep-alive). */
class Client {
  constructor(readonly baseUrl: string) {}

  async post(
    path: string,
    { token, body }: { token?: string; body?: string | object } = {},
  ): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { body: text };
    }
    return { status: response.status, json, headers: response.headers };
  }

  async expect(status: number, path: string, options?: { token?: string; body?: string | object }) {
    const reply = await this.post(path, options);
    if (reply.status !== status)
      throw new Error(`POST ${path}: ${reply.status} ${JSON.stringify(reply.json)}`);
    return reply.json;
  }
}

interface AuthenticatedDevice {
  device: TestDevice;
  token: string;
}

/** Trusts the fleet's CA, registers its devices and gets each a token, over HTTP. */
async function enrolFleet(client: Client, fleet: Fleet, adminToken: string): Promise<AuthenticatedDevice[]> {
  await client.expect(200, '/v1/admin/cas', {
    token: adminToken,
    body: { certificate: fleet.ca.cert.toString('pem') },
  });
  const devices: AuthenticatedDevice[] = [];
  for (const { deviceId, keys, certificatePem } of fleet.devices) {
    await client.expect(201, '/v1/admin/devices', {
      token: adminToken,
      body: { certificate: certificatePem },
    });
    const device = new TestDevice(deviceId, keys, certificatePem);
    const { audience, challenge, issuedAtMs } = (await client.expect(
      200,
      `/v1/devices/${deviceId}/challenge`,
    )) as {
      audience: string;
      challenge: string;
      issuedAtMs: number;
    };
    const signature = await keys.attestation.sign(
      deviceAuthSigningBytes({ audience, deviceId, challenge: fromHex(challenge), issuedAtMs }),
    );
    const { token } = (await client.expect(200, `/v1/devices/${deviceId}/token`, {
      body: { challenge, signature: toHex(signature) },
    })) as { token: string };
    devices.push({ device, token });
  }
  return devices;
}

interface PreparedSignup {
  /** Position of the device in the fleet: one device's signups are sent in the order they were built. */
  deviceSlot: number;
  token: string;
  body: string;
}

/** Signed signups, round robin over the devices, each with its own session nonce. */
async function prepare(
  client: Client,
  devices: AuthenticatedDevice[],
  count: number,
  eyes: () => { side: EyeSide; template: IrisCode }[],
): Promise<PreparedSignup[]> {
  const prepared: PreparedSignup[] = [];
  for (let i = 0; i < count; i++) {
    const deviceSlot = i % devices.length;
    const { device, token } = devices[deviceSlot] as AuthenticatedDevice;
    const { nonce } = (await client.expect(200, '/v1/sessions', { token })) as { nonce: string };
    const body = await device.signup(fromHex(nonce), eyes());
    prepared.push({ deviceSlot, token, body: JSON.stringify(body) });
  }
  return prepared;
}

interface Answer {
  status: number;
  /** "200 accepted" or "<status> <code>". */
  outcome: string;
  latencyMs: number;
  searchMs: number;
  serverTotalMs: number;
}

/**
 * Sends the signups with `concurrency` in flight: one worker per device slot when concurrency is the
 * number of devices (each device's signups in order), or all in order when it is 1.
 */
async function sendAll(
  client: Client,
  signups: PreparedSignup[],
  concurrency: number,
): Promise<{ answers: Answer[]; wallMs: number }> {
  const lanes = new Map<number, PreparedSignup[]>();
  for (const signup of signups) {
    const lane = concurrency === 1 ? 0 : signup.deviceSlot % concurrency;
    lanes.set(lane, [...(lanes.get(lane) ?? []), signup]);
  }
  const answers: Answer[] = [];
  const started = performance.now();
  await Promise.all(
    [...lanes.values()].map(async (lane) => {
      for (const signup of lane) answers.push(await send(client, signup));
    }),
  );
  return { answers, wallMs: performance.now() - started };
}

async function send(client: Client, signup: PreparedSignup): Promise<Answer> {
  const started = performance.now();
  try {
    const { status, json, headers } = await client.post('/v1/signups', {
      token: signup.token,
      body: signup.body,
    });
    const latencyMs = performance.now() - started;
    const timing = parseServerTiming(headers.get('server-timing'));
    return {
      status,
      outcome: status === 200 ? '200 accepted' : `${status} ${String(json.code ?? 'no code')}`,
      latencyMs,
      searchMs: timing.search ?? Number.NaN,
      serverTotalMs: timing.total ?? Number.NaN,
    };
  } catch (error) {
    return {
      status: 0,
      outcome: `network error ${(error as Error).message}`,
      latencyMs: performance.now() - started,
      searchMs: Number.NaN,
      serverTotalMs: Number.NaN,
    };
  }
}

/** `search;dur=1.23, total;dur=4.56` -> { search: 1.23, total: 4.56 }. */
function parseServerTiming(header: string | null): Record<string, number> {
  const timings: Record<string, number> = {};
  for (const metric of (header ?? '').split(',')) {
    const [name, ...params] = metric.trim().split(';');
    const duration = params.map((p) => p.trim()).find((p) => p.startsWith('dur='));
    if (name && duration) timings[name] = Number(duration.slice('dur='.length));
  }
  return timings;
}

function skipped(engine: Engine, size: number, settings: Settings, reason: string): Result {
  return {
    engine,
    galleryTemplates: size,
    skipped: reason,
    eyesPerSignup: settings.eyes,
    concurrency: settings.concurrency,
    createMs: Number.NaN,
    seedMs: Number.NaN,
    startMs: Number.NaN,
    signups: 0,
    accepted: 0,
    failures: {},
    signupsPerSecond: Number.NaN,
    targetSignupsPerSecond: targetSignupsPerSecond(size),
    vsTarget: Number.NaN,
    latencyP50Ms: Number.NaN,
    latencyP99Ms: Number.NaN,
    searchP50Ms: Number.NaN,
    loadedOutsideSearchP50Ms: Number.NaN,
    outsideSearchP50Ms: Number.NaN,
    serverOutsideSearchP50Ms: Number.NaN,
    sequentialLatencyP50Ms: Number.NaN,
    sequentialSearchP50Ms: Number.NaN,
    outsideVsBudget: Number.NaN,
    duplicates: { signups: 0, refused409: 0, latencyP50Ms: Number.NaN, searchP50Ms: Number.NaN },
    vsSmallestGallery: Number.NaN,
    loadAverage1m: Number.NaN,
    pass: false,
  };
}

function compareWithSmallest(results: Result[]): Result[] {
  return results.map((result) => {
    const baseline = results
      .filter((other) => other.engine === result.engine && !other.skipped)
      .sort((a, b) => a.galleryTemplates - b.galleryTemplates)[0];
    return {
      ...result,
      vsSmallestGallery: result.signupsPerSecond / (baseline?.signupsPerSecond ?? Number.NaN),
    };
  });
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

const measured = (cell: (r: Result) => string) => (r: Result) => (r.skipped ? '-' : cell(r));
const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);

const COLUMNS: Column<Result>[] = [
  { title: 'engine', width: 8, alignLeft: true, cell: (r) => r.engine },
  { title: 'gallery', width: 7, cell: (r) => String(r.galleryTemplates) },
  { title: 'signups/s', width: 9, cell: measured((r) => r.signupsPerSecond.toFixed(1)) },
  { title: 'target', width: 6, cell: (r) => r.targetSignupsPerSecond.toPrecision(2) },
  { title: 'vs target', width: 9, cell: measured((r) => `${r.vsTarget.toPrecision(3)}x`) },
  { title: 'vs smallest', width: 11, cell: measured((r) => `${r.vsSmallestGallery.toPrecision(3)}x`) },
  { title: 'p50 ms', width: 7, cell: measured((r) => ms(r.latencyP50Ms)) },
  { title: 'p99 ms', width: 7, cell: measured((r) => ms(r.latencyP99Ms)) },
  { title: 'search p50', width: 10, cell: measured((r) => ms(r.searchP50Ms)) },
  { title: 'out e2e', width: 7, cell: measured((r) => ms(r.outsideSearchP50Ms)) },
  { title: 'out srv', width: 7, cell: measured((r) => ms(r.serverOutsideSearchP50Ms)) },
  { title: 'vs 20 ms', width: 8, cell: measured((r) => `${r.outsideVsBudget.toPrecision(2)}x`) },
  { title: 'dup p50', width: 7, cell: measured((r) => ms(r.duplicates.latencyP50Ms)) },
  { title: 'start s', width: 7, cell: measured((r) => (r.startMs / 1000).toFixed(1)) },
  { title: 'seed s', width: 6, cell: measured((r) => (r.seedMs / 1000).toFixed(1)) },
  { title: 'load', width: 4, cell: measured((r) => r.loadAverage1m.toFixed(1)) },
  {
    title: 'result',
    width: 7,
    alignLeft: true,
    cell: (r) => (r.skipped ? 'skipped' : r.pass ? 'pass' : 'FAIL'),
  },
];

function progress(message: string): void {
  console.error(`backend: ${message}`);
}
