/**
 * Textured cosmetic contact lens: a soft lens with a printed pigment pattern over the iris ring. The pattern
 * belongs to the lens model (the product), not to the wearer, so every wearer of the same model shows the
 * same pattern over their own iris: that is what lets a lens hide an identity, or make many people look alike.
 *
 * The print is a dot matrix, as on real cosmetic lenses: pigment dots on concentric rows, each dot's size set
 * by the design (halftone), partially transparent so the iris shows between and through the dots. The design
 * mixes a starburst of spokes, concentric bands, blotches and often a dark limbal ring. The pupil zone is clear
 * (an aperture of fixed size: a dilated pupil shows pigment over its edge) and the lens edge, past the limbus,
 * is a faint ring on the sclera. The lens sits on the cornea, so it follows the eye, but it turns and
 * decentres a little each time it is put in.
 *
 * Lens coordinates: polar on the frontal eye plane about the lens centre, radius in iris radii (a lens is
 * sized for a typical iris; the design does not stretch with the pupil).
 */
import { blurredNoise, smoothField } from '../synth/fields.ts';
import { hashSeed, Rng, type Seed } from '../synth/random.ts';
import type { IrisOverlay, SurfacePoint, SurfaceShade } from '../synth/render.ts';
import { type PolarGrid, sampleTexture } from '../synth/texture.ts';

const TWO_PI = 2 * Math.PI;
/** Design table: angular x radial cells between the clear zone and the outer edge of the print. */
const DESIGN_ANGULAR = 512;
const DESIGN_RADIAL = 64;
/** Number of lens models in the catalogue a wearer picks from when none is given. */
export const LENS_CATALOGUE = 8;

export interface LensModel {
  /** The model's seed (hashed). */
  model: number;
  /** Clear pupil zone and outer edge of the print, iris radii. */
  clearRadius: number;
  outerRadius: number;
  /** Dot rows' pitch and the largest dot radius, iris radii. */
  pitch: number;
  dotRadius: number;
  /** Grey level of the pigment in NIR and how much of the light under a dot it blocks. */
  pigmentGrey: number;
  opacity: number;
  /** Radius of the lens edge on the sclera and how much it darkens. */
  edgeRadius: number;
  edgeDepth: number;
  /** Design (0-1: the dot area share), angular x radial over [clearRadius, outerRadius]. */
  design: PolarGrid;
}

const models = new Map<number, LensModel>();

/** The lens model with this seed (cached: the pattern is a pure function of the model). */
export function lensModel(model: Seed): LensModel {
  const key = hashSeed('lens-model', model);
  const cached = models.get(key);
  if (cached) return cached;
  const rng = new Rng(key);
  const clearRadius = rng.uniform(0.36, 0.5);
  const outerRadius = rng.uniform(0.98, 1.1);
  const A = DESIGN_ANGULAR;
  const R = DESIGN_RADIAL;
  const spokes = rng.int(18, 64);
  const spokeWeight = rng.uniform(0.2, 1);
  const spokeTwist = rng.normal(0, 1.5);
  const bands = rng.uniform(1, 4);
  const bandWeight = rng.uniform(0, 0.6);
  const blotchWeight = rng.uniform(0.2, 0.9);
  const limbalRing = rng.chance(0.7) ? rng.uniform(0.06, 0.16) : 0;
  const gradient = rng.uniform(-0.3, 0.6);
  const level = rng.uniform(-0.6, 0.3);
  const blotches = smoothField(rng.fork('blotches'), A, R, rng.uniform(6, 20), true);
  const grain = blurredNoise(rng.fork('grain'), A, R, rng.uniform(1, 3), rng.uniform(1, 3), true);
  const design = new Float32Array(A * R);
  for (let r = 0; r < R; r++) {
    const t = (r + 0.5) / R; // 0 at the clear zone, 1 at the outer edge
    const s = clearRadius + t * (outerRadius - clearRadius);
    for (let c = 0; c < A; c++) {
      const a = (TWO_PI * (c + 0.5)) / A;
      const i = r * A + c;
      let d =
        level +
        gradient * (t - 0.5) +
        spokeWeight * 0.5 * Math.cos(spokes * a + spokeTwist * t) +
        bandWeight * 0.5 * Math.cos(TWO_PI * bands * t) +
        blotchWeight * 0.5 * (blotches[i] as number) +
        0.15 * (grain[i] as number);
      if (limbalRing > 0 && s > outerRadius - limbalRing) d += 1.5;
      // A soft threshold into a dot area share.
      design[i] = 1 / (1 + Math.exp(-4 * d));
    }
  }
  const pitch = rng.uniform(0.028, 0.045);
  const result: LensModel = {
    model: key,
    clearRadius,
    outerRadius,
    pitch,
    dotRadius: pitch * rng.uniform(0.45, 0.6),
    pigmentGrey: rng.chance(0.6) ? rng.uniform(15, 60) : rng.uniform(120, 220),
    opacity: rng.uniform(0.55, 0.95),
    edgeRadius: rng.uniform(1.12, 1.25),
    edgeDepth: rng.uniform(0.02, 0.08),
    design: { radial: R, angular: A, data: design },
  };
  models.set(key, result);
  return result;
}

/** The design's dot area share at lens angle a (radians) and radius s (iris radii), bilinear. */
function designAt(m: LensModel, a: number, s: number): number {
  return sampleTexture(m.design, a, (s - m.clearRadius) / (m.outerRadius - m.clearRadius));
}

/**
 * Pigment ink (0-1) of the lens print at lens angle a and radius s: the nearest dots of the neighbouring
 * rows, each of radius dotRadius * sqrt(design) so that its area follows the design.
 */
export function lensInk(m: LensModel, a: number, s: number): number {
  if (s < m.clearRadius - m.pitch || s > m.outerRadius + m.pitch) return 0;
  const rows = Math.floor((m.outerRadius - m.clearRadius) / m.pitch);
  const j0 = Math.floor((s - m.clearRadius) / m.pitch - 0.5);
  const edge = 0.004; // anti-aliasing half-width, iris radii (about half a pixel)
  let ink = 0;
  for (let j = j0; j <= j0 + 1; j++) {
    if (j < 0 || j >= rows) continue;
    const rj = m.clearRadius + (j + 0.5) * m.pitch;
    const count = Math.floor((TWO_PI * rj) / m.pitch);
    const stagger = (j & 1) * 0.5;
    const k = Math.round((a * count) / TWO_PI - stagger);
    const ak = ((k + stagger) * TWO_PI) / count;
    let da = a - ak;
    da -= TWO_PI * Math.round(da / TWO_PI);
    const dist = Math.hypot(rj * da, s - rj);
    const radius = m.dotRadius * Math.sqrt(designAt(m, ak, rj));
    if (dist < radius + edge) {
      const v = dist <= radius - edge ? 1 : (radius + edge - dist) / (2 * edge);
      if (v > ink) ink = v;
    }
  }
  return ink;
}

export interface LensTruth {
  model: number;
  /** This wear: the lens's turn about its centre (degrees) and its decentration (iris radii, eye frame). */
  rotationDeg: number;
  decentration: { u: number; v: number };
  clearRadius: number;
  outerRadius: number;
  opacity: number;
  pigmentGrey: number;
}

/** The lens of model `model` as put in this time (rotation and decentration from rng). */
export function contactLens(rng: Rng, model: Seed): { overlay: IrisOverlay; truth: LensTruth } {
  const m = lensModel(model);
  const rotation = rng.uniform(0, TWO_PI);
  const du = rng.clampedNormal(0, 0.02, -0.05, 0.05);
  const dv = rng.clampedNormal(0.01, 0.02, -0.05, 0.06);
  const overlay: IrisOverlay = {
    reach: m.edgeRadius + 0.05 + Math.hypot(du, dv),
    shade(p: SurfacePoint, out: SurfaceShade): void {
      const u = p.u - du;
      const v = p.v - dv;
      const s = Math.sqrt(u * u + v * v);
      let grey = p.grey;
      const ink = lensInk(m, Math.atan2(v, u) - rotation, s);
      if (ink > 0) grey += (m.pigmentGrey - grey) * m.opacity * ink;
      const e = (s - m.edgeRadius) / 0.008;
      if (e > -4 && e < 4) grey *= 1 - m.edgeDepth * Math.exp(-e * e);
      out.grey = grey;
    },
  };
  return {
    overlay,
    truth: {
      model: m.model,
      rotationDeg: Math.round((rotation * 180 * 1000) / Math.PI) / 1000,
      decentration: { u: Math.round(du * 1e4) / 1e4, v: Math.round(dv * 1e4) / 1e4 },
      clearRadius: Math.round(m.clearRadius * 1e4) / 1e4,
      outerRadius: Math.round(m.outerRadius * 1e4) / 1e4,
      opacity: Math.round(m.opacity * 1e3) / 1e3,
      pigmentGrey: Math.round(m.pigmentGrey * 10) / 10,
    },
  };
}
