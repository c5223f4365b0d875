/**
 * The device agent's capture: how long from the last captured frame to a signed signup durably in the
 * outbox (p50, p99, and where the time goes), and how many frames per second the capture loop sustains.
 * The device's keys are on a SoftHSM token (its own fixture in a temporary folder), the backend a real one
 * on the loopback (it issues the nonces and the device tokens).
 *
 * Latency: SESSIONS captures of one synthetic person at 10 fps, after one capture that renders their eye at
 * every pupil size (the synthetic camera then reuses the renders, so it delivers in real time like a
 * camera and the agent's threads do what they would on a board). Timed from the last frame's capture
 * timestamp, so frames still queued behind a slow loop count. Baseline from the same run: one frame
 * through the whole iris pipeline (pipeline.encode), the one step a signup cannot do without.
 * Throughput: a whole capture window of frames (one person's reflex capture, with 10 fps timestamps)
 * handed to the loop as fast as it takes them: frames hashed, signed, measured in the measurement threads
 * and judged per second, against segmentation alone on one thread.
 *
 *   npm run bench -- device [--json]          SESSIONS=n to change the number of sessions (default 10)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity } from '@semaphore-protocol/core';
import type { CameraSource } from '../device/camera/camera-source.ts';
import { SyntheticCamera } from '../device/camera/synthetic-camera.ts';
import { runCaptureSession } from '../device/capture-session.ts';
import { identityQrPayload } from '../device/identity-qr.ts';
import { syntheticVisit } from '../device/synthetic-visit.ts';
import { startHsmFixture, stopHsmFixture } from '../hsm/fixture/fixture.ts';
import { renderReflexCapture } from '../iris/attacks/reflex-capture.ts';
import { createIrisPipeline } from '../iris/pipeline.ts';
import { segmentEye } from '../iris/segmentation/index.ts';
import { identityOf, sessionOf } from '../iris/synth/generate.ts';
import { CAPTURE_MS, stimulusSchedule } from '../protocol/pupil-reflex.ts';
import { startDeviceRig } from '../test/support/device.ts';
import { percentile } from './report.ts';

const SEED = 'bench-device';
const SESSIONS = Number(process.env.SESSIONS ?? 10);
const TARGET_P50_MS = 250;
const FRAME_INTERVAL_MS = 100;

const log = (text: string) => process.stderr.write(`${text}\n`);

/** Frames with the timestamps of a 10 fps camera, handed over as fast as they are asked for. */
function burstCamera(images: readonly { width: number; height: number; data: Uint8Array }[]): CameraSource {
  return {
    description: 'in-memory burst',
    async *frames() {
      const start = Date.now();
      for (let k = 0; ; k++) {
        yield {
          image: images[k % images.length] as (typeof images)[number],
          capturedAtMs: start + k * FRAME_INTERVAL_MS,
        };
      }
    },
    close: async () => {},
  };
}

export async function run({ json }: { json: boolean }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'irisgate-bench-device-'));
  const fixture = await startHsmFixture(join(dir, 'hsm'));
  try {
    const rig = await startDeviceRig({
      token: fixture.softhsm,
      pin: fixture.softhsm.pin,
      fps: 10,
      camera: () => new SyntheticCamera({ fps: 10, reuseRenders: true }),
    });
    try {
      const identity = identityOf(SEED, 1);
      const eye = { identity, session: sessionOf(SEED, identity, 0), label: 'live' as const, seed: SEED };
      const frames = renderReflexCapture(eye, stimulusSchedule(new Uint8Array(32)), { fps: 10 }).map(
        (frame) => frame.image,
      );

      // Baselines: the whole pipeline on one frame, and segmentation alone.
      const pipeline = await createIrisPipeline();
      const encodeMs: number[] = [];
      const segmentMs: number[] = [];
      for (const frame of frames.slice(0, 24)) {
        let t = performance.now();
        await pipeline.encode(frame).catch(() => undefined);
        encodeMs.push(performance.now() - t);
        t = performance.now();
        try {
          segmentEye(frame);
        } catch {}
        segmentMs.push(performance.now() - t);
      }
      await pipeline.release();

      log('warm-up capture: rendering the eye at every pupil size (slow once)');
      const visit = () =>
        syntheticVisit(rig.agent, rig.camera, { commitment: new Identity().commitment, eye });
      await visit();
      const latencies: number[] = [];
      const stages: Record<string, number[]> = {};
      let refused = 0;
      for (let session = 0; session < SESSIONS; session++) {
        const result = await visit();
        if (!result.ok) {
          refused++;
          log(`session ${session + 1}: capture refused [${result.code}] ${result.message}`);
          continue;
        }
        latencies.push(result.lastCaptureToQueuedMs);
        for (const [stage, ms] of Object.entries(result.afterLastFrameMs)) {
          stages[stage] = [...(stages[stage] ?? []), ms];
        }
        log(
          `session ${session + 1}/${SESSIONS}: ${result.lastCaptureToQueuedMs} ms from the last frame to queued`,
        );
      }

      // Throughput: one capture window as fast as the loop takes it (it ends at checking_liveness: these
      // frames do not follow this session's stimulus, and they need not).
      let firstFrameAt = 0;
      let lastFrames = 0;
      let endedAt = 0;
      await runCaptureSession(
        { ...rig.agent.context, camera: burstCamera(frames) },
        {
          identityQr: identityQrPayload(new Identity().commitment),
          onEvent(event) {
            if (event.frames) {
              if (event.frames.captured === 1) firstFrameAt = performance.now();
              lastFrames = event.frames.captured;
            } else if (event.state === 'fusing' || event.state === 'failed') endedAt ||= performance.now();
          },
        },
      );
      const loopFps = (1000 * lastFrames) / (endedAt - firstFrameAt);
      const segmentFps = 1000 / percentile(segmentMs, 0.5);

      const report = {
        benchmark: 'device',
        cores: availableParallelism(),
        measureThreads: rig.config().measureThreads,
        sessions: SESSIONS,
        refusedCaptures: refused,
        lastFrameToQueuedMs: {
          p50: percentile(latencies, 0.5),
          p99: percentile(latencies, 0.99),
          target: TARGET_P50_MS,
        },
        afterLastFrameP50Ms: Object.fromEntries(
          Object.entries(stages).map(([k, v]) => [k, percentile(v, 0.5)]),
        ),
        baselineEncodeP50Ms: percentile(encodeMs, 0.5),
        latencyToEncodeRatio: percentile(latencies, 0.5) / percentile(encodeMs, 0.5),
        captureLoopFps: loopFps,
        captureWindowFrames: lastFrames,
        segmentationOnlyFps: segmentFps,
        loopToSegmentationRatio: loopFps / segmentFps,
      };
      if (json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return;
      }
      const f = (ms: number) => `${ms.toFixed(0)} ms`;
      process.stdout.write(
        `${[
          `device capture (SoftHSM keys, ${report.cores} cores, ${report.measureThreads} measurement threads; ${SESSIONS} captures at 10 fps, ${refused} refused by the device)`,
          `  last frame captured -> signed signup on disk   p50 ${f(report.lastFrameToQueuedMs.p50)}   p99 ${f(report.lastFrameToQueuedMs.p99)}   (target p50 <= ${TARGET_P50_MS} ms)`,
          `  after the last frame reached the loop (p50)    ${Object.entries(report.afterLastFrameP50Ms)
            .map(([k, v]) => `${k} ${f(v)}`)
            .join(', ')}`,
          `  baseline: one frame through the pipeline       p50 ${f(report.baselineEncodeP50Ms)}  -> latency / baseline ${report.latencyToEncodeRatio.toFixed(2)}x`,
          `  capture loop sustains                          ${loopFps.toFixed(1)} frames/s over a ${CAPTURE_MS / 1000} s window of ${lastFrames} frames`,
          `  baseline: segmentation alone, one thread       ${segmentFps.toFixed(1)} frames/s  -> loop / baseline ${report.loopToSegmentationRatio.toFixed(2)}x`,
        ].join('\n')}\n`,
      );
    } finally {
      await rig.close();
    }
  } finally {
    await stopHsmFixture(fixture.dir);
    await rm(dir, { recursive: true, force: true });
  }
}
