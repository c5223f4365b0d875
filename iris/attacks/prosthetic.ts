/**
 * Prosthetic (or doll) eye: a manufactured eye in front of the camera, in the presenter's eye socket.
 *
 * - The iris is painted: either a regular, radially symmetric design (spokes at a fixed angular period,
 *   concentric rings, a collarette) or a hand-painted texture (smooth radial brush strokes, without the fine
 *   crypts and fibres of a real iris). It ends at a sharp painted limbus.
 * - The pupil is painted too: round, centred and of a fixed size that never changes; many black paints
 *   reflect NIR, so it is often greyer than a real pupil.
 * - The acrylic dome is glossy: its reflections of the illuminator are round, crisp and uniform, with
 *   little halo.
 * Eyelids, lashes and skin are the presenter's.
 */
import { blurredNoise } from '../synth/fields.ts';
import { hashSeed, Rng, type Seed } from '../synth/random.ts';
import type { IrisOverlay, SurfacePoint, SurfaceShade } from '../synth/render.ts';
import { type PolarGrid, sampleTexture } from '../synth/texture.ts';
import type { IdentityParams, SessionParams } from '../synth/types.ts';

const TWO_PI = 2 * Math.PI;
const PAINT_ANGULAR = 512;
const PAINT_RADIAL = 64;

export interface ProstheticTruth {
  model: number;
  style: 'radial' | 'painted';
  /** The painted pupil's radius / the iris radius (the same in every capture). */
  pupilRatio: number;
  irisGrey: number;
  pupilGrey: number;
}

interface ProstheticModel {
  truth: ProstheticTruth;
  scleraGrey: number;
  /** exp(contrast * pattern), angular x radial over rho in [0, 1]. */
  paint: PolarGrid;
}

function prostheticModel(model: Seed): ProstheticModel {
  const key = hashSeed('prosthetic-model', model);
  const rng = new Rng(key);
  const style = rng.chance(0.5) ? 'radial' : 'painted';
  const A = PAINT_ANGULAR;
  const R = PAINT_RADIAL;
  const pattern = new Float32Array(A * R);
  const collarette = rng.uniform(0.25, 0.45);
  const collaretteHeight = rng.uniform(-1, 1.5);
  const limbalRing = rng.uniform(0, 1.5);
  if (style === 'radial') {
    const period = rng.int(16, 72);
    const harmonics = [1, 2, 3].map((h) => ({
      k: h * period,
      amp: rng.uniform(0.2, 1) / h,
      phase: rng.uniform(0, TWO_PI),
    }));
    const rings = rng.uniform(2, 6);
    const ringAmp = rng.uniform(0, 0.6);
    for (let r = 0; r < R; r++) {
      const rho = (r + 0.5) / R;
      for (let c = 0; c < A; c++) {
        const a = (TWO_PI * (c + 0.5)) / A;
        let v = ringAmp * Math.cos(TWO_PI * rings * rho);
        for (const h of harmonics) v += h.amp * Math.cos(h.k * a + h.phase);
        pattern[r * A + c] = v;
      }
    }
  } else {
    // Brush strokes: smooth along the radius, a few cells across.
    const strokes = blurredNoise(rng.fork('strokes'), A, R, rng.uniform(1.5, 4), rng.uniform(6, 16), true);
    const blotches = blurredNoise(rng.fork('blotches'), A, R, rng.uniform(10, 30), rng.uniform(4, 10), true);
    const wb = rng.uniform(0.2, 0.8);
    for (let i = 0; i < A * R; i++) pattern[i] = (strokes[i] as number) + wb * (blotches[i] as number);
  }
  const contrast = rng.uniform(0.12, 0.3);
  const paint = new Float32Array(A * R);
  for (let r = 0; r < R; r++) {
    const rho = (r + 0.5) / R;
    const dc = (rho - collarette) / 0.03;
    const ring = collaretteHeight * Math.exp(-dc * dc) - limbalRing * Math.max(0, (rho - 0.85) / 0.15) ** 2;
    for (let c = 0; c < A; c++) {
      const i = r * A + c;
      paint[i] = Math.exp(contrast * ((pattern[i] as number) + ring));
    }
  }
  return {
    truth: {
      model: key,
      style,
      pupilRatio: Math.round(rng.uniform(0.28, 0.45) * 1e4) / 1e4,
      irisGrey: Math.round(rng.uniform(60, 160) * 10) / 10,
      pupilGrey: Math.round(rng.uniform(10, 70) * 10) / 10,
    },
    scleraGrey: rng.uniform(175, 230),
    paint: { radial: R, angular: A, data: paint },
  };
}

/**
 * The presenter's identity and session with the prosthesis in place (a centred round pupil of fixed size, a
 * sharp limbus, a bright uniform sclera, glossy reflections), and the overlay that paints its iris.
 */
export function prosthesis(
  rng: Rng,
  model: Seed,
  identity: IdentityParams,
  session: SessionParams,
): { identity: IdentityParams; session: SessionParams; overlay: IrisOverlay; truth: ProstheticTruth } {
  const m = prostheticModel(model);
  const rotation = rng.uniform(0, TWO_PI);
  const worn: IdentityParams = {
    ...identity,
    pupilOffset: { x: 0, y: 0 },
    pupilAspect: 1,
    pupilBrightness: m.truth.pupilGrey,
    dilationMean: m.truth.pupilRatio,
    radialWarp: 0,
    limbusWidth: 0.8,
    limbusDarkening: 0,
    scleraBrightness: m.scleraGrey,
  };
  const captured: SessionParams = {
    ...session,
    dilation: m.truth.pupilRatio,
    pupilShift: { x: 0, y: 0 },
    textureNoise: 0,
    speculars: session.speculars.map((s) => {
      const rx = s.rx * rng.uniform(1, 1.4);
      return { ...s, rx, ry: rx * rng.uniform(0.95, 1), halo: rng.uniform(2, 10), haloSigma: rx * 0.6 };
    }),
  };
  const overlay: IrisOverlay = {
    reach: 1.02,
    shade(p: SurfacePoint, out: SurfaceShade): void {
      // The painted iris replaces the ring; the renderer draws the painted pupil and the sclera.
      if (p.rho < 0 || p.rho > 1) return;
      out.grey = m.truth.irisGrey * sampleTexture(m.paint, p.theta - rotation, p.rho);
    },
  };
  return { identity: worn, session: captured, overlay, truth: m.truth };
}
