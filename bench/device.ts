/**
 * The device agent's capture: how long from the last captured frame to a signed signup durably in the
 * outbox (p50, p99, and where the time goes), and how many frames per second the capture loop sustains.
 * The device's keys are on a SoftHSM token (its own fixture in a temporary folder), the backend a real one
 * on the loopback (it issues the nonces and the device tokens).
 *
 * Latency: SESSIONS live synthetic people at 10 fps (the synthetic camera renders in a worker thread, so
 * the agent's thread does what it would on a board), each session's last-frame-to-queued time. Baseline,
 * measured in the same run: one frame through the whole iris pipeline (pipeline.encode), the single step a
 * signup cannot do without.
 * Throughput: the capture loop fed as fast as it takes frames (a folder replay at fps 0 of one person's
 * rendered capture, PNG decoding included) for one 5 s capture window: frames it hashed, signed, segmented
 * and gated (and encoded and judged, for the best) per second, against segmentation alone on the same frames.
 *
 *   npm run bench -- device [--json]          SESSIONS=n to change the number of sessions (default 10)
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity } from '@semaphore-protocol/identity';
import { FolderReplayCamera } from '../device/camera/replay-camera.ts';
import { runCaptureSession } from '../device/capture-session.ts';
import { identityQrPayload } from '../device/identity-qr.ts';
import { syntheticVisit } from '../device/synthetic-visit.ts';
import { startHsmFixture, stopHsmFixture } from '../hsm/fixture/fixture.ts';
import { renderReflexCapture } from '../iris/attacks/reflex-capture.ts';
import { createIrisPipeline } from '../iris/pipeline.ts';
import { segmentEye } from '../iris/segmentation/index.ts';
import { identityOf, sessionOf, writeGreyPng } from '../iris/synth/generate.ts';
import { stimulusSchedule } from '../protocol/pupil-reflex.ts';
import { startDeviceRig } from '../test/support/device.ts';
import { percentile } from './report.ts';

const SEED = 'bench-device';
const SESSIONS = Number(process.env.SESSIONS ?? 10);
const TARGET_P50_MS = 250;

const log = (text: string) => process.stderr.write(`${text}\n`);

export async function run({ json }: { json: boolean }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'irisgate-bench-device-'));
  const fixture = await startHsmFixture(join(dir, 'hsm'));
  try {
    const rig = await startDeviceRig({ token: fixture.softhsm, pin: fixture.softhsm.pin, fps: 10 });
    try {
      // Baseline: the whole pipeline on one frame, and segmentation alone, on one person's capture.
      const identity = identityOf(SEED, 100);
      const frames = renderReflexCapture(
        { identity, session: sessionOf(SEED, identity, 0), label: 'live', seed: SEED },
        stimulusSchedule(new Uint8Array(32)),
        { fps: 5 },
      ).map((frame) => frame.image);
      const pipeline = await createIrisPipeline();
      const encodeMs: number[] = [];
      const segmentMs: number[] = [];
      for (const frame of [...frames, ...frames]) {
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

      const latencies: number[] = [];
      const stages: Record<string, number[]> = {};
      let failures = 0;
      for (let session = 0; session < SESSIONS; session++) {
        const identity = identityOf(SEED, session);
        const result = await syntheticVisit(rig.agent, rig.camera, {
          commitment: new Identity().commitment,
          eye: { identity, session: sessionOf(SEED, identity, 0), label: 'live', seed: `${SEED}/${session}` },
        });
        if (!result.ok) {
          failures++;
          log(`session ${session + 1}: capture refused [${result.code}] ${result.message}`);
          continue;
        }
        latencies.push(result.lastFrameToQueuedMs);
        for (const [stage, ms] of Object.entries(result.afterLastFrameMs)) {
          stages[stage] = [...(stages[stage] ?? []), ms];
        }
        log(
          `session ${session + 1}/${SESSIONS}: ${result.lastFrameToQueuedMs.toFixed(0)} ms last frame -> queued`,
        );
      }

      // Throughput: a replay of the rendered frames, as fast as the loop takes them.
      const replayDir = join(dir, 'frames');
      await mkdir(replayDir);
      await Promise.all(
        frames.map((frame, k) => writeGreyPng(join(replayDir, `f${String(k).padStart(2, '0')}.png`), frame)),
      );
      const replay = await FolderReplayCamera.open({ kind: 'folder', dir: replayDir, fps: 0, loop: true });
      let captured = 0;
      let elapsedMs = 0;
      const context = { ...rig.agent.context, camera: replay };
      await runCaptureSession(context, {
        identityQr: identityQrPayload(new Identity().commitment),
        onEvent: (event) => {
          if (event.frames) ({ captured, elapsedMs } = event.frames);
        },
      });
      await replay.close();
      const loopFps = (1000 * captured) / Math.max(1, elapsedMs);
      const segmentFps = 1000 / percentile(segmentMs, 0.5);

      const report = {
        benchmark: 'device',
        sessions: SESSIONS,
        refusedCaptures: failures,
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
        segmentationOnlyFps: segmentFps,
        loopToSegmentationRatio: loopFps / segmentFps,
      };
      if (json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return;
      }
      const f = (ms: number) => `${ms.toFixed(0)} ms`;
      process.stdout.write(
        [
          `device capture (SoftHSM keys, ${SESSIONS} synthetic sessions at 10 fps, ${failures} refused by the device)`,
          `  last frame -> signed signup on disk   p50 ${f(report.lastFrameToQueuedMs.p50)}   p99 ${f(report.lastFrameToQueuedMs.p99)}   (target p50 <= ${TARGET_P50_MS} ms)`,
          `  where it goes (p50)                   ${Object.entries(report.afterLastFrameP50Ms)
            .map(([k, v]) => `${k} ${f(v)}`)
            .join(', ')}`,
          `  baseline: one frame through the pipeline  p50 ${f(report.baselineEncodeP50Ms)}  -> latency / baseline ${report.latencyToEncodeRatio.toFixed(2)}x`,
          `  capture loop sustains                 ${loopFps.toFixed(1)} frames/s (hash, sign, segment, gate, encode best)`,
          `  baseline: segmentation alone           ${segmentFps.toFixed(1)} frames/s  -> loop / baseline ${report.loopToSegmentationRatio.toFixed(2)}x`,
        ].join('\n') + '\n',
      );
    } finally {
      await rig.close();
    }
  } finally {
    await stopHsmFixture(fixture.dir);
    await rm(dir, { recursive: true, force: true });
  }
}
