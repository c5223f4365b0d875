/**
 * Parameter and ground-truth shapes of the synthetic near-infrared eye generator.
 *
 * Conventions (all in image pixels, pixel (col, row) centred at (x, y) = (col, row), y down):
 * - Angles are measured from the image's +x axis towards +y, i.e. clockwise on screen, in degrees in the
 *   truth and in radians internally. This is the angle convention of iris/types.ts's rubber sheet.
 * - The eye frame is the image frame rotated by the session's rotation about the iris centre: u along
 *   (cos rot, sin rot), v along (-sin rot, cos rot) (v points down the face when rot = 0).
 * - The rubber sheet of a boundary pair: for a polar angle theta, P(theta) and I(theta) are the points of the
 *   pupil and iris ellipses in direction theta from their own centres; point(theta, rho) = (1 - rho) P + rho I.
 *   The identity texture at texture angle t is found at image angle theta = t + rotation.
 */

export interface Point {
  x: number;
  y: number;
}

/** An ellipse in the image. */
export interface Ellipse {
  /** Centre. */
  x: number;
  y: number;
  /** Mean radius (a + b) / 2, so the ellipse can stand in for iris/types.ts's Circle. */
  r: number;
  /** Semi-major and semi-minor axes, a >= b. */
  a: number;
  b: number;
  /** Direction of the major axis, degrees in (-90, 90], clockwise on screen from +x. */
  angleDeg: number;
}

/** A parabola v = c0 + c1 u + c2 u^2 in the eye frame (pixels). */
export interface Quadratic {
  c0: number;
  c1: number;
  c2: number;
}

/** What stays the same for one person's eye across captures. */
export interface IdentityParams {
  /** 0-based identity index and its name, e.g. 'id0007'. */
  id: number;
  name: string;
  /** Seeds the identity's iris texture. */
  textureSeed: number;
  /** Which eye: decides the nasal side (image +x for a right eye seen by the camera). */
  eye: 'left' | 'right';
  /** Iris radius at the nominal capture distance, pixels. */
  irisRadius: number;
  /** Mean NIR grey level of the iris (before illumination) and the log-contrast of its texture. */
  irisBrightness: number;
  irisContrast: number;
  /** Darkening of the outer iris towards the limbus (0-1) and the width of the iris-sclera blend, pixels. */
  limbusDarkening: number;
  limbusWidth: number;
  /** Grey level of the pupil. */
  pupilBrightness: number;
  /** Pupil minor/major axis ratio (<= 1) and major-axis direction in the eye frame, degrees. */
  pupilAspect: number;
  pupilAxisDeg: number;
  /** Pupil centre minus iris centre in the eye frame, in iris radii (usually nasal and inferior). */
  pupilOffset: Point;
  /** Typical pupil/iris radius ratio of this person. */
  dilationMean: number;
  /** Non-linearity of the iris stretch with dilation (0 = pure rubber sheet). */
  radialWarp: number;
  scleraBrightness: number;
  skinBrightness: number;
  /** Eye opening: corner distances from the iris centre along u and their heights v, in iris radii. */
  eyeShape: { nasalWidth: number; temporalWidth: number; nasalHeight: number; temporalHeight: number };
  /** Eyelash density and length multipliers and grey level. */
  lashes: { density: number; length: number; grey: number };
  /** Distance of the upper-lid crease above the lid margin, iris radii. */
  creaseGap: number;
}

export interface Specular {
  /** Centre in the image, semi-axes (pixels), orientation (degrees). */
  x: number;
  y: number;
  rx: number;
  ry: number;
  angleDeg: number;
  /** Core level (far above 255, so it saturates even after blur) and halo level and width. */
  peak: number;
  halo: number;
  haloSigma: number;
}

/** What one capture of an identity varies. */
export interface SessionParams {
  identity: number;
  /** 0-based session index. */
  index: number;
  /** Seeds the rendering noise, eyelashes and skin of this capture. */
  seed: number;
  /** Iris centre in the image. */
  centre: Point;
  /** Iris radius this capture (identity radius times a distance factor), pixels. */
  irisRadius: number;
  /** In-plane rotation of the whole eye (head roll), degrees, clockwise on screen. */
  rotationDeg: number;
  /** Pupil/iris mean radius ratio on the frontal eye. */
  dilation: number;
  /** Extra pupil-centre displacement this capture (eye frame, pixels). */
  pupilShift: Point;
  /** Off-axis gaze: the eye plane is foreshortened by cos(offAxis) along direction. */
  gaze: { offAxisDeg: number; directionDeg: number };
  /** Eyelid margins in the eye frame (pixels) and the eye corners they pass through. */
  eyelids: { upper: Quadratic; lower: Quadratic; nasalCorner: Point; temporalCorner: Point };
  /** Eyelash counts and the share of upper lashes that droop over the eye. */
  lashes: { upper: number; lower: number; droop: number };
  speculars: Specular[];
  /** Lighting: gain, linear gradient (fraction per 400 px), vignetting, a broad hot spot, upper-lid shadow. */
  illumination: {
    gain: number;
    gradient: Point;
    vignette: number;
    hotspot: { x: number; y: number; sigma: number; amplitude: number };
    lidShadow: number;
    lidShadowWidth: number;
  };
  /** Sensor noise: read noise (grey levels), shot-noise factor (variance per grey level), row banding. */
  noise: { read: number; shot: number; rows: number };
  /** Defocus: Gaussian blur sigma, pixels. */
  blurSigma: number;
  /** Per-capture texture instability (added texture noise, in texture standard deviations). */
  textureNoise: number;
  /**
   * A frame of a sequence (a reflex capture): its sensor noise is drawn for this frame alone; the scene
   * stays the session's. Absent for a single capture.
   */
  frame?: number;
}

/** Ground truth of one generated image (one manifest entry). */
export interface EyeTruth {
  file: string;
  identity: number;
  identityName: string;
  session: number;
  eye: 'left' | 'right';
  /** The session's seed (rendering) and the identity's texture seed. */
  seed: number;
  textureSeed: number;
  width: number;
  height: number;
  pupil: Ellipse;
  iris: Ellipse;
  /** Mean pupil radius / mean iris radius in the image. */
  pupilIrisRatio: number;
  rotationDeg: number;
  gaze: { offAxisDeg: number; directionDeg: number };
  /** Eyelid margins: parabolas v = c0 + c1 u + c2 u^2 in the eye frame (origin, angle); visible between them. */
  eyelids: { origin: Point; angleDeg: number; upper: Quadratic; lower: Quadratic };
  /** Share of the iris annulus (inside the iris ellipse, outside the pupil ellipse) between the eyelids. */
  visibleIrisFraction: number;
  /** 1 - visibleIrisFraction, and the parts hidden by each lid. */
  occlusionFraction: number;
  upperOcclusion: number;
  lowerOcclusion: number;
  /** Share of the visible annulus (between the lids) under eyelashes (alpha >= 0.5) and specular cores. */
  eyelashFraction: number;
  specularFraction: number;
  /**
   * Only when something covers part of the eye (a patch, see iris/attacks): the share of the visible annulus
   * (pixel centres between the lids) under it, labelled LABEL.patch.
   */
  patchFraction?: number;
  speculars: Array<{ x: number; y: number; rx: number; ry: number; angleDeg: number }>;
  blurSigma: number;
  noise: { read: number; shot: number };
  illumination: { gain: number; vignette: number };
}

/**
 * Label values of the optional per-pixel segmentation written next to each image. `patch` marks an occluding
 * object on the eye (only in presentation-attack captures, iris/attacks); live captures never use it.
 */
export const LABEL = { skin: 0, sclera: 1, iris: 2, pupil: 3, eyelash: 4, specular: 5, patch: 6 } as const;
