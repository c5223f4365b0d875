/**
 * The device agent: everything a capture session needs, opened once at start.
 *
 * On start it measures its software and model files (device/software-measurement.ts) and, when its keys
 * live in a TPM, extends PCR 16 with the measurement, so a quote shows what software signs. Then it opens
 * the device's keys (the provisioned profile), the camera, the IR LED, the iris pipeline and the
 * presentation-attack detector, the threads that measure frames during a capture, and its durable outbox,
 * whose sender delivers signups in the background.
 *
 *   const agent = await openDeviceAgent(config);
 *   agent.startSending();
 *   const result = await agent.capture({ identityQr });
 *   if (result.ok) console.log(await agent.outcome(result.digest));
 *   await agent.close();
 */
import { join } from 'node:path';
import { loadDeviceProfile, openDeviceKeys } from '../hsm/provisioning.ts';
import { extendPcr16 } from '../hsm/tpm-attestation.ts';
import { createPadDetector } from '../iris/pad/detector.ts';
import { createIrisPipeline } from '../iris/pipeline.ts';
import type { GreyImage } from '../iris/types.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { SOFTWARE_VERSION } from '../protocol/software-version.ts';
import { openTaskPool } from '../protocol/task-pool.ts';
import { type AgentConfig, agentPin } from './agent-config.ts';
import { BackendClient } from './backend-client.ts';
import type { CameraSource } from './camera/camera-source.ts';
import { openCamera, parseCameraSpec } from './camera/open-camera.ts';
import { SyntheticCamera } from './camera/synthetic-camera.ts';
import {
  DEFAULT_CAPTURE_OPTIONS,
  type DeviceContext,
  runCaptureSession,
  type SessionEvent,
  type SessionResult,
} from './capture-session.ts';
import type { FrameMeasurement } from './frame-measurement.ts';
import { NO_LED, sysfsLed } from './ir-led.ts';
import { type DeliveredRecord, Outbox, type OutboxEvent, type RejectedRecord } from './outbox.ts';
import { measureDeviceSoftware, type SoftwareMeasurement } from './software-measurement.ts';

export const OUTBOX_DIR = 'outbox';

export type SignupOutcome =
  | { state: 'delivered'; record: DeliveredRecord }
  | { state: 'rejected'; record: RejectedRecord };

export interface DeviceAgent {
  readonly context: DeviceContext;
  readonly software: SoftwareMeasurement;
  /** Whether PCR 16 was extended (the keys are in a TPM). */
  readonly pcr16Extended: boolean;
  readonly outbox: Outbox;
  capture(options?: {
    identityQr?: string;
    onEvent?: (event: SessionEvent) => void;
    signal?: AbortSignal;
  }): Promise<SessionResult>;
  /** Starts the outbox sender in the background (until close). */
  startSending(onEvent?: (event: OutboxEvent) => void): void;
  /** The backend's final answer for a queued signup, once the sender has it. */
  outcome(digest: string, options?: { timeoutMs?: number }): Promise<SignupOutcome>;
  close(): Promise<void>;
}

export interface OpenAgentOptions {
  /**
   * Use this camera instead of the one the configuration names (the demo's synthetic camera); the agent
   * closes it when it closes or fails to open.
   */
  camera?: CameraSource;
}

export async function openDeviceAgent(
  config: AgentConfig,
  options: OpenAgentOptions = {},
): Promise<DeviceAgent> {
  // A camera given to the agent is the agent's to close, also when it fails to start (a render thread
  // would otherwise keep the process alive).
  const closers: (() => Promise<void> | void)[] = options.camera ? [() => options.camera?.close()] : [];
  try {
    const software = await measureDeviceSoftware();
    const { profile } = await loadDeviceProfile(config.deviceDir);
    const pcr16Extended = profile.tpmQuoteKey !== undefined;
    if (pcr16Extended) await extendPcr16(software.measurement);
    const keys = await openDeviceKeys(config.deviceDir, profile, agentPin(config));
    closers.push(() => keys.close());
    const camera =
      options.camera ??
      (config.camera === 'synthetic'
        ? new SyntheticCamera({ fps: config.fps, renderThreads: 1 })
        : await openCamera(
            parseCameraSpec(config.camera, {
              width: config.width,
              height: config.height,
              fps: config.fps,
              pixelFormat: config.pixelFormat,
            }),
          ));
    if (!options.camera) closers.push(() => camera.close());
    const led = config.led ? sysfsLed(config.led) : NO_LED;
    closers.push(() => led.stop());
    const [pipeline, pad] = await Promise.all([createIrisPipeline(), createPadDetector()]);
    closers.push(
      () => pipeline.release(),
      () => pad.release(),
    );
    const measurePool = openTaskPool<GreyImage, FrameMeasurement>(
      new URL('./frame-measure-task.ts', import.meta.url),
      { workers: config.measureThreads },
    );
    closers.push(() => measurePool.close());
    const outbox = await Outbox.open(join(config.stateDir, OUTBOX_DIR));
    const client = new BackendClient({
      baseUrl: config.backendUrl,
      deviceId: profile.deviceId,
      attestation: keys.attestation,
      timeoutMs: config.requestTimeoutMs,
    });
    const context: DeviceContext = {
      deviceId: profile.deviceId,
      keys,
      client,
      camera,
      led,
      pipeline,
      pad,
      measureFrame: (image) => measurePool.run(image),
      outbox,
      stateDir: config.stateDir,
      models: software.models,
      softwareVersion: SOFTWARE_VERSION,
      options: {
        ...DEFAULT_CAPTURE_OPTIONS,
        eye: config.eye,
        fusedFrames: config.fusedFrames,
        identityTimeoutMs: config.identityTimeoutMs,
      },
    };
    return agent(config.keepFinishedHours * 3_600_000, context, software, pcr16Extended, closers);
  } catch (error) {
    for (const close of closers.reverse()) await close();
    throw error;
  }
}

function agent(
  keepFinishedMs: number,
  context: DeviceContext,
  software: SoftwareMeasurement,
  pcr16Extended: boolean,
  closers: (() => Promise<void> | void)[],
): DeviceAgent {
  const { outbox, client } = context;
  const stopSending = new AbortController();
  let sender: Promise<void> | undefined;
  const waiters = new Map<string, Set<() => void>>();
  const wake = (id: string) => {
    for (const waiter of waiters.get(id) ?? []) waiter();
  };
  return {
    context,
    software,
    pcr16Extended,
    outbox,
    async capture(options = {}) {
      await outbox.prune(Date.now() - keepFinishedMs);
      return runCaptureSession(context, options);
    },
    startSending(onEvent) {
      if (sender) return;
      sender = outbox.send({
        deliver: (record, { signal }) => client.submitSignup(record.body, signal),
        signal: stopSending.signal,
        onEvent(event) {
          if (event.type === 'delivered' || event.type === 'rejected') wake(event.id);
          onEvent?.(event);
        },
      });
      sender.catch(() => {});
    },
    async outcome(digest, { timeoutMs = 120_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const item = await outbox.get(digest);
        if (item?.state === 'delivered' || item?.state === 'rejected') return item as SignupOutcome;
        if (item === undefined) throw new IrisgateError('not_found', `no signup ${digest} in the outbox`);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new IrisgateError(
            'backend_unreachable',
            `signup ${digest.slice(0, 12)}… still pending after ${timeoutMs} ms`,
          );
        }
        await new Promise<void>((resolve) => {
          const set = waiters.get(digest) ?? new Set();
          const done = () => {
            clearTimeout(timer);
            set.delete(done);
            resolve();
          };
          const timer = setTimeout(done, Math.min(left, 1000));
          set.add(done);
          waiters.set(digest, set);
        });
      }
    },
    async close() {
      stopSending.abort();
      await sender;
      for (const close of closers.splice(0).reverse()) await close();
    },
  };
}
