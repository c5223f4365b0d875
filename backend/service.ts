/**
 * A whole backend in one process: the database (PGlite on a folder, or a PostgreSQL server), its
 * secrets, the device directory, the Semaphore group, the uniqueness index, the uniqueness-proof verifier
 * and the HTTP app over them. `irisgate backend serve`, the demo and the tests all start it through
 * openBackend.
 */
import { availableParallelism } from 'node:os';
import { SHIPPED_DEPTHS, semaphoreArtifacts } from '../circuits/artifacts.ts';
import { BatchingVerifier, ThreadedBatchVerifier } from '../circuits/batching-verifier.ts';
import { Groth16Verifier } from '../circuits/groth16-verifier.ts';
import { DEFAULT_MATCH_THRESHOLD } from '../iris/matcher.ts';
import { SOFTWARE_VERSION } from '../protocol/software-version.ts';
import type { NullifierStore } from '../protocol/uniqueness-proof.ts';
import { type BackendSecrets, loadBackendSecrets } from './backend-secrets.ts';
import { DEFAULT_CHALLENGE_TTL_MS, DEFAULT_TOKEN_TTL_MS, DeviceTokens } from './device-auth.ts';
import { DeviceBudget } from './device-budget.ts';
import { DeviceDirectory } from './device-directory.ts';
import { type App, buildApp } from './http/app.ts';
import { BackendMetrics } from './metrics.ts';
import { DEFAULT_ROOT_EXPIRY_MS, DEFAULT_TREE_DEPTH, SemaphoreGroupStore } from './semaphore-group.ts';
import { DEFAULT_NONCE_TTL_MS } from './session-nonces.ts';
import { SignupGate } from './signup-gate.ts';
import { defaultSignupPolicy, type SignupPolicy } from './signup-policy.ts';
import { type Database, type DatabaseLocation, openDatabase } from './storage/database.ts';
import { migrate } from './storage/migrations.ts';
import type { Pkcs11TemplateKeyConfig } from './template-key.ts';
import { UniquenessIndex } from './uniqueness-index.ts';
import { VerifyActions, verifyNullifiers } from './verify-actions.ts';

export interface BackendConfig {
  /** This backend's name: devices sign it into their authentication answers. */
  audience: string;
  /** Production refuses development CAs and development-signer devices. */
  production: boolean;
  softwareVersion: string;
  treeDepth: number;
  rootExpiryMs: number;
  /** Raw fractional Hamming distance (31 rotations) under which two eyes are the same. */
  matchThreshold: number;
  /** Worker threads the uniqueness search is split across (default: one per core). */
  searchThreads: number;
  /**
   * Worker threads that verify uniqueness proofs (default: one per core); 0 verifies them in the event
   * loop's thread.
   */
  verifyThreads: number;
  nonceTtlMs: number;
  challengeTtlMs: number;
  tokenTtlMs: number;
  policy: SignupPolicy;
  limits: {
    /** Largest request body, except on POST /v1/signups. */
    bodyBytes: number;
    /** Largest body of POST /v1/signups: the envelope plus up to 4 PNG frames of evidence, in base64. */
    signupBodyBytes: number;
    /** Requests per minute per device (authenticated) or per address. */
    requestsPerMinute: number;
    /** Requests per minute per address on POST /v1/verify/:appId (apps' servers verify at volume). */
    verifyRequestsPerMinute: number;
    signupsPerDevicePerHour: number;
  };
}

/** Overrides of the defaults; `limits` are merged one by one (a test raising one keeps the others). */
export type BackendConfigOverrides = Partial<Omit<BackendConfig, 'limits'>> & {
  production: boolean;
  limits?: Partial<BackendConfig['limits']>;
};

export function backendConfig({ limits, ...overrides }: BackendConfigOverrides): BackendConfig {
  return {
    audience: 'irisgate-backend',
    softwareVersion: SOFTWARE_VERSION,
    treeDepth: DEFAULT_TREE_DEPTH,
    rootExpiryMs: DEFAULT_ROOT_EXPIRY_MS,
    matchThreshold: DEFAULT_MATCH_THRESHOLD,
    searchThreads: availableParallelism(),
    verifyThreads: availableParallelism(),
    nonceTtlMs: DEFAULT_NONCE_TTL_MS,
    challengeTtlMs: DEFAULT_CHALLENGE_TTL_MS,
    tokenTtlMs: DEFAULT_TOKEN_TTL_MS,
    policy: defaultSignupPolicy(SOFTWARE_VERSION),
    ...overrides,
    limits: {
      bodyBytes: 256 * 1024,
      signupBodyBytes: 2 * 1024 * 1024,
      requestsPerMinute: 600,
      verifyRequestsPerMinute: 6000,
      signupsPerDevicePerHour: 240,
      ...limits,
    },
  };
}

export interface BackendServices {
  config: BackendConfig;
  db: Database;
  secrets: BackendSecrets;
  devices: DeviceDirectory;
  group: SemaphoreGroupStore;
  index: UniquenessIndex;
  gate: SignupGate;
  tokens: DeviceTokens;
  budget: DeviceBudget;
  metrics: BackendMetrics;
  /** Uniqueness-proof verification (POST /v1/verify/:appId): the apps' actions and spent nullifiers. */
  actions: VerifyActions;
  nullifiers: NullifierStore;
  /** The Groth16 verifier of the shipped key, batching concurrent requests, and the tree depths it has. */
  proofs: { verifier: BatchingVerifier; depths: readonly number[] };
  clock: () => number;
}

export interface Backend {
  app: App;
  services: BackendServices;
  /** Starts listening; resolves to the base URL. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /** Stops listening and closes the database; a second call waits for the first. */
  close(): Promise<void>;
}

export interface OpenBackendOptions {
  database: DatabaseLocation;
  /** Folder of the backend's key files (receipt key, template key, admin token). */
  secretsDir: string;
  /** Keep the template key under this PKCS#11 token's AES key instead of in a plain key file. */
  templateKeyToken?: Pkcs11TemplateKeyConfig;
  config: BackendConfig;
  logger?: boolean | object;
  clock?: () => number;
  /** Called while the uniqueness index loads, with the templates loaded so far and their total. */
  onLoadProgress?: (loaded: number, total: number) => void;
}

export async function openBackend(options: OpenBackendOptions): Promise<Backend> {
  const { config } = options;
  const clock = options.clock ?? Date.now;
  const secrets = await loadBackendSecrets(options.secretsDir, {
    templateKeyToken: options.templateKeyToken,
  });
  // Checks the shipped artifacts against their manifest: a backend with a tampered key does not start.
  await semaphoreArtifacts();
  const threaded = config.verifyThreads > 0 ? new ThreadedBatchVerifier(config.verifyThreads) : undefined;
  const proofs = {
    verifier: new BatchingVerifier(threaded ?? (await Groth16Verifier.open())),
    depths: SHIPPED_DEPTHS,
  };
  const db = await openDatabase(options.database);
  let index: UniquenessIndex | undefined;
  try {
    await migrate(db);
    const group = await SemaphoreGroupStore.open(db, {
      depth: config.treeDepth,
      rootExpiryMs: config.rootExpiryMs,
    });
    index = await UniquenessIndex.load(db, secrets.templateCipher, {
      threshold: config.matchThreshold,
      searchThreads: config.searchThreads,
      onProgress: options.onLoadProgress,
    });
    const devices = await DeviceDirectory.open(db, { production: config.production });
    const services: BackendServices = {
      config,
      db,
      secrets,
      devices,
      group,
      index,
      gate: new SignupGate({
        db,
        group,
        index,
        policy: config.policy,
        receiptSigner: secrets.receiptSigner,
        clock,
      }),
      tokens: new DeviceTokens(config.tokenTtlMs),
      budget: new DeviceBudget(config.limits.signupsPerDevicePerHour),
      metrics: new BackendMetrics({
        members: () => group.size,
        enrolledEyes: () => services.index.size,
        proofBatches: () => proofs.verifier.stats,
      }),
      actions: new VerifyActions(db),
      nullifiers: verifyNullifiers(db),
      proofs,
      clock,
    };
    const app = await buildApp(services, options.logger ?? false);
    let closed: Promise<void> | undefined;
    return {
      app,
      services,
      listen: ({ port = 8620, host = '127.0.0.1' } = {}) => app.listen({ port, host }),
      close() {
        closed ??= (async () => {
          await app.close();
          await services.index.close();
          await threaded?.close();
          await db.close();
        })();
        return closed;
      },
    };
  } catch (error) {
    await index?.close();
    await threaded?.close();
    await db.close();
    throw error;
  }
}
