/**
 * `irisgate device`: the agent an operator runs on the capture device.
 *
 *   irisgate device run [--config FILE] [--backend URL] [--camera SPEC] [--json]
 *   irisgate device enroll --dir DIR [--config FILE] [--backend URL] [--json]
 *   irisgate device status [--config FILE] [--json]
 *
 * `run` serves people one after the other: it waits for a wallet's identity QR code in front of the camera,
 * captures, queues the signed signup and shows the backend's answer when the outbox has it, with a live
 * status line on a terminal (log lines elsewhere; JSON lines with --json). SIGINT/SIGTERM stop it: at
 * once while it waits for a QR code, after queueing the signup when a capture is under way. A camera that
 * keeps failing is retried with backoff, then `run` exits 1 for its supervisor (systemd) to restart it. `enroll` enrols every person of a synthetic set folder (`irisgate iris
 * synth`): each is rendered live under the stimulus by the synthetic camera, with a wallet identity kept in
 * DIR/wallets/. `status` reads the device profile, the outbox and the backend's readiness without
 * disturbing a running agent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Identity } from '@semaphore-protocol/core';
import { Command, InvalidArgumentError } from 'commander';
import { loadDeviceProfile } from '../hsm/provisioning.ts';
import { startProgress } from '../iris/progress.ts';
import { identityOf, type SyntheticManifest, sessionOf } from '../iris/synth/generate.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { createIdentityFile, readIdentityFile } from '../protocol/identity-file.ts';
import { type DeviceAgent, OUTBOX_DIR, openDeviceAgent } from './agent.ts';
import { type AgentConfig, loadAgentConfig } from './agent-config.ts';
import { backendReady } from './backend-client.ts';
import { SyntheticCamera } from './camera/synthetic-camera.ts';
import type { SessionEvent } from './capture-session.ts';
import { Outbox, type OutboxEvent } from './outbox.ts';
import { syntheticVisit } from './synthetic-visit.ts';

/** Consecutive camera failures after which `run` exits (1) and leaves restarting to its supervisor. */
const CAMERA_FAILURES_BEFORE_EXIT = 8;

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/** A commander option parser for an integer >= min (a usage error otherwise). */
function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

interface CommonOptions {
  config?: string;
  backend?: string;
  camera?: string;
  json: boolean;
}

function configFrom(options: CommonOptions): AgentConfig {
  return loadAgentConfig(options.config, {
    ...(options.backend ? { backendUrl: options.backend } : {}),
    ...(options.camera ? { camera: options.camera } : {}),
  });
}

function withCommonOptions(command: Command): Command {
  return command
    .option('--config <file>', 'agent configuration (JSON; see device/README.md for every field and default)')
    .option('--backend <url>', "the backend's base URL (overrides the configuration)")
    .option('--json', 'JSON lines on stdout', false);
}

/** One line per event: JSON under --json, words otherwise; a live status line on a terminal. */
function statusDisplay(json: boolean) {
  const live = process.stderr.isTTY && !json;
  let status = '';
  const outbox = { pending: 0, delivered: 0, rejected: 0 };
  const redraw = () => {
    if (live)
      process.stderr.write(
        `\r\x1b[2K${status} | outbox ${outbox.pending} pending, ${outbox.delivered} delivered, ${outbox.rejected} refused`,
      );
  };
  const log = (fields: Record<string, unknown>, words: string) => {
    if (json) process.stdout.write(`${JSON.stringify({ atMs: Date.now(), ...fields })}\n`);
    else {
      if (live) process.stderr.write('\r\x1b[2K');
      process.stdout.write(`${new Date().toISOString()} ${words}\n`);
      redraw();
    }
  };
  return {
    log,
    counts(counts: typeof outbox) {
      Object.assign(outbox, counts);
      redraw();
    },
    session(event: SessionEvent) {
      if (event.frames) {
        status = `capturing ${event.frames.captured} frames, ${(event.frames.elapsedMs / 1000).toFixed(1)}/${event.frames.captureMs / 1000} s`;
        redraw();
        return;
      }
      status = event.state.replace('_', ' ');
      // A failure is logged once, by the caller, which knows whether it is worth a line.
      if (event.state !== 'reading_identity' && event.state !== 'failed') {
        log(
          { event: 'session', state: event.state, detail: event.detail },
          `${event.state}${event.detail ? `: ${event.detail}` : ''}`,
        );
      } else redraw();
    },
    outbox(event: OutboxEvent) {
      if (event.type === 'delivered')
        log({ event: 'outbox', ...event }, `signup ${event.id.slice(0, 12)}… ACCEPTED by the backend`);
      else if (event.type === 'rejected') {
        log(
          { event: 'outbox', ...event },
          `signup ${event.id.slice(0, 12)}… REFUSED [${event.code}]: ${event.reason}`,
        );
      } else if (event.type === 'retry') {
        log(
          { event: 'outbox', ...event },
          `backend unavailable, retrying in ${(event.delayMs / 1000).toFixed(1)} s (${event.reason})`,
        );
      } else if (event.type !== 'attempt')
        log({ event: 'outbox', ...event }, `outbox ${event.type}: ${event.reason}`);
    },
    end: () => live && process.stderr.write('\n'),
  };
}

async function refreshCounts(agent: DeviceAgent, display: ReturnType<typeof statusDisplay>): Promise<void> {
  const { pending, delivered, rejected } = await agent.outbox.counts();
  display.counts({ pending, delivered, rejected });
}

async function run(options: CommonOptions): Promise<void> {
  const config = configFrom(options);
  const display = statusDisplay(options.json);
  const agent = await openDeviceAgent(config);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    display.log(
      {
        event: 'started',
        deviceId: agent.context.deviceId,
        camera: agent.context.camera.description,
        led: agent.context.led.description,
        backend: config.backendUrl,
        pcr16Extended: agent.pcr16Extended,
        files: agent.software.files.length,
      },
      `device ${agent.context.deviceId} on ${agent.context.camera.description}, LED ${agent.context.led.description}, backend ${config.backendUrl}; ${agent.software.files.length} files measured${agent.pcr16Extended ? ', PCR 16 extended' : ''}`,
    );
    agent.startSending((event) => {
      display.outbox(event);
      void refreshCounts(agent, display);
    });
    await refreshCounts(agent, display);
    let cameraFailures = 0;
    while (!stop.signal.aborted) {
      const result = await agent.capture({ onEvent: (e) => display.session(e), signal: stop.signal });
      cameraFailures = !result.ok && result.code === 'camera_unavailable' ? cameraFailures + 1 : 0;
      // Stopping (Ctrl-C also reaches ffmpeg, which then fails the camera) is not a failure worth a line.
      if (
        !result.ok &&
        (stop.signal.aborted || result.code === 'identity_qr_not_found' || result.code === 'cancelled')
      ) {
        continue;
      }
      if (!result.ok) {
        display.log(
          { event: 'failed', ...result },
          `session failed in ${result.state} [${result.code}]: ${result.message}`,
        );
        if (cameraFailures >= CAMERA_FAILURES_BEFORE_EXIT) {
          throw new IrisgateError(
            'camera_unavailable',
            `the camera failed ${cameraFailures} times in a row: ${result.message}`,
          );
        }
        // A camera that fails at once would otherwise spin: wait 1, 2, 4 ... 30 s before trying again.
        if (cameraFailures > 0) {
          await abortableSleep(Math.min(30_000, 1000 * 2 ** (cameraFailures - 1)), stop.signal);
        }
        continue;
      }
      display.log(
        { event: 'queued', digest: result.digest, lastFrameToQueuedMs: result.lastFrameToQueuedMs },
        `signup ${result.digest.slice(0, 12)}… queued ${result.lastFrameToQueuedMs.toFixed(0)} ms after the last frame`,
      );
      await refreshCounts(agent, display);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await agent.close();
    display.end();
  }
}

/**
 * The wallet of a synthetic person: an identity file (protocol/identity-file.ts, what `irisgate proof`
 * reads) kept in DIR/wallets/<name>.json, so a second enrol finds the same one.
 */
function wallet(dir: string, name: string): Promise<Identity> {
  const file = join(dir, 'wallets', `${name}.json`);
  return existsSync(file) ? readIdentityFile(file) : createIdentityFile(file);
}

async function enroll(
  options: CommonOptions & { dir: string; sessionIndex: number; attempts: number },
): Promise<void> {
  let manifest: SyntheticManifest;
  try {
    manifest = JSON.parse(readFileSync(join(options.dir, 'manifest.json'), 'utf8'));
  } catch (cause) {
    throw new IrisgateError(
      'invalid_argument',
      `${options.dir} holds no synthetic set (irisgate iris synth --out DIR)`,
      { cause },
    );
  }
  const config = configFrom(options);
  const camera = new SyntheticCamera({ fps: 10, renderThreads: 1 });
  const agent = await openDeviceAgent(config, { camera });
  const total = manifest.parameters.identities;
  const progress = startProgress('enrol', total);
  const tally = { enrolled: 0, duplicates: 0, refused: 0, failed: 0 };
  try {
    agent.startSending();
    for (let id = 0; id < total; id++) {
      const identity = identityOf(manifest.seed, id);
      const session = sessionOf(manifest.seed, identity, options.sessionIndex);
      const person = await wallet(options.dir, identity.name);
      const eye = { identity, session, label: 'live' as const, seed: `${manifest.seed}/${id}` };
      // A capture the device refuses is tried again, as an operator would ask the person to.
      let result = await syntheticVisit(agent, camera, { commitment: person.commitment, eye });
      for (let attempt = 1; !result.ok && attempt < options.attempts; attempt++) {
        result = await syntheticVisit(agent, camera, { commitment: person.commitment, eye });
      }
      let line: Record<string, unknown>;
      if (!result.ok) {
        tally.failed++;
        line = { name: identity.name, outcome: 'capture_failed', code: result.code, message: result.message };
      } else {
        const outcome = await agent.outcome(result.digest);
        if (outcome.state === 'delivered') tally.enrolled++;
        else if (outcome.record.code === 'duplicate_identity') tally.duplicates++;
        else tally.refused++;
        line =
          outcome.state === 'delivered'
            ? { name: identity.name, outcome: 'enrolled', commitment: person.commitment.toString() }
            : {
                name: identity.name,
                outcome: 'refused',
                code: outcome.record.code,
                message: outcome.record.message,
              };
      }
      if (options.json) process.stdout.write(`${JSON.stringify(line)}\n`);
      else if (line.outcome !== 'enrolled')
        process.stderr.write(`${identity.name}: ${line.outcome} [${line.code}] ${line.message}\n`);
      progress.update(id + 1);
    }
  } finally {
    progress.stop();
    await agent.close();
  }
  const summary = { people: total, ...tally };
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `${tally.enrolled} enrolled, ${tally.duplicates} refused as already enrolled, ${tally.refused} refused otherwise, ${tally.failed} captures failed (of ${total})\n`,
    );
  }
  if (tally.failed + tally.refused > 0) process.exitCode = 1;
}

async function status(options: CommonOptions): Promise<void> {
  const config = configFrom(options);
  const { profile, certificate } = await loadDeviceProfile(config.deviceDir);
  const outboxDir = join(config.stateDir, OUTBOX_DIR);
  const outbox = existsSync(outboxDir) ? await Outbox.open(outboxDir, { readOnly: true }) : undefined;
  const counts = (await outbox?.counts()) ?? { pending: 0, delivered: 0, rejected: 0, corrupt: 0 };
  const pending = (await outbox?.list('pending')) ?? [];
  const rejected = ((await outbox?.list('rejected')) ?? []).slice(-5);
  const counterFile = join(config.stateDir, 'counter');
  const report = {
    deviceId: profile.deviceId,
    keyStore: profile.token.kind,
    certificateValidUntil: certificate.notAfter.toISOString(),
    backend: { url: config.backendUrl, ready: await backendReady(config.backendUrl) },
    camera: config.camera,
    counter: existsSync(counterFile) ? Number(readFileSync(counterFile, 'utf8')) : 0,
    outbox: {
      ...counts,
      oldestPendingAtMs: pending[0]?.createdAtMs ?? null,
      recentRejections: rejected.map((r) => ({ id: r.id, code: r.code, message: r.message })),
    },
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const lines = [
    `device       ${report.deviceId} (keys: ${report.keyStore}; certificate valid until ${report.certificateValidUntil})`,
    `backend      ${report.backend.url} ${report.backend.ready ? 'ready' : 'NOT REACHABLE or not ready'}`,
    `camera       ${report.camera}`,
    `outbox       ${counts.pending} pending, ${counts.delivered} delivered, ${counts.rejected} refused${counts.corrupt ? `, ${counts.corrupt} corrupt` : ''}`,
    ...(pending[0]
      ? [
          `oldest       pending since ${new Date(pending[0].createdAtMs).toISOString()} (${pending[0].attempts} attempts${pending[0].lastError ? `, last: ${pending[0].lastError}` : ''})`,
        ]
      : []),
    ...rejected.map((r) => `refused      ${r.id.slice(0, 12)}… [${r.code}] ${r.message}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function deviceCommand(): Command {
  const device = new Command('device').description(
    'the capture device agent: camera, signed signups, durable outbox',
  );
  withCommonOptions(device.command('run'))
    .description('serve people at the device: identity QR code, capture, signed signup, delivery')
    .option('--camera <spec>', 'synthetic, /dev/videoN, lavfi:<graph>, a folder of frames or a video file')
    .action((options: CommonOptions) => run(options));
  withCommonOptions(device.command('enroll'))
    .description('enrol every person of a synthetic set folder (irisgate iris synth), with a progress bar')
    .requiredOption('--dir <dir>', 'the synthetic set (manifest.json); wallets are kept in DIR/wallets/')
    .option(
      '--session <n>',
      "which session of each person to capture (0 = the set's first)",
      wholeNumber(0),
      0,
    )
    .option('--attempts <n>', 'captures per person before giving up on them', wholeNumber(1), 3)
    .action((options: CommonOptions & { dir: string; session: number; attempts: number }) =>
      enroll({ ...options, sessionIndex: options.session }),
    );
  withCommonOptions(device.command('status'))
    .description('the device, its outbox and whether the backend answers (safe while the agent runs)')
    .action((options: CommonOptions) => status(options));
  return device;
}
