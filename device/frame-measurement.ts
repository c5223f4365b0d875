/**
 * What the capture loop needs of every frame, computed off its thread (device/frame-measure-task.ts runs
 * it in worker threads): the pupil radius for the reflex evidence, and, when the frame passes the quality
 * gates, the measured stages the iris pipeline encodes from. A frame with no pupil (a blink) or one the
 * gates refuse carries the refusal's code, for the operator.
 */
import { type MeasuredFrameStages, measureSegmentedFrame } from '../iris/pipeline.ts';
import { segmentEye } from '../iris/segmentation/index.ts';
import type { GreyImage } from '../iris/types.ts';
import { type ErrorCode, IrisgateError } from '../protocol/errors.ts';
import { UNMEASURED_PUPIL_PX } from '../protocol/pupil-reflex.ts';

export type FrameMeasurement =
  | { pupilRadiusPx: number; stages: MeasuredFrameStages }
  /** pupilRadiusPx is UNMEASURED_PUPIL_PX when the segmentation itself failed. */
  | { pupilRadiusPx: number; refused: ErrorCode };

export function measureCaptureFrame(image: GreyImage): FrameMeasurement {
  let pupilRadiusPx: number = UNMEASURED_PUPIL_PX;
  try {
    const segmentation = segmentEye(image);
    pupilRadiusPx = segmentation.pupil.r;
    return { pupilRadiusPx, stages: measureSegmentedFrame(image, segmentation) };
  } catch (error) {
    if (!(error instanceof IrisgateError)) throw error;
    return { pupilRadiusPx, refused: error.code };
  }
}
