/**
 * A camera that replays a folder of PNG/JPEG frames in name order, each read with readGreyImage (so a file
 * that is not a 640 x 480 frame fails the loop with that function's code), paced in real time at `fps`
 * (0: as fast as the consumer takes them) and stamped with Date.now() when handed out. A new frames()
 * loop resumes after the last frame handed out; with `loop` the replay starts over after the last file.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readGreyImage } from '../../iris/image-input.ts';
import { IrisgateError } from '../../protocol/errors.ts';
import type { CameraFrame, CameraSource } from './camera-source.ts';

export interface FolderReplaySpec {
  kind: 'folder';
  dir: string;
  fps: number;
  loop: boolean;
}

const IMAGE_NAME = /\.(png|jpe?g)$/i;

export class FolderReplayCamera implements CameraSource {
  readonly description: string;
  #next = 0;
  #iterating = false;
  readonly #closing = new AbortController();

  private constructor(
    readonly spec: FolderReplaySpec,
    /** The image paths, in name order. */
    readonly files: readonly string[],
  ) {
    this.description = `folder ${spec.dir} (${files.length} images) @${spec.fps}${spec.loop ? ' (loop)' : ''}`;
  }

  /** Lists the folder's images; camera_unavailable when it cannot be read or holds none. */
  static async open(spec: FolderReplaySpec): Promise<FolderReplayCamera> {
    let names: string[];
    try {
      names = await readdir(spec.dir);
    } catch (cause) {
      throw new IrisgateError('camera_unavailable', `cannot read ${spec.dir}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const images = names.filter((name) => IMAGE_NAME.test(name)).sort();
    if (images.length === 0)
      throw new IrisgateError('camera_unavailable', `${spec.dir} holds no PNG or JPEG`);
    return new FolderReplayCamera(
      spec,
      images.map((name) => join(spec.dir, name)),
    );
  }

  async *frames(): AsyncGenerator<CameraFrame> {
    if (this.#iterating) throw new Error(`${this.description}: only one frames() loop at a time`);
    this.#iterating = true;
    try {
      let first: number | undefined;
      for (let shown = 0; !this.#closing.signal.aborted; shown++) {
        if (this.#next === this.files.length) {
          if (!this.spec.loop) return;
          this.#next = 0;
        }
        const image = await readGreyImage(this.files[this.#next] as string);
        if (this.spec.fps > 0 && first !== undefined) {
          const wait = first + (shown * 1000) / this.spec.fps - Date.now();
          if (wait > 0) await sleep(wait, undefined, { signal: this.#closing.signal }).catch(() => {});
        }
        if (this.#closing.signal.aborted) return;
        this.#next++;
        const capturedAtMs = Date.now();
        first ??= capturedAtMs;
        yield { image, capturedAtMs };
      }
    } finally {
      this.#iterating = false;
    }
  }

  async close(): Promise<void> {
    this.#closing.abort();
  }
}
