/**
 * The result of classical eye segmentation (see ./index.ts for the steps).
 */
import type { Circle } from '../types.ts';
import type { Parabola } from './eyelids.ts';
import type { Ellipse } from './geometry.ts';

export type { Parabola } from './eyelids.ts';
export type { Ellipse } from './geometry.ts';

export interface Point {
  x: number;
  y: number;
}

/** The boundary points a pupil or iris fit rests on, with how well they support it. */
export interface BoundarySupport {
  /** Boundary points found on the rays (full-resolution pixels), with their weights after fitting. */
  xs: Float64Array;
  ys: Float64Array;
  weights: Float64Array;
  /** Fraction of the rays cast (in the final pass) that support the fit. */
  inlierFraction: number;
  rms: number;
  /** Dark-to-bright step (grey levels) at the accepted points. */
  edgeStrength: number;
}

export interface EyeSegmentation {
  width: number;
  height: number;
  /** Mean-radius circles ((a + b) / 2) of the fitted boundaries. */
  pupil: Circle;
  iris: Circle;
  /** The fitted boundary ellipses (a >= b; theta = major axis angle from +x towards +y, radians). */
  pupilEllipse: Ellipse;
  irisEllipse: Ellipse;
  /** Eyelid margins as parabolas y = c0 + c1 (x - x0) + c2 (x - x0)^2; null = not crossing the iris. */
  eyelids: { upper: Parabola | null; lower: Parabola | null };
  /**
   * Full-image masks (row-major, 1 = set): specular reflections (>= 254, dilated); eyelashes found inside
   * the iris; the iris annulus between the eyelids (`visible`); and the usable iris (`visible` less
   * eyelash and specular pixels).
   */
  masks: { specular: Uint8Array; eyelash: Uint8Array; visible: Uint8Array; iris: Uint8Array };
  /**
   * In-plane eye orientation (radians, from +x towards +y, in (-pi/2, pi/2]): the angle of the line
   * through the eye corners where the two lid parabolas meet. 0 when not estimable
   * (`orientationReliable` false); the normaliser and occlusion measures use this value.
   */
  orientation: number;
  orientationReliable: boolean;
  /** Off-gaze score as open-iris: min of the pupil's and iris's moment eccentricities (0 = round). */
  offgaze: number;
  eyeCenters: { pupil: Point; iris: Point };
  diagnostics: SegmentationDiagnostics;
}

export interface SegmentationDiagnostics {
  /** Coarse pupil candidates evaluated and the index chosen. */
  candidatesTried: number;
  /** Evidence score of the chosen pupil/iris pair (0-1). */
  eyeScore: number;
  /** Whether the darkest pixels line up along one long lid-like curve (as a closed eye's lashes do). */
  lidLine: boolean;
  pupilInlierFraction: number;
  pupilEdgeStrength: number;
  pupilRms: number;
  irisInlierFraction: number;
  irisEdgeStrength: number;
  irisRms: number;
  /** Median grey level of the iris just outside the pupil, and of the pupil. */
  irisLevel: number;
  pupilLevel: number;
  /** Pixels in the iris annulus (inside the image), and of those: between the lids, eyelash, specular. */
  annulusPixels: number;
  visiblePixels: number;
  eyelashPixels: number;
  specularPixels: number;
  /** Eyelid fits: column points found and inliers. */
  upperLid: { points: number; inliers: number; strength: number };
  lowerLid: { points: number; inliers: number; strength: number };
  /** Milliseconds per step. */
  timings: Record<string, number>;
}
