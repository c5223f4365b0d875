/** Task module (protocol/task-pool.ts) of the capture loop's measurement threads: one frame per input. */
import type { GreyImage } from '../iris/types.ts';
import { type FrameMeasurement, measureCaptureFrame } from './frame-measurement.ts';

export async function run(image: GreyImage): Promise<FrameMeasurement> {
  return measureCaptureFrame(image);
}
