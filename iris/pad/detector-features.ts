/**
 * The frame model's feature vector (DETECTOR_FEATURE_NAMES): the image-level texture features
 * (features.ts) and how well the segmentation's boundaries are supported (a print or a prosthesis gives
 * other edges than a living eye).
 */
import type { EyeSegmentation } from '../segmentation/types.ts';
import { PAD_FEATURE_NAMES } from './features.ts';

export const SEGMENTATION_FEATURE_NAMES: readonly string[] = [
  'seg_eye_score',
  'seg_pupil_inliers',
  'seg_pupil_rms',
  'seg_pupil_edge',
  'seg_iris_inliers',
  'seg_iris_rms',
  'seg_iris_edge',
];

export const DETECTOR_FEATURE_NAMES: readonly string[] = [
  ...PAD_FEATURE_NAMES,
  ...SEGMENTATION_FEATURE_NAMES,
];

export function segmentationFeatures(seg: EyeSegmentation): number[] {
  const d = seg.diagnostics;
  const edge = (v: number) => Math.log1p(Math.max(0, v));
  return [
    d.eyeScore,
    d.pupilInlierFraction,
    Math.log1p(d.pupilRms),
    edge(d.pupilEdgeStrength),
    d.irisInlierFraction,
    Math.log1p(d.irisRms),
    edge(d.irisEdgeStrength),
  ];
}
