/**
 * What print and screen attacks share: an earlier capture of the person (the attacker's photo of the eye,
 * taken with a camera like ours, or a leaked enrolment image) and where the attacker holds its reproduction
 * in front of the camera (a similarity: scale, in-plane rotation and shift about the image centre).
 */

import { bilinearGrey } from '../grey-sampling.ts';
import { type GeneratedEye, generateEye } from '../synth/generate.ts';
import type { Rng } from '../synth/random.ts';
import { sampleSession } from '../synth/sample.ts';
import type { IrisTexture } from '../synth/texture.ts';
import type { Ellipse, EyeTruth, IdentityParams, Point, Quadratic, SessionParams } from '../synth/types.ts';
import type { GreyImage } from '../types.ts';

const DEG = Math.PI / 180;

/** Where the reproduction sits: camera point = centre + scale R(rotation) (source point - centre) + shift. */
export interface Placement {
  scale: number;
  rotationDeg: number;
  shift: Point;
}

/** The earlier capture, rendered from its own session (pose, lighting, focus and noise of that day). */
export function earlierCapture(
  rng: Rng,
  identity: IdentityParams,
  texture: IrisTexture | undefined,
  index: number,
): { eye: GeneratedEye; session: SessionParams } {
  const session = sampleSession(rng, identity, index);
  return { eye: generateEye({ identity, session, ...(texture ? { texture } : {}) }), session };
}

/** The attacker lines the reproduction up with the camera's guide, within a few percent and pixels. */
export function drawPlacement(rng: Rng): Placement {
  return {
    scale: rng.clampedNormal(1, 0.04, 0.9, 1.1),
    rotationDeg: rng.clampedNormal(0, 3, -8, 8),
    shift: { x: rng.clampedNormal(0, 12, -30, 30), y: rng.clampedNormal(0, 10, -25, 25) },
  };
}

/** Maps camera points to source points and back. */
export class PlacementMap {
  private readonly cos: number;
  private readonly sin: number;
  private readonly cx: number;
  private readonly cy: number;

  constructor(
    readonly placement: Placement,
    width: number,
    height: number,
  ) {
    this.cos = Math.cos(placement.rotationDeg * DEG);
    this.sin = Math.sin(placement.rotationDeg * DEG);
    this.cx = width / 2;
    this.cy = height / 2;
  }

  /** The source point seen at camera point (x, y), written into out. */
  toSource(x: number, y: number, out: Point): Point {
    const dx = (x - this.cx - this.placement.shift.x) / this.placement.scale;
    const dy = (y - this.cy - this.placement.shift.y) / this.placement.scale;
    out.x = this.cx + dx * this.cos + dy * this.sin;
    out.y = this.cy - dx * this.sin + dy * this.cos;
    return out;
  }

  /** The camera point where source point (x, y) appears. */
  toCamera(x: number, y: number): Point {
    const dx = x - this.cx;
    const dy = y - this.cy;
    const s = this.placement.scale;
    return {
      x: this.cx + this.placement.shift.x + s * (dx * this.cos - dy * this.sin),
      y: this.cy + this.placement.shift.y + s * (dx * this.sin + dy * this.cos),
    };
  }
}

/** Bilinear sample of an 8-bit image at a real position; `outside` beyond its edges. */
export function sampleGrey(image: GreyImage, x: number, y: number, outside: number): number {
  const { width, height } = image;
  if (x < -0.5 || y < -0.5 || x > width - 0.5 || y > height - 0.5) return outside;
  return bilinearGrey(image, x, y);
}

/** The source's label map as the camera sees the reproduction (nearest label; 0 beyond the source). */
export function placeLabels(labels: GreyImage, map: PlacementMap): GreyImage {
  const { width, height } = labels;
  const data = new Uint8Array(width * height);
  const p: Point = { x: 0, y: 0 };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      map.toSource(x, y, p);
      const sx = Math.round(p.x);
      const sy = Math.round(p.y);
      if (sx >= 0 && sy >= 0 && sx < width && sy < height)
        data[y * width + x] = labels.data[sy * width + sx] as number;
    }
  }
  return { width, height, data };
}

const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

/** A copy of a truth record with every non-integer number rounded to 4 decimals (for manifests). */
export function roundNumbers<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? round(v, 4) : v)),
  ) as T;
}

function wrapDeg(a: number): number {
  let d = a;
  while (d > 90) d -= 180;
  while (d <= -90) d += 180;
  return d;
}

/**
 * The truth of the depicted eye as the camera sees it: the source's geometry moved by the placement, with
 * the attack capture's camera (its session seed, lighting and noise). blurSigma combines the source's blur
 * (scaled) with the camera's own and `mediumBlur` (ink spread, screen pixels).
 */
export function placeTruth(
  source: EyeTruth,
  map: PlacementMap,
  session: SessionParams,
  mediumBlur: number,
): EyeTruth {
  const { scale, rotationDeg } = map.placement;
  const moveEllipse = (e: Ellipse): Ellipse => {
    const c = map.toCamera(e.x, e.y);
    return {
      x: round(c.x),
      y: round(c.y),
      r: round(e.r * scale),
      a: round(e.a * scale),
      b: round(e.b * scale),
      angleDeg: round(wrapDeg(e.angleDeg + rotationDeg)),
    };
  };
  // In the eye frame u and v scale by `scale`: v = c0 + c1 u + c2 u^2 becomes v' = s c0 + c1 u' + c2 / s u'^2.
  const moveLid = (q: Quadratic): Quadratic => ({
    c0: round(q.c0 * scale, 4),
    c1: q.c1,
    c2: round(q.c2 / scale, 8),
  });
  const origin = map.toCamera(source.eyelids.origin.x, source.eyelids.origin.y);
  return {
    ...source,
    session: session.index,
    seed: session.seed,
    pupil: moveEllipse(source.pupil),
    iris: moveEllipse(source.iris),
    rotationDeg: round(source.rotationDeg + rotationDeg, 4),
    eyelids: {
      origin: { x: round(origin.x), y: round(origin.y) },
      angleDeg: round(source.eyelids.angleDeg + rotationDeg, 4),
      upper: moveLid(source.eyelids.upper),
      lower: moveLid(source.eyelids.lower),
    },
    speculars: source.speculars.map((s) => {
      const c = map.toCamera(s.x, s.y);
      return {
        x: round(c.x, 2),
        y: round(c.y, 2),
        rx: round(s.rx * scale, 2),
        ry: round(s.ry * scale, 2),
        angleDeg: round(wrapDeg(s.angleDeg + rotationDeg), 1),
      };
    }),
    blurSigma: round(
      Math.sqrt((source.blurSigma * scale) ** 2 + session.blurSigma ** 2 + mediumBlur ** 2),
      4,
    ),
    noise: { read: round(session.noise.read), shot: round(session.noise.shot, 4) },
    illumination: { gain: round(session.illumination.gain), vignette: round(session.illumination.vignette) },
  };
}
