/**
 * The one interface every camera the device agent reads implements: a V4L2 camera through ffmpeg, a
 * replay of a folder of images or of a video file, and the synthetic capture (which follows the IR LED
 * stimulus). A source yields 8-bit greyscale frames (near-infrared cameras are monochrome) stamped with
 * the wall-clock time they were captured.
 *
 *   const camera = await openCamera(spec);
 *   for await (const frame of camera.frames()) { ... if (enough) break; }   // breaking stops the stream
 *   await camera.close();
 */
import type { GreyImage } from '../../iris/types.ts';
import type { StimulusPulse } from '../../protocol/pupil-reflex.ts';

export interface CameraFrame {
  image: GreyImage;
  /** Wall-clock time of capture, ms since the epoch (Date.now() scale). */
  capturedAtMs: number;
}

/** The IR LED stimulus of a capture: the schedule's offsets count from startAtMs (wall clock). */
export interface CaptureStimulus {
  schedule: readonly StimulusPulse[];
  startAtMs: number;
}

export interface CameraSource {
  /** What the operator sees in logs and the status display, e.g. "v4l2 /dev/video0 640x480@10". */
  readonly description: string;
  /**
   * Frames as they are captured, in order, until the source ends (a finite replay), the consumer breaks
   * out of the loop, or close() is called. Only one iteration may be active at a time; each call starts
   * reading from the source's current position (a live camera: now; a replay: where the last one stopped,
   * or from the start again when `loop` was set).
   */
  frames(): AsyncIterable<CameraFrame>;
  /**
   * The stimulus the device is about to play with its IR LED. A real camera ignores it (the LED acts on the
   * eye, not on the camera); the synthetic capture renders the pupil's answer to it.
   */
  setStimulus?(stimulus: CaptureStimulus | undefined): void;
  close(): Promise<void>;
}
