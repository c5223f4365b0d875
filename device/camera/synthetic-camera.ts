/**
 * The synthetic camera (a stand-in for a real NIR camera on a machine that has none, named as such
 * everywhere it appears): it films whatever scene it is shown (nothing, a phone showing an identity QR
 * code, or an eye: a live one or any presentation attack from iris/attacks), and when the device plays
 * its IR LED stimulus, a living pupil in front of it constricts and recovers as the schedule commands
 * (iris/attacks/reflex-capture.ts).
 *
 * Time is simulated: frame k of a stream is the scene at t_k = start + k / fps, rendered for that instant
 * and stamped with it. It is never handed over before t_k (a camera cannot deliver the future); when
 * rendering is slower than the frame rate (about 0.25 s a frame on a small machine) frames arrive late but
 * still show, and are stamped with, their own instant, as a camera with a deep buffer would. With
 * `renderThreads`, eye frames are rendered ahead in worker threads (the scene and stimulus they were
 * rendered for are checked when they are handed over; a frame rendered for a scene that has since changed
 * is rendered again). With `reuseRenders`, an eye is rendered once per pupil size (in steps of
 * DILATION_STEP of the pupil/iris ratio, about 0.3 px) and reused: after a first capture of a person the
 * camera delivers in real time, as the device benchmark needs.
 */
import {
  type ReflexPresentation,
  reflexDilation,
  renderPresentation,
  renderReflexFrame,
} from '../../iris/attacks/reflex-capture.ts';
import { IMAGE_HEIGHT, IMAGE_WIDTH } from '../../iris/synth/sample.ts';
import type { GreyImage } from '../../iris/types.ts';
import { openTaskPool, type TaskPool } from '../../protocol/task-pool.ts';
import { renderIdentityQr } from '../identity-qr.ts';
import type { CameraFrame, CameraSource, CaptureStimulus } from './camera-source.ts';
import type { RenderInput } from './synthetic-render-task.ts';

export type SyntheticScene =
  | { kind: 'empty' }
  | { kind: 'qr'; payload: string }
  | ({ kind: 'eye' } & ReflexPresentation);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Pupil/iris ratio step of reused renders. */
const DILATION_STEP = 0.0025;
/** Frames rendered ahead per render thread. */
const AHEAD_PER_THREAD = 3;

interface Ahead {
  k: number;
  scene: SyntheticScene;
  stimulus: CaptureStimulus | undefined;
  image: Promise<GreyImage>;
}

export class SyntheticCamera implements CameraSource {
  readonly description: string;
  readonly #intervalMs: number;
  #scene: SyntheticScene = { kind: 'empty' };
  #stimulus: CaptureStimulus | undefined;
  #closed = false;
  /** The last still picture (empty or QR scenes do not change from frame to frame). */
  #still: { scene: SyntheticScene; image: GreyImage } | undefined;
  readonly #pool: TaskPool<RenderInput, GreyImage> | undefined;
  readonly #ahead: Ahead[] = [];
  readonly #aheadCount: number;

  /** Reused renders of the last eye shown, by quantised pupil/iris ratio (`reuseRenders`). */
  #renders: { eye: string; byDilation: Map<number, GreyImage> } | undefined;
  readonly #reuseRenders: boolean;

  constructor({
    fps = 10,
    renderThreads = 0,
    reuseRenders = false,
  }: { fps?: number; renderThreads?: number; reuseRenders?: boolean } = {}) {
    if (reuseRenders && renderThreads > 0) throw new RangeError('reuseRenders renders on this thread');
    this.#reuseRenders = reuseRenders;
    if (!(fps > 0 && fps <= 120)) throw new RangeError('fps must be in (0, 120]');
    this.#intervalMs = 1000 / fps;
    this.description = `synthetic camera (no hardware) ${IMAGE_WIDTH}x${IMAGE_HEIGHT}@${fps}`;
    this.#aheadCount = renderThreads * AHEAD_PER_THREAD;
    this.#pool =
      renderThreads > 0
        ? openTaskPool(new URL('./synthetic-render-task.ts', import.meta.url), { workers: renderThreads })
        : undefined;
  }

  /** What stands in front of the camera from now on. */
  present(scene: SyntheticScene): void {
    this.#scene = scene;
  }

  setStimulus(stimulus: CaptureStimulus | undefined): void {
    this.#stimulus = stimulus;
  }

  async *frames(): AsyncGenerator<CameraFrame> {
    const start = Date.now();
    const at = (k: number) => Math.round(start + k * this.#intervalMs);
    this.#ahead.length = 0;
    for (let k = 0; !this.#closed; k++) {
      this.#renderAhead(k, at);
      const wait = at(k) - Date.now();
      if (wait > 0) await sleep(wait);
      if (this.#closed) return;
      yield { image: await this.#render(k, at(k)), capturedAtMs: at(k) };
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool?.close();
  }

  /** The eye frame at atMs as the current scene and stimulus command it. */
  #input(scene: ReflexPresentation, atMs: number): RenderInput {
    const stimulus = this.#stimulus;
    return {
      presentation: scene,
      schedule: stimulus?.schedule ?? [],
      tMs: stimulus ? atMs - stimulus.startAtMs : 0,
    };
  }

  /** Starts rendering frames k.. in the render threads, for the scene and stimulus as they are now. */
  #renderAhead(k: number, at: (k: number) => number): void {
    const pool = this.#pool;
    const scene = this.#scene;
    if (!pool || scene.kind !== 'eye') return;
    const stale = (a: Ahead) => a.k < k || a.scene !== scene || a.stimulus !== this.#stimulus;
    for (let i = this.#ahead.length - 1; i >= 0; i--)
      if (stale(this.#ahead[i] as Ahead)) this.#ahead.splice(i, 1);
    for (let next = (this.#ahead.at(-1)?.k ?? k - 1) + 1; next < k + this.#aheadCount; next++) {
      const image = pool.run(this.#input(scene, at(next)));
      image.catch(() => {});
      this.#ahead.push({ k: next, scene, stimulus: this.#stimulus, image });
    }
  }

  #render(k: number, atMs: number): Promise<GreyImage> | GreyImage {
    const scene = this.#scene;
    if (scene.kind === 'eye') {
      const ahead = this.#ahead.find((a) => a.k === k && a.scene === scene && a.stimulus === this.#stimulus);
      if (ahead) return ahead.image;
      const { presentation, schedule, tMs } = this.#input(scene, atMs);
      if (!this.#reuseRenders) return renderReflexFrame(presentation, schedule, tMs).image;
      // The same person presented again (a new scene object each visit) reuses the renders.
      const { kind: _kind, ...eye } = scene;
      const key = JSON.stringify(eye);
      if (this.#renders?.eye !== key) this.#renders = { eye: key, byDilation: new Map() };
      const step = Math.round(reflexDilation(presentation, schedule, tMs) / DILATION_STEP);
      const dilation = step * DILATION_STEP;
      // Each pupil size is a frame of its own, with its own sensor noise.
      const image =
        this.#renders.byDilation.get(dilation) ?? renderPresentation(presentation, dilation, step);
      this.#renders.byDilation.set(dilation, image);
      return image;
    }
    if (this.#still?.scene !== scene) {
      const image =
        scene.kind === 'qr'
          ? renderIdentityQr(scene.payload, { width: IMAGE_WIDTH, height: IMAGE_HEIGHT })
          : {
              width: IMAGE_WIDTH,
              height: IMAGE_HEIGHT,
              data: new Uint8Array(IMAGE_WIDTH * IMAGE_HEIGHT).fill(40),
            };
      this.#still = { scene, image };
    }
    return this.#still.image;
  }
}
