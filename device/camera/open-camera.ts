/**
 * Which camera the device agent reads, as data (CameraSpec, a union on `kind`) and as the command line
 * writes it (parseCameraSpec), and openCamera, which turns a spec into a CameraSource.
 *
 *   /dev/video0, /dev/v4l/by-id/...   a V4L2 camera through ffmpeg, at width x height and fps
 *   lavfi:testsrc2=rate=10            an ffmpeg lavfi source graph (tests, demos), at its own rate
 *   a folder                          its PNG/JPEG frames in name order at fps (0: as fast as read)
 *   a file                            a video file through ffmpeg, at its native rate
 */
import { statSync } from 'node:fs';
import { IrisgateError } from '../../protocol/errors.ts';
import type { CameraSource } from './camera-source.ts';
import { FfmpegCamera, type FfmpegCameraSpec } from './ffmpeg-camera.ts';
import { FolderReplayCamera, type FolderReplaySpec } from './replay-camera.ts';

export type CameraSpec = FfmpegCameraSpec | FolderReplaySpec;

export interface CameraSpecOptions {
  /** Output frame size; default 640 x 480. */
  width?: number;
  height?: number;
  /** V4L2 capture rate and folder replay rate; default 10. */
  fps?: number;
  /** V4L2 input format (ffmpeg's -input_format, e.g. mjpeg, yuyv422, gray). */
  pixelFormat?: string;
  /** Replays (folder, video file) start over after their last frame. */
  loop?: boolean;
}

const V4L2_DEVICE = /^\/dev\/(video\d+|v4l\/.+)$/;

export function parseCameraSpec(text: string, options: CameraSpecOptions = {}): CameraSpec {
  const { width = 640, height = 480, fps = 10, pixelFormat, loop = false } = options;
  const invalid = (why: string) => new IrisgateError('invalid_argument', `camera ${text}: ${why}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw invalid(`frame size ${width}x${height} is not two positive integers`);
  }
  if (!(fps >= 0) || !Number.isFinite(fps)) throw invalid(`fps ${fps} is not a number >= 0`);
  if (V4L2_DEVICE.test(text)) {
    if (fps === 0) throw invalid('a V4L2 camera needs fps > 0');
    return { kind: 'v4l2', device: text, width, height, fps, ...(pixelFormat ? { pixelFormat } : {}) };
  }
  if (text.startsWith('lavfi:')) {
    const graph = text.slice('lavfi:'.length);
    if (!graph) throw invalid('empty lavfi graph');
    return { kind: 'lavfi', graph, width, height };
  }
  const stat = statSync(text, { throwIfNoEntry: false });
  if (stat?.isDirectory()) return { kind: 'folder', dir: text, fps, loop };
  if (stat?.isFile()) return { kind: 'video', path: text, width, height, loop };
  throw invalid('not a /dev/video* device, lavfi:<graph>, an existing folder of images or a video file');
}

export async function openCamera(spec: CameraSpec): Promise<CameraSource> {
  switch (spec.kind) {
    case 'v4l2':
    case 'video':
    case 'lavfi':
      return new FfmpegCamera(spec);
    case 'folder':
      return FolderReplayCamera.open(spec);
  }
}
