/**
 * A camera read through an ffmpeg child process: a V4L2 device, a video file replayed at its native rate,
 * or an ffmpeg lavfi source graph (tests, demos). ffmpeg scales and converts to 8-bit grey with its own
 * filters and writes raw frames to its stdout; each frame is stamped with Date.now() when its last byte
 * arrives. Every frames() loop runs its own ffmpeg, killed and reaped when the loop ends.
 *
 * A slow consumer never makes frames pile up: a live source (V4L2, lavfi) keeps reading and drops the
 * oldest queued frame (counted in `droppedFrames`), so what the consumer gets next is recent; a video file
 * pauses ffmpeg instead (backpressure) and loses nothing. A new frames() loop over a video file resumes
 * at the frame after the last one handed out (ffprobe gives the frame rate to seek by).
 */
import { type ChildProcessByStdio, execFile, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { IrisgateError } from '../../protocol/errors.ts';
import type { CameraFrame, CameraSource } from './camera-source.ts';

export type FfmpegCameraSpec =
  | { kind: 'v4l2'; device: string; width: number; height: number; fps: number; pixelFormat?: string }
  | { kind: 'video'; path: string; width: number; height: number; loop: boolean }
  | { kind: 'lavfi'; graph: string; width: number; height: number };

/** Frames waiting for the consumer before a live source drops the oldest or a file pauses ffmpeg. */
const MAX_QUEUED_FRAMES = 4;

export class FfmpegCamera implements CameraSource {
  readonly description: string;
  #droppedFrames = 0;
  /** Video file only: frames handed out so far, where the next loop resumes. */
  #position = 0;
  #iterating = false;
  #closed = false;
  #running: FfmpegProcess | undefined;

  constructor(readonly spec: FfmpegCameraSpec) {
    const size = `${spec.width}x${spec.height}`;
    this.description =
      spec.kind === 'v4l2'
        ? `v4l2 ${spec.device} ${size}@${spec.fps}`
        : spec.kind === 'video'
          ? `video ${spec.path} ${size}${spec.loop ? ' (loop)' : ''}`
          : `lavfi ${spec.graph} ${size}`;
  }

  /** Frames a live source dropped because the consumer was slower than the camera, over all loops. */
  get droppedFrames(): number {
    return this.#droppedFrames;
  }

  async *frames(): AsyncGenerator<CameraFrame> {
    if (this.#iterating) throw new Error(`${this.description}: only one frames() loop at a time`);
    this.#iterating = true;
    try {
      const args = await this.#arguments();
      if (this.#closed) return;
      const live = this.spec.kind !== 'video';
      const { width, height } = this.spec;
      const ffmpeg = new FfmpegProcess(args, width, height, this.description, {
        onQueueFull: live ? 'drop-oldest' : 'pause',
        onDrop: () => this.#droppedFrames++,
      });
      this.#running = ffmpeg;
      try {
        for (let frame = await ffmpeg.next(); frame; frame = await ffmpeg.next()) {
          if (!live) this.#position++;
          yield frame;
        }
      } finally {
        this.#running = undefined;
        await ffmpeg.stop();
      }
    } finally {
      this.#iterating = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#running?.stop();
  }

  async #arguments(): Promise<string[]> {
    const { spec } = this;
    let input: string[];
    if (spec.kind === 'v4l2') {
      input = ['-f', 'v4l2', '-framerate', `${spec.fps}`, '-video_size', `${spec.width}x${spec.height}`];
      if (spec.pixelFormat) input.push('-input_format', spec.pixelFormat);
      input.push('-i', spec.device);
    } else if (spec.kind === 'video') {
      input = ['-re', ...(spec.loop ? ['-stream_loop', '-1'] : []), ...(await this.#seek()), '-i', spec.path];
    } else {
      input = ['-re', '-f', 'lavfi', '-i', spec.graph];
    }
    return [
      ...['-hide_banner', '-nostdin', '-loglevel', 'error', ...input, '-map', '0:v:0'],
      ...['-vf', `scale=${spec.width}:${spec.height},format=gray`, '-fps_mode', 'passthrough'],
      ...['-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'],
    ];
  }

  /** `-ss` to the frame after the last one handed out (half a frame early, so rounding cannot skip it). */
  async #seek(): Promise<string[]> {
    if (this.spec.kind !== 'video' || this.#position === 0) return [];
    const { fps, frameCount } = await probeVideo(this.spec.path);
    let index = this.#position;
    if (this.spec.loop) {
      if (!frameCount) throw unavailable(`${this.description}: cannot resume a loop, unknown duration`);
      index %= frameCount;
    }
    return index === 0 ? [] : ['-ss', ((index - 0.5) / fps).toFixed(6)];
  }
}

function unavailable(message: string, cause?: unknown): IrisgateError {
  return new IrisgateError('camera_unavailable', message, { cause });
}

async function probeVideo(path: string): Promise<{ fps: number; frameCount: number | undefined }> {
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=avg_frame_rate'];
  args.push('-show_entries', 'format=duration', '-of', 'json', path);
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('ffprobe', args));
  } catch (cause) {
    const detail =
      (cause as { stderr?: string }).stderr?.trim().split('\n').at(-1) || (cause as Error).message;
    throw unavailable(`ffprobe ${path}: ${detail}`, cause);
  }
  const probed = JSON.parse(stdout) as {
    streams?: { avg_frame_rate?: string }[];
    format?: { duration?: string };
  };
  const [num, den] = (probed.streams?.[0]?.avg_frame_rate ?? '').split('/').map(Number);
  const fps = (num ?? 0) / (den ?? 1);
  if (!(fps > 0)) throw unavailable(`${path}: no video stream with a frame rate`);
  const duration = Number(probed.format?.duration);
  return { fps, frameCount: duration > 0 ? Math.round(duration * fps) : undefined };
}

/** One ffmpeg run: its stdout cut into frames, queued for next(). */
class FfmpegProcess {
  readonly #child: ChildProcessByStdio<null, Readable, Readable>;
  readonly #exited: Promise<void>;
  readonly #queue: CameraFrame[] = [];
  readonly #frameBytes: number;
  #frame: Uint8Array;
  #filled = 0;
  #stderrTail = '';
  #ended = false;
  #stopping = false;
  #error: IrisgateError | undefined;
  #wake: (() => void) | undefined;

  constructor(
    args: string[],
    readonly width: number,
    readonly height: number,
    description: string,
    readonly policy: { onQueueFull: 'drop-oldest' | 'pause'; onDrop: () => void },
  ) {
    this.#frameBytes = width * height;
    this.#frame = new Uint8Array(this.#frameBytes);
    this.#child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child.stdout.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#child.stderr.setEncoding('utf8');
    this.#child.stderr.on('data', (text: string) => {
      this.#stderrTail = (this.#stderrTail + text).slice(-4096);
    });
    this.#child.on('error', (cause: NodeJS.ErrnoException) => {
      if (this.#stopping) return;
      this.#error ??=
        cause.code === 'ENOENT'
          ? unavailable('ffmpeg is not installed (not found on PATH)', cause)
          : unavailable(`${description}: cannot run ffmpeg: ${cause.message}`, cause);
    });
    this.#exited = new Promise((resolve) => {
      this.#child.on('close', (code, signal) => {
        this.#ended = true;
        if (!this.#stopping && code !== 0) {
          const last = this.#stderrTail.trim().split('\n').at(-1) || 'no message';
          this.#error ??= unavailable(`${description}: ffmpeg exited with ${code ?? signal}: ${last}`);
        }
        this.#notify();
        resolve();
      });
    });
  }

  /** The next frame; undefined once stopped or once ffmpeg has ended and its frames were taken. */
  async next(): Promise<CameraFrame | undefined> {
    for (;;) {
      if (this.#stopping) return undefined;
      const frame = this.#queue.shift();
      if (frame) {
        if (this.#child.stdout.isPaused() && this.#queue.length < MAX_QUEUED_FRAMES)
          this.#child.stdout.resume();
        return frame;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Kills ffmpeg (if still running) and waits until it is reaped. */
  stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      if (!this.#ended) {
        this.#child.stdout.destroy();
        this.#child.kill('SIGKILL');
      }
      this.#notify();
    }
    return this.#exited;
  }

  #onData(chunk: Buffer): void {
    for (let offset = 0; offset < chunk.length; ) {
      const taken = Math.min(chunk.length - offset, this.#frameBytes - this.#filled);
      this.#frame.set(chunk.subarray(offset, offset + taken), this.#filled);
      this.#filled += taken;
      offset += taken;
      if (this.#filled === this.#frameBytes) this.#push(this.#frame);
    }
  }

  #push(data: Uint8Array): void {
    const { width, height } = this;
    this.#queue.push({ image: { width, height, data }, capturedAtMs: Date.now() });
    this.#frame = new Uint8Array(this.#frameBytes);
    this.#filled = 0;
    if (this.policy.onQueueFull === 'pause') {
      if (this.#queue.length >= MAX_QUEUED_FRAMES) this.#child.stdout.pause();
    } else if (this.#queue.length > MAX_QUEUED_FRAMES) {
      this.#queue.shift();
      this.policy.onDrop();
    }
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
