/**
 * The demo (`npm run demo [-- --json] [-- --people N]`): enrolment end to end on one machine, over HTTP on
 * the loopback interface only (it runs with the network cut off).
 *
 * 1. An embedded backend: PGlite in a temporary folder, listening on 127.0.0.1.
 * 2. A device: its keys on a SoftHSM token when SoftHSM is installed (the backend then runs in production
 *    mode with a factory CA), else on the development signer (the backend then runs in development mode,
 *    and the demo says so). A manufacturer CA certifies it; the operator registers it with the backend.
 * 3. The device agent on the synthetic camera (no camera hardware here; iris/synth renders the eyes):
 *    N people (default 5) each show their wallet's identity QR code, then their eye while the agent plays
 *    the IR stimulus; each signup is signed, queued durably and delivered. Then the first person comes
 *    back with a new wallet identity and is refused as a duplicate.
 * 4. Person 1's wallet proves uniqueness to an app for an action that allows one use (Semaphore, offline,
 *    with the backend's inclusion proof and signed root statement); the app verifies it through the
 *    backend's POST /v1/verify/:appId; a second proof for the same action is refused.
 *
 * `--json` prints progress to stderr and ends stdout with one line:
 *   {"enrolled": N, "duplicatesRejected": M, "failedCaptures": K, "signer": ..., "backendMode": ...,
 *    "proof": {"verified": true, "secondUse": "max_verifications_reached", "proveMs": ...}, ...}
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Identity } from '@semaphore-protocol/core';
import { ADMIN_TOKEN_FILE } from '../backend/backend-secrets.ts';
import { backendConfig, openBackend } from '../backend/service.ts';
import { type DeviceAgent, openDeviceAgent } from '../device/agent.ts';
import { loadAgentConfig } from '../device/agent-config.ts';
import { SyntheticCamera } from '../device/camera/synthetic-camera.ts';
import { syntheticVisit } from '../device/synthetic-visit.ts';
import { startHsmFixture, stopHsmFixture } from '../hsm/fixture/fixture.ts';
import { createManufacturerCa } from '../hsm/manufacturer-ca.ts';
import { defaultModulePath } from '../hsm/pkcs11-modules.ts';
import { type DeviceTokenConfig, provisionDevice } from '../hsm/provisioning.ts';
import { identityOf, sessionOf } from '../iris/synth/generate.ts';
import { backendRequest } from '../protocol/backend-http.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { createUniquenessProof, fetchBackendInfo, fetchInclusionProof, releaseProver } from '../sdk/index.ts';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    people: { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write(
    'usage: npm run demo [-- --json] [-- --people N]\n  enrols N synthetic people (default 5) through the device agent into an embedded backend,\n  shows the first coming back refused as a duplicate, then proving uniqueness to an app once\n',
  );
  process.exit(0);
}
const people = Number(args.people);
if (!Number.isInteger(people) || people < 1 || people > 50) {
  process.stderr.write('--people must be an integer in [1, 50]\n');
  process.exit(2);
}
const out = args.json ? process.stderr : process.stdout;
const step = (text: string) => out.write(`\n== ${text}\n`);
const t0 = performance.now();
const info = (text: string) => out.write(`   [${((performance.now() - t0) / 1000).toFixed(1)}] ${text}\n`);
/** The synthetic people of the demo (iris/synth, this seed); a retry uses the person's next session. */
const SEED = 'irisgate-demo';
const ATTEMPTS = 3;

function softHsmInstalled(): boolean {
  try {
    defaultModulePath('softhsm');
    execFileSync('softhsm2-util', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Tally {
  enrolled: number;
  duplicatesRejected: number;
  failedCaptures: number;
  otherRejections: number;
  lastFrameToQueuedMs: number[];
}

/** One person at the device: the QR code, then the eye; retried with a new capture on a capture failure. */
async function visit(
  agent: DeviceAgent,
  camera: SyntheticCamera,
  person: number,
  label: string,
  tally: Tally,
): Promise<{ outcome: 'enrolled' | 'duplicate' | 'failed' | 'rejected'; wallet?: Identity }> {
  const identity = identityOf(SEED, person);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const wallet = new Identity();
    const session = sessionOf(SEED, identity, label === 'returning' ? 10 + attempt : attempt);
    let shown = -1;
    const eye = { identity, session, label: 'live' as const, seed: `${SEED}/${person}` };
    const result = await syntheticVisit(agent, camera, { commitment: wallet.commitment, eye }, (event) => {
      if (event.frames) {
        const { captured, elapsedMs, captureMs } = event.frames;
        const second = Math.floor(elapsedMs / 1000);
        if (second !== shown) {
          shown = second;
          info(`   capturing: ${captured} frames, ${(elapsedMs / 1000).toFixed(1)} of ${captureMs / 1000} s`);
        }
      } else info(`${event.state}${event.detail ? `: ${event.detail}` : ''}`);
    });
    if (!result.ok) {
      tally.failedCaptures++;
      info(`capture failed in ${result.state} [${result.code}]: ${result.message}; the person tries again`);
      continue;
    }
    tally.lastFrameToQueuedMs.push(result.lastFrameToQueuedMs);
    info(
      `signed signup queued ${result.lastFrameToQueuedMs.toFixed(0)} ms after the last frame (${Object.entries(
        result.afterLastFrameMs,
      )
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', ')}; liveness ${result.liveness.toFixed(2)})`,
    );
    const outcome = await agent.outcome(result.digest);
    if (outcome.state === 'delivered') {
      info('backend: ACCEPTED, commitment added to the Semaphore group');
      return { outcome: 'enrolled', wallet };
    }
    info(`backend: REFUSED [${outcome.record.code}]: ${outcome.record.message}`);
    return { outcome: outcome.record.code === 'duplicate_identity' ? 'duplicate' : 'rejected' };
  }
  return { outcome: 'failed' };
}

interface ProofTally {
  appId: string;
  action: string;
  proveMs: number;
  verified: boolean;
  uses: number;
  secondUse: string;
}

/**
 * The app's side: an action opened for one use; the person's wallet fetches its inclusion proof and the
 * backend's signed root statement, proves offline, and the app verifies through POST /v1/verify/:appId.
 * Then the same person proves again for the same action (another signal, the same nullifier): refused.
 */
async function proveUniqueness(
  url: string,
  admin: (path: string, body: unknown) => Promise<void>,
  wallet: Identity,
): Promise<ProofTally> {
  const appId = 'app_irisgate_demo';
  const action = 'vote-2026';
  await admin(`/v1/admin/apps/${appId}/actions`, {
    action,
    maxVerifications: 1,
    description: 'the demo vote',
  });
  info(`app ${appId}: action "${action}" opened, one use per person`);
  const { publicKey } = (await fetchBackendInfo(url)).receiptKey;
  const { inclusion, rootStatement } = await fetchInclusionProof(url, wallet.commitment, {
    backendPublicKey: publicKey,
  });
  info(
    `wallet: inclusion proof at leaf ${inclusion.index}, root statement signed by the backend (size ${rootStatement.size})`,
  );
  const verify = async (signal: string) => {
    const started = performance.now();
    const proof = await createUniquenessProof({ identity: wallet, inclusion, appId, action, signal });
    const proveMs = performance.now() - started;
    info(
      `wallet: proof for "${action}" with signal "${signal}" made in ${proveMs.toFixed(0)} ms (Groth16, depth 20)`,
    );
    const reply = await fetch(`${url}/v1/verify/${appId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ proof, action, signal }),
    });
    return { proveMs, status: reply.status, body: (await reply.json()) as Record<string, unknown> };
  };
  const first = await verify('yes');
  info(
    first.status === 200
      ? `app: VERIFIED, a unique person, use ${first.body.uses} of ${first.body.maxUses} (nullifier ${String(first.body.nullifier).slice(0, 12)}...)`
      : `app: REFUSED [${first.body.code}]: ${first.body.message}`,
  );
  const second = await verify('no, I changed my mind');
  info(
    second.status === 200
      ? 'app: VERIFIED AGAIN (this should not happen)'
      : `app: REFUSED [${second.body.code}]: ${second.body.message}`,
  );
  return {
    appId,
    action,
    proveMs: Math.round(first.proveMs),
    verified: first.status === 200,
    uses: Number(first.body.uses ?? 0),
    secondUse: String(second.body.code ?? 'verified'),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'irisgate-demo-'));
  const cleanups: (() => Promise<void>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  const tally: Tally = {
    enrolled: 0,
    duplicatesRejected: 0,
    failedCaptures: 0,
    otherRejections: 0,
    lastFrameToQueuedMs: [],
  };
  try {
    const useSoftHsm = softHsmInstalled();
    step(
      useSoftHsm ? 'trusted hardware: a SoftHSM token' : 'NO SoftHSM: the DEVELOPMENT signer (keys in files)',
    );
    let token: DeviceTokenConfig = { kind: 'development' };
    let pin: string | undefined;
    if (useSoftHsm) {
      const fixture = await startHsmFixture(join(dir, 'hsm'));
      cleanups.push(() => stopHsmFixture(fixture.dir));
      token = fixture.softhsm;
      pin = fixture.softhsm.pin;
      info(`token "${fixture.softhsm.tokenLabel}" ready`);
    } else {
      info('install softhsm2 (scripts/system-deps.sh) to keep the device keys in a token');
    }
    const production = useSoftHsm;

    step(`embedded backend (PGlite, ${production ? 'production' : 'DEVELOPMENT'} mode)`);
    const backend = await openBackend({
      database: { dataDir: join(dir, 'db') },
      secretsDir: join(dir, 'backend-secrets'),
      config: backendConfig({ production }),
    });
    cleanups.push(() => backend.close());
    const url = await backend.listen({ port: 0, host: '127.0.0.1' });
    info(`listening on ${url}${production ? '' : ': development mode accepts development CAs and keys'}`);
    const adminToken = readFileSync(join(dir, 'backend-secrets', ADMIN_TOKEN_FILE), 'utf8').trim();
    const admin = async (path: string, body: unknown) => {
      await backendRequest('POST', `${url}${path}`, { token: adminToken, body });
    };

    step('manufacturer CA and device provisioning');
    const ca = await createManufacturerCa(join(dir, 'ca'), {
      name: production ? 'Irisgate Demo Factory CA' : 'Irisgate Development Manufacturer CA',
      development: !production,
    });
    const deviceDir = join(dir, 'device');
    const { profile, certificate } = await provisionDevice({ dir: deviceDir, token, pin, ca });
    await admin('/v1/admin/cas', { certificate: ca.cert.toString('pem') });
    await admin('/v1/admin/devices', { certificate: certificate.toString('pem') });
    info(
      `device ${profile.deviceId} provisioned (${profile.keys.irisCode.algorithm} iris-code key) and registered`,
    );

    step('device agent');
    const camera = new SyntheticCamera({ fps: 10, renderThreads: 1 });
    if (pin) process.env.IRISGATE_HSM_PIN = pin;
    const agent = await openDeviceAgent(
      loadAgentConfig(undefined, { backendUrl: url, deviceDir, stateDir: join(dir, 'device-state') }),
      { camera },
    );
    cleanups.push(() => agent.close());
    agent.startSending((event) => {
      if (event.type === 'retry') info(`outbox: retry in ${event.delayMs} ms (${event.reason})`);
    });
    info(`camera: ${camera.description}`);
    info(
      `measured ${agent.software.files.length} software and model files; PCR 16 ${agent.pcr16Extended ? 'extended' : 'not extended (no TPM)'}`,
    );

    let firstWallet: Identity | undefined;
    for (let person = 1; person <= people; person++) {
      step(`person ${person} of ${people}: enrolment`);
      const { outcome, wallet } = await visit(agent, camera, person, 'new', tally);
      if (person === 1) firstWallet = wallet;
      if (outcome === 'enrolled') tally.enrolled++;
      else if (outcome === 'duplicate') tally.duplicatesRejected++;
      else if (outcome === 'rejected') tally.otherRejections++;
    }
    step('person 1 comes back with a new wallet identity');
    const { outcome: again } = await visit(agent, camera, 1, 'returning', tally);
    if (again === 'duplicate') tally.duplicatesRejected++;
    else if (again === 'enrolled') tally.enrolled++;
    else if (again === 'rejected') tally.otherRejections++;

    step('person 1 proves to an app, in zero knowledge, that they are a unique human, once');
    cleanups.push(releaseProver);
    const proof = firstWallet ? await proveUniqueness(url, admin, firstWallet) : undefined;

    step('done');
    const sorted = [...tally.lastFrameToQueuedMs].sort((a, b) => a - b);
    const summary = {
      enrolled: tally.enrolled,
      duplicatesRejected: tally.duplicatesRejected,
      failedCaptures: tally.failedCaptures,
      otherRejections: tally.otherRejections,
      people,
      signer: useSoftHsm ? 'softhsm' : 'development',
      backendMode: production ? 'production' : 'development',
      groupSize: ((await backendRequest('GET', `${url}/v1/group/root`)) as { size: number }).size,
      proof,
      medianLastFrameToQueuedMs: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
      elapsedSeconds: Math.round((performance.now() - started) / 1000),
    };
    info(
      `${summary.enrolled} enrolled, ${summary.duplicatesRejected} refused as duplicates, ${summary.failedCaptures} captures retried; group size ${summary.groupSize}; ${summary.elapsedSeconds} s`,
    );
    if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    const proved = proof?.verified === true && proof.secondUse === 'max_verifications_reached';
    if (summary.enrolled !== people || summary.duplicatesRejected !== 1 || !proved) process.exitCode = 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}

main().catch((error: unknown) => {
  const known = error instanceof IrisgateError ? `[${error.code}] ` : '';
  process.stderr.write(`demo failed: ${known}${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
