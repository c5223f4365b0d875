/**
 * Camera sources against a real ffmpeg: lavfi test sources, a video file made here, a folder of images,
 * and the errors an operator meets (no ffmpeg, no device, no file, a broken graph).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CameraFrame, CameraSource } from '../../device/camera/camera-source.ts';
import { FfmpegCamera } from '../../device/camera/ffmpeg-camera.ts';
import { openCamera, parseCameraSpec } from '../../device/camera/open-camera.ts';
import { FolderReplayCamera } from '../../device/camera/replay-camera.ts';

const run = promisify(execFile);
const CLIP_FRAMES = 12;
const CLIP = { width: 160, height: 120 };

let dir: string;
let clip: string;
/** A folder of three frames, file name -> uniform grey level, and a file that is not a frame. */
let folder: string;
const LEVELS = { 'b.png': 20, 'a.png': 10, 'c.jpg': 30 } as const;
/** The clip's frames as ffmpeg decodes it in one go. */
let reference: Buffer[];
const opened: CameraSource[] = [];

function track<T extends CameraSource>(camera: T): T {
  opened.push(camera);
  return camera;
}

async function collect(camera: CameraSource, count: number): Promise<CameraFrame[]> {
  const frames: CameraFrame[] = [];
  for await (const frame of camera.frames()) {
    frames.push(frame);
    if (frames.length === count) break;
  }
  return frames;
}

/** Pids of this process's ffmpeg children, zombies included (a reaped child has no /proc entry). */
function ffmpegChildren(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const [, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return stat.includes('(ffmpeg)') && Number(ppid) === process.pid;
      } catch {
        return false; // exited while listed
      }
    })
    .map(Number);
}

const frameIndex = (frame: CameraFrame) => reference.findIndex((ref) => ref.equals(frame.image.data));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'irisgate-camera-'));
  clip = join(dir, 'clip.mkv');
  const source = `testsrc2=size=${CLIP.width}x${CLIP.height}:rate=25`;
  const quiet = ['-hide_banner', '-loglevel', 'error'];
  const lossless = ['-frames:v', `${CLIP_FRAMES}`, '-c:v', 'ffv1', '-pix_fmt', 'gray', clip];
  await run('ffmpeg', [...quiet, '-f', 'lavfi', '-i', source, ...lossless]);
  const { stdout } = await run('ffmpeg', [...quiet, '-i', clip, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], {
    encoding: 'buffer',
  });
  const bytes = CLIP.width * CLIP.height;
  reference = Array.from({ length: stdout.length / bytes }, (_, i) =>
    stdout.subarray(i * bytes, (i + 1) * bytes),
  );
  expect(reference).toHaveLength(CLIP_FRAMES);
  expect(new Set(reference.map((frame) => frame.toString('base64'))).size).toBe(CLIP_FRAMES);

  folder = join(dir, 'frames');
  await mkdir(folder);
  for (const [name, level] of Object.entries(LEVELS)) {
    const background = { r: level, g: level, b: level };
    const image = sharp({ create: { width: 640, height: 480, channels: 3, background } });
    await (name.endsWith('.png') ? image.png() : image.jpeg({ quality: 100 })).toFile(join(folder, name));
  }
  await writeFile(join(folder, 'notes.txt'), 'not a frame');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((camera) => camera.close()));
  expect(ffmpegChildren()).toEqual([]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ffmpeg camera', () => {
  it('reads a lavfi source at the requested size, stamped at about its rate', async () => {
    const camera = track(
      new FfmpegCamera({ kind: 'lavfi', graph: 'testsrc2=size=320x240:rate=10', width: 640, height: 480 }),
    );
    expect(camera.description).toBe('lavfi testsrc2=size=320x240:rate=10 640x480');
    const frames = await collect(camera, 6);
    for (const { image } of frames)
      expect([image.width, image.height, image.data.length]).toEqual([640, 480, 640 * 480]);
    const times = frames.map((frame) => frame.capturedAtMs);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1] as number);
    const interval = ((times[5] as number) - (times[1] as number)) / 4;
    expect(interval).toBeGreaterThan(70);
    expect(interval).toBeLessThan(140);
    expect(Math.abs((times[5] as number) - Date.now())).toBeLessThan(1000);
  });

  it('replays a video file frame by frame at its native rate, losing nothing to a slow consumer', async () => {
    const camera = track(new FfmpegCamera({ kind: 'video', path: clip, ...CLIP, loop: false }));
    const frames: CameraFrame[] = [];
    for await (const frame of camera.frames()) {
      frames.push(frame);
      if (frames.length === 1) await sleep(400); // about 10 frames' time: ffmpeg must wait, not drop
    }
    expect(frames.map(frameIndex)).toEqual([...Array(CLIP_FRAMES).keys()]);
    expect(camera.droppedFrames).toBe(0);
    // 25 fps: the 11 frames after the first take at least 0.44 s from the start.
    expect(
      (frames.at(-1) as CameraFrame).capturedAtMs - (frames[0] as CameraFrame).capturedAtMs,
    ).toBeGreaterThan(380);
  });

  it('resumes a video file where the last loop stopped, and ends', async () => {
    const camera = track(new FfmpegCamera({ kind: 'video', path: clip, ...CLIP, loop: false }));
    expect((await collect(camera, 5)).map(frameIndex)).toEqual([0, 1, 2, 3, 4]);
    expect((await collect(camera, 100)).map(frameIndex)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(await collect(camera, 100)).toEqual([]);
  });

  it('says camera_unavailable when a video file to resume is gone', async () => {
    const copy = join(dir, 'copy.mkv');
    await copyFile(clip, copy);
    const camera = track(new FfmpegCamera({ kind: 'video', path: copy, ...CLIP, loop: false }));
    expect(await collect(camera, 2)).toHaveLength(2);
    await rm(copy);
    await expect(collect(camera, 1)).rejects.toMatchObject({
      code: 'camera_unavailable',
      message: expect.stringContaining('No such file'),
    });
  });

  it('loops a video file, and resumes a loop where it stopped', async () => {
    const camera = track(new FfmpegCamera({ kind: 'video', path: clip, ...CLIP, loop: true }));
    const looped = await collect(camera, 30);
    expect(looped.map(frameIndex)).toEqual(Array.from({ length: 30 }, (_, i) => i % CLIP_FRAMES));
    expect((await collect(camera, 3)).map(frameIndex)).toEqual([6, 7, 8]);
  });

  it('kills and reaps ffmpeg when the consumer breaks out of the loop', async () => {
    const camera = track(new FfmpegCamera({ kind: 'lavfi', graph: 'testsrc2=rate=25', ...CLIP }));
    let running: number[] = [];
    for await (const _ of camera.frames()) {
      running = ffmpegChildren();
      break;
    }
    expect(running).toHaveLength(1);
    expect(ffmpegChildren()).toEqual([]);
  });

  it('ends the loop without an error when closed while iterating, and yields nothing after', async () => {
    const camera = new FfmpegCamera({ kind: 'lavfi', graph: 'testsrc2=rate=25', ...CLIP });
    const frames: CameraFrame[] = [];
    for await (const frame of camera.frames()) {
      frames.push(frame);
      if (frames.length === 3) setTimeout(() => void camera.close(), 50); // while the loop awaits a frame
    }
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames.length).toBeLessThan(10);
    expect(ffmpegChildren()).toEqual([]);
    expect(await collect(camera, 1)).toEqual([]);
  });

  it('drops the oldest frames of a live source for a slow consumer, and counts them', async () => {
    const camera = track(new FfmpegCamera({ kind: 'lavfi', graph: 'testsrc2=rate=25', ...CLIP }));
    const ages: number[] = [];
    for await (const frame of camera.frames()) {
      ages.push(Date.now() - frame.capturedAtMs);
      if (ages.length === 1) await sleep(800); // 20 frames' time
      if (ages.length === 2) break;
    }
    expect(camera.droppedFrames).toBeGreaterThan(10);
    expect(ages[1]).toBeLessThan(400); // at most a few queued frames old, not 800 ms
  });

  it("says camera_unavailable with ffmpeg's message for a missing device, file, bad input or graph", async () => {
    const notVideo = join(dir, 'notes.txt');
    await writeFile(notVideo, 'not a video');
    const cases: [FfmpegCamera, string][] = [
      [
        new FfmpegCamera({ kind: 'v4l2', device: '/dev/video99', width: 640, height: 480, fps: 10 }),
        '/dev/video99',
      ],
      [
        new FfmpegCamera({ kind: 'video', path: join(dir, 'missing.mkv'), ...CLIP, loop: false }),
        'No such file',
      ],
      [new FfmpegCamera({ kind: 'video', path: notVideo, ...CLIP, loop: false }), 'Invalid data'],
      [new FfmpegCamera({ kind: 'lavfi', graph: 'nosuchfilter', ...CLIP }), 'nosuchfilter'],
    ];
    for (const [camera, message] of cases) {
      await expect(collect(track(camera), 1)).rejects.toMatchObject({
        code: 'camera_unavailable',
        message: expect.stringContaining(message),
      });
    }
  });

  it('says camera_unavailable when ffmpeg is not installed', async () => {
    const path = process.env.PATH;
    process.env.PATH = dir; // no ffmpeg there
    try {
      const camera = track(new FfmpegCamera({ kind: 'lavfi', graph: 'testsrc2', ...CLIP }));
      await expect(collect(camera, 1)).rejects.toMatchObject({
        code: 'camera_unavailable',
        message: expect.stringContaining('ffmpeg is not installed'),
      });
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('folder replay', () => {
  const level = (frame: CameraFrame) => frame.image.data[0];

  it('yields the images in name order, resumes where it stopped, and ends', async () => {
    const camera = track(await FolderReplayCamera.open({ kind: 'folder', dir: folder, fps: 0, loop: false }));
    expect(camera.files.map((file) => file.slice(folder.length + 1))).toEqual(['a.png', 'b.png', 'c.jpg']);
    const [first] = await collect(camera, 1);
    expect([first?.image.width, first?.image.height, first && level(first)]).toEqual([640, 480, 10]);
    expect((await collect(camera, 10)).map(level)).toEqual([20, 30]);
    expect(await collect(camera, 10)).toEqual([]);
  });

  it('loops, and paces frames at fps', async () => {
    const looped = track(await FolderReplayCamera.open({ kind: 'folder', dir: folder, fps: 0, loop: true }));
    expect((await collect(looped, 7)).map(level)).toEqual([10, 20, 30, 10, 20, 30, 10]);
    const paced = track(await FolderReplayCamera.open({ kind: 'folder', dir: folder, fps: 20, loop: false }));
    const times = (await collect(paced, 3)).map((frame) => frame.capturedAtMs);
    expect((times[2] as number) - (times[0] as number)).toBeGreaterThanOrEqual(95);
    expect((times[2] as number) - (times[0] as number)).toBeLessThan(400);
  });

  it('stops a paced loop on close()', async () => {
    const camera = await FolderReplayCamera.open({ kind: 'folder', dir: folder, fps: 0.5, loop: true });
    const started = Date.now();
    setTimeout(() => void camera.close(), 200);
    const frames: CameraFrame[] = [];
    for await (const frame of camera.frames()) frames.push(frame);
    expect(frames).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a wrong-size image with its code, an empty and a missing folder', async () => {
    const wrong = join(dir, 'wrong-size');
    await mkdir(wrong);
    await sharp({ create: { width: 320, height: 240, channels: 3, background: 'black' } })
      .png()
      .toFile(join(wrong, 'a.png'));
    const camera = track(await FolderReplayCamera.open({ kind: 'folder', dir: wrong, fps: 0, loop: false }));
    await expect(collect(camera, 1)).rejects.toMatchObject({ code: 'wrong_image_size' });
    const empty = join(dir, 'empty');
    await mkdir(empty);
    for (const folderPath of [empty, join(dir, 'missing')]) {
      await expect(
        FolderReplayCamera.open({ kind: 'folder', dir: folderPath, fps: 0, loop: false }),
      ).rejects.toMatchObject({
        code: 'camera_unavailable',
      });
    }
  });
});

describe('camera specs', () => {
  it('parses each kind from the command line, with defaults and options', () => {
    expect(parseCameraSpec('/dev/video0')).toEqual({
      kind: 'v4l2',
      device: '/dev/video0',
      width: 640,
      height: 480,
      fps: 10,
    });
    expect(
      parseCameraSpec('/dev/v4l/by-id/usb-cam-video-index0', {
        fps: 30,
        pixelFormat: 'mjpeg',
        width: 1280,
        height: 720,
      }),
    ).toEqual({
      kind: 'v4l2',
      device: '/dev/v4l/by-id/usb-cam-video-index0',
      width: 1280,
      height: 720,
      fps: 30,
      pixelFormat: 'mjpeg',
    });
    expect(parseCameraSpec('lavfi:testsrc2=rate=10')).toEqual({
      kind: 'lavfi',
      graph: 'testsrc2=rate=10',
      width: 640,
      height: 480,
    });
    expect(parseCameraSpec(dir, { fps: 0, loop: true })).toEqual({ kind: 'folder', dir, fps: 0, loop: true });
    expect(parseCameraSpec(clip)).toEqual({
      kind: 'video',
      path: clip,
      width: 640,
      height: 480,
      loop: false,
    });
  });

  it('refuses what is none of them, and bad options', () => {
    const bad: [string, Parameters<typeof parseCameraSpec>[1]][] = [
      [join(dir, 'no-such-thing'), {}],
      ['lavfi:', {}],
      ['/dev/video0', { fps: 0 }],
      ['/dev/video0', { width: 0 }],
      ['/dev/video0', { height: 480.5 }],
      [dir, { fps: -1 }],
      [dir, { fps: Number.NaN }],
    ];
    for (const [text, options] of bad) {
      expect(() => parseCameraSpec(text, options), text).toThrowError(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
    }
  });

  it('opens each kind', async () => {
    const descriptions: string[] = [];
    for (const text of ['/dev/video0', 'lavfi:testsrc2', folder, clip]) {
      descriptions.push(track(await openCamera(parseCameraSpec(text))).description);
    }
    expect(descriptions).toEqual([
      'v4l2 /dev/video0 640x480@10',
      'lavfi testsrc2 640x480',
      `folder ${folder} (3 images) @10`,
      `video ${clip} 640x480`,
    ]);
  });
});
