/**
 * Patches: a sticker or a piece of printed film on the eye, over part of the iris. It lies on the cornea, so
 * it is a flat shape on the frontal eye plane that may reach over the limbus onto the sclera and over the
 * pupil; the camera sees it through the same foreshortening, lids, lashes, lighting, blur and noise as the
 * eye. Its size is fitted so that it covers a wanted share of the visible iris (the annulus between the
 * lids), which the renderer then measures on the result (truth.patchFraction, pixels labelled LABEL.patch).
 *
 * Shapes: ellipse, blob (an ellipse with a wavy outline), rectangle (a superellipse with rounded corners) and
 * arc (a band along the iris ring, often across its outer edge). Contents:
 * - random: a random grey texture, smooth or blotchy (what an attacker optimising a patch starts from);
 * - other-iris: another person's iris texture, placed where it sits in the donor's eye (the impersonation
 *   patch), with the donor's limbus and sclera where it crosses the edge;
 * - printed: a printed texture: a halftone of an iris-like or random image in black ink on bright paper.
 * A thin darker rim marks the sticker's edge. Everything is a function of the frontal position only: a
 * sticker does not stretch with the pupil.
 */
import { blurredNoise, smoothField, smoothstep } from '../synth/fields.ts';
import type { EyeGeometry } from '../synth/geometry.ts';
import { computeGeometry } from '../synth/geometry.ts';
import type { Rng } from '../synth/random.ts';
import type { IrisOverlay, SurfacePoint, SurfaceShade } from '../synth/render.ts';
import { generateIrisTexture, type IrisTexture, sampleTexture } from '../synth/texture.ts';
import type { IdentityParams, SessionParams } from '../synth/types.ts';
import { coverageFor, halftoner, screenSeed } from './halftone.ts';

const TWO_PI = 2 * Math.PI;

export const PATCH_SHAPES = ['ellipse', 'blob', 'rectangle', 'arc'] as const;
export type PatchShape = (typeof PATCH_SHAPES)[number];
export type PatchContent = 'random' | 'other-iris' | 'printed';

/** The smallest and largest share of the visible iris a patch attack covers. */
export const PATCH_FRACTION_RANGE = [0.05, 0.4] as const;

export interface PatchOptions {
  content: PatchContent;
  /** The share of the visible iris to cover, in [0.01, 0.95]. */
  fraction: number;
  shape?: PatchShape;
  /** other-iris: whose iris the patch shows (default: a stranger drawn from rng). */
  donor?: IdentityParams;
  /** other-iris: how far the donor texture is turned from its place in the donor's eye, degrees (default 0). */
  donorRotationDeg?: number;
}

export interface PatchTruth {
  shape: PatchShape;
  content: PatchContent;
  /** The share of the visible iris asked for (the measured share is the capture's patchFraction). */
  targetFraction: number;
  /**
   * Centre on the frontal eye plane (eye frame, iris radii), orientation (degrees) and half-axes (iris radii).
   * An arc is a band along the ring: angleDeg is its direction from the iris centre, halfAxes.a its angular
   * half-width (radians) and halfAxes.b its radial half-width (iris radii).
   */
  centre: { u: number; v: number };
  angleDeg: number;
  halfAxes: { a: number; b: number };
  /** Whether the visible part of the patch crosses the limbus (the iris's outer edge) or the pupil boundary. */
  crossesLimbus: boolean;
  coversPupil: boolean;
  /** other-iris: the donor's identity and texture seed. */
  donor?: { identity: number; textureSeed: number };
}

interface VisibleSamples {
  /** Visible annulus pixel centres (frontal u, v in iris radii). */
  u: Float32Array;
  v: Float32Array;
  count: number;
  /** Visible points just outside the limbus and just inside the pupil boundary. */
  limbus: Array<{ u: number; v: number }>;
  pupil: Array<{ u: number; v: number }>;
}

/**
 * Pixel centres of the visible iris (inside the iris, outside the pupil, between the lids: what the renderer
 * counts), as frontal eye-plane positions in iris radii, with the visible points just past either boundary.
 */
function visibleSamples(g: EyeGeometry, session: SessionParams): VisibleSamples {
  const { upper, lower } = session.eyelids;
  const reach = g.iris.a + 6;
  const x0 = Math.floor(g.centre.x - reach);
  const x1 = Math.ceil(g.centre.x + reach);
  const y0 = Math.floor(g.centre.y - reach);
  const y1 = Math.ceil(g.centre.y + reach);
  const us: number[] = [];
  const vs: number[] = [];
  const limbus: Array<{ u: number; v: number }> = [];
  const pupil: Array<{ u: number; v: number }> = [];
  const ri = g.irisRadius;
  const band = 3 / ri; // about 3 pixels
  const pupilBand = (1 - 3 / g.pupilRadius) ** 2;
  const inv = g.gazeInv;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x - g.centre.x;
      const dy = y - g.centre.y;
      const eu = dx * g.cosRot + dy * g.sinRot;
      const ev = -dx * g.sinRot + dy * g.cosRot;
      if (ev <= upper.c0 + upper.c1 * eu + upper.c2 * eu * eu) continue;
      if (ev >= lower.c0 + lower.c1 * eu + lower.c2 * eu * eu) continue;
      // The frontal plane (image units about the iris centre), then the eye frame in iris radii.
      const fx = inv.a * dx + inv.b * dy;
      const fy = inv.c * dx + inv.d * dy;
      const f = { u: (fx * g.cosRot + fy * g.sinRot) / ri, v: (-fx * g.sinRot + fy * g.cosRot) / ri };
      const px = g.centre.x + fx - g.pupilCentre.x;
      const py = g.centre.y + fy - g.pupilCentre.y;
      const qx = g.pupilInv.a * px + g.pupilInv.b * py;
      const qy = g.pupilInv.c * px + g.pupilInv.d * py;
      const q2 = qx * qx + qy * qy;
      const s = Math.hypot(f.u, f.v);
      if (s <= 1 && q2 > 1) {
        us.push(f.u);
        vs.push(f.v);
      } else if (s > 1 && s < 1 + band) limbus.push(f);
      else if (q2 <= 1 && q2 > pupilBand) pupil.push(f);
    }
  }
  return { u: Float32Array.from(us), v: Float32Array.from(vs), count: us.length, limbus, pupil };
}

/** A patch outline: inside where level(u, v) <= 1, growing with `size`. */
interface Outline {
  level(u: number, v: number): number;
  /** The largest frontal radius (iris radii) inside the outline. */
  reach(): number;
  size: number;
}

function makeOutline(
  rng: Rng,
  shape: PatchShape,
  centre: { u: number; v: number },
): Outline & { angle: number; a0: number; b0: number } {
  const angle = rng.uniform(0, Math.PI);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const aspect = shape === 'rectangle' ? rng.uniform(0.4, 1) : rng.uniform(0.5, 1);
  const a0 = 1;
  const b0 = aspect;
  const n = rng.uniform(3, 6);
  const harmonics = [2, 3, 4, 5].map((k) => ({
    k,
    amp: rng.uniform(0, 0.12),
    phase: rng.uniform(0, TWO_PI),
  }));
  const wobble = harmonics.reduce((sum, h) => sum + h.amp, 0);
  if (shape === 'arc') {
    // A band along the ring: an angular half-width and a radial band around the centre's radius.
    const a0Arc = Math.atan2(centre.v, centre.u);
    const sMid = Math.hypot(centre.u, centre.v);
    const halfWidth = rng.uniform(0.1, 0.25);
    const outline = {
      angle: a0Arc,
      a0: 0,
      b0: halfWidth,
      size: 0.3,
      level(u: number, v: number): number {
        const half = Math.min(Math.PI, this.size);
        const width = halfWidth * Math.max(1, this.size / Math.PI);
        let da = Math.atan2(v, u) - a0Arc;
        da -= TWO_PI * Math.round(da / TWO_PI);
        const p = Math.abs(da) / half;
        const q = Math.abs(Math.hypot(u, v) - sMid) / width;
        return (p ** 6 + q ** 6) ** (1 / 6);
      },
      reach(): number {
        return sMid + halfWidth * Math.max(1, this.size / Math.PI);
      },
    };
    return outline;
  }
  return {
    angle,
    a0,
    b0,
    size: 0.3,
    level(u: number, v: number): number {
      const du = u - centre.u;
      const dv = v - centre.v;
      const p = (du * c + dv * s) / (this.size * a0);
      const q = (-du * s + dv * c) / (this.size * b0);
      if (shape === 'ellipse') return Math.hypot(p, q);
      if (shape === 'rectangle') return (Math.abs(p) ** n + Math.abs(q) ** n) ** (1 / n);
      const psi = Math.atan2(q, p);
      let r = 1;
      for (const h of harmonics) r += h.amp * Math.cos(h.k * psi + h.phase);
      return Math.hypot(p, q) / r;
    },
    reach(): number {
      return (
        Math.hypot(centre.u, centre.v) + this.size * a0 * (shape === 'rectangle' ? Math.SQRT2 : 1 + wobble)
      );
    },
  };
}

/** Covered share of the visible samples. */
function coverage(outline: Outline, samples: VisibleSamples): number {
  let covered = 0;
  for (let k = 0; k < samples.count; k++) {
    if (outline.level(samples.u[k] as number, samples.v[k] as number) <= 1) covered++;
  }
  return covered / Math.max(1, samples.count);
}

/** Sets outline.size so that it covers `target` of the visible samples (bisection; coverage grows with size). */
function fitSize(outline: Outline, samples: VisibleSamples, target: number): void {
  let lo = 0;
  let hi = 0.25;
  outline.size = hi;
  while (coverage(outline, samples) < target && hi < 64) {
    lo = hi;
    hi *= 2;
    outline.size = hi;
  }
  for (let k = 0; k < 30; k++) {
    outline.size = (lo + hi) / 2;
    if (coverage(outline, samples) < target) lo = outline.size;
    else hi = outline.size;
  }
  outline.size = hi;
}

/** The patch's surface: grey level at a point inside it. */
type Content = (p: SurfacePoint) => number;

function randomContent(rng: Rng, identity: IdentityParams, reach: number): Content {
  const cells = 192;
  // Two scales: blotches of 2-10% of the iris radius and a finer grain, mixed per patch.
  const coarse = smoothField(rng.fork('coarse'), cells, cells, rng.uniform(2, 8));
  const fine = blurredNoise(rng.fork('fine'), cells, cells, rng.uniform(0.5, 2), rng.uniform(0.5, 2));
  const fineWeight = rng.chance(0.5) ? rng.uniform(0.2, 1) : 0;
  const sharp = rng.chance(0.4) ? rng.uniform(2, 6) : 1;
  const mean = rng.chance(0.5) ? identity.irisBrightness * rng.uniform(0.8, 1.2) : rng.uniform(30, 210);
  const amplitude = rng.uniform(15, 70);
  const scale = (cells - 1) / (2 * reach);
  const at = (field: Float32Array, i: number, fx: number, fy: number) => {
    const top = (field[i] as number) * (1 - fx) + (field[i + 1] as number) * fx;
    const bottom = (field[i + cells] as number) * (1 - fx) + (field[i + cells + 1] as number) * fx;
    return top + (bottom - top) * fy;
  };
  return (p) => {
    const x = Math.min(cells - 1.001, Math.max(0, (p.u + reach) * scale));
    const y = Math.min(cells - 1.001, Math.max(0, (p.v + reach) * scale));
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    const i = y0 * cells + x0;
    const f = at(coarse, i, x - x0, y - y0) + fineWeight * at(fine, i, x - x0, y - y0);
    return Math.max(2, mean + amplitude * Math.tanh(sharp * f));
  };
}

/**
 * A piece of the donor's iris photo, printed to the wearer's iris size and placed where it sits in the
 * donor's eye: polar about the iris centre on the frontal plane, with the donor's pupil boundary at the
 * wearer's typical pupil size (a sticker cannot follow the live pupil).
 */
function donorContent(
  rng: Rng,
  identity: IdentityParams,
  donor: IdentityParams,
  rotationDeg: number,
): Content {
  const texture: IrisTexture = generateIrisTexture(donor.textureSeed);
  // The attacker matches the donor's print to the wearer's brightness, roughly.
  const brightness = identity.irisBrightness * rng.uniform(0.85, 1.15);
  const contrast = donor.irisContrast;
  const turn = (rotationDeg * Math.PI) / 180;
  const limbus = donor.limbusDarkening;
  const sclera = Math.min(255, donor.scleraBrightness * (brightness / donor.irisBrightness));
  const pupil = donor.pupilBrightness;
  const pupilRatio = identity.dilationMean;
  return (p) => {
    const rhoPrinted = (Math.hypot(p.u, p.v) - pupilRatio) / (1 - pupilRatio);
    const rho = rhoPrinted < 0 ? 0 : rhoPrinted > 1 ? 1 : rhoPrinted;
    let v = brightness * Math.exp(contrast * sampleTexture(texture, Math.atan2(p.v, p.u) + turn, rho));
    if (rho > 0.68) v *= 1 - limbus * smoothstep(0.68, 1, rho);
    // The donor's own limbus and pupil boundary, where the patch crosses them.
    v += (sclera - v) * smoothstep(1, 1.03, rhoPrinted);
    v += (pupil - v) * smoothstep(0, -0.03, rhoPrinted);
    return v;
  };
}

function printedContent(rng: Rng, reach: number): Content {
  const iris = rng.chance(0.5) ? generateIrisTexture(rng.nextU32()) : undefined;
  const cells = 128;
  const field = smoothField(rng.fork('printed'), cells, cells, rng.uniform(4, 14));
  const fibre = smoothField(rng.fork('fibre'), cells, cells, rng.uniform(1.5, 3));
  const scale = (cells - 1) / (2 * reach);
  // Clustered dots 2.5-5 pixels apart, or inkjet droplets of 0.15-0.35 pixels (in iris radii), seen through
  // supersamples about half a pixel apart.
  const am = rng.chance(0.7);
  const footprint = 0.0045;
  const droplet = rng.uniform(0.0014, 0.0032);
  const screen = halftoner({
    kind: am ? 'am' : 'fm',
    period: am ? rng.uniform(0.022, 0.045) : footprint,
    droplets: (footprint / droplet) ** 2,
    angleDeg: rng.chance(0.5) ? 45 : rng.uniform(0, 90),
    seed: screenSeed(rng.nextU32(), 'patch'),
  });
  const gamma = rng.uniform(0.7, 1.4);
  const paper = rng.uniform(150, 235);
  const ink = rng.uniform(8, 35);
  const texture = rng.uniform(0.02, 0.06);
  const at = (data: Float32Array, p: SurfacePoint) => {
    const x = Math.min(cells - 1, Math.max(0, Math.round((p.u + reach) * scale)));
    const y = Math.min(cells - 1, Math.max(0, Math.round((p.v + reach) * scale)));
    return data[y * cells + x] as number;
  };
  return (p) => {
    // An iris picture is printed about the iris centre (frontal plane): a pupil of 0.4 iris radii, the iris
    // ring and the sclera beyond.
    let tone: number;
    if (iris) {
      const rho = (Math.hypot(p.u, p.v) - 0.4) / 0.6;
      tone = 0.5 + 0.18 * sampleTexture(iris, Math.atan2(p.v, p.u), rho);
      tone += (0.08 - tone) * smoothstep(0.02, -0.02, rho) + (0.8 - tone) * smoothstep(0.98, 1.02, rho);
    } else tone = 0.5 + 0.25 * at(field, p);
    const covered = screen.ink(p.u, p.v, coverageFor(tone, gamma));
    return (paper - (paper - ink) * covered) * (1 + texture * at(fibre, p));
  };
}

/**
 * Draws a patch placed on the capture `session` (its capture at rest, for every frame of a reflex capture),
 * fitted to cover options.fraction of that capture's visible iris.
 */
export function makePatch(
  rng: Rng,
  identity: IdentityParams,
  session: SessionParams,
  options: PatchOptions,
): { overlay: IrisOverlay; truth: PatchTruth } {
  const g = computeGeometry(identity, session);
  const samples = visibleSamples(g, session);
  const shape = options.shape ?? rng.pick(PATCH_SHAPES);
  const target = Math.min(0.95, Math.max(0.01, options.fraction));
  // The centre: a visible iris point, half of the time pushed out to (or past) the limbus.
  const k = rng.int(0, Math.max(0, samples.count - 1));
  let cu = samples.u[k] ?? 0.7;
  let cv = samples.v[k] ?? 0;
  if (rng.chance(0.5)) {
    const s = Math.max(1e-6, Math.hypot(cu, cv));
    const to = rng.uniform(0.9, 1.12);
    cu *= to / s;
    cv *= to / s;
  }
  const centre = { u: cu, v: cv };
  const outline = makeOutline(rng.fork('outline'), shape, centre);
  fitSize(outline, samples, target);
  const reach = Math.min(1.8, outline.reach() + 0.02);
  const rim = rng.uniform(0, 0.35);
  const rimWidth = rng.uniform(0.008, 0.02); // iris radii
  const minAxis = shape === 'arc' ? outline.b0 : outline.size * Math.min(outline.a0, outline.b0);

  let donor: IdentityParams | undefined;
  let content: Content;
  if (options.content === 'random') content = randomContent(rng.fork('content'), identity, reach);
  else if (options.content === 'printed') content = printedContent(rng.fork('content'), reach);
  else {
    donor = options.donor ?? strangerOf(rng.fork('donor'), identity);
    content = donorContent(rng.fork('content'), identity, donor, options.donorRotationDeg ?? 0);
  }

  const overlay: IrisOverlay = {
    reach,
    shade(p: SurfacePoint, out: SurfaceShade): void {
      const level = outline.level(p.u, p.v);
      if (level > 1) return;
      let grey = content(p);
      // The sticker's edge: a thin darker rim (its thickness catches less light).
      if (rim > 0) grey *= 1 - rim * smoothstep(1 - rimWidth / minAxis, 1, level);
      out.grey = grey;
      out.covered = true;
    },
  };
  const inside = (q: { u: number; v: number }) => outline.level(q.u, q.v) <= 1;
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  return {
    overlay,
    truth: {
      shape,
      content: options.content,
      targetFraction: round(target),
      centre: { u: round(centre.u), v: round(centre.v) },
      angleDeg: round((outline.angle * 180) / Math.PI),
      halfAxes:
        shape === 'arc'
          ? {
              a: round(Math.min(Math.PI, outline.size)),
              b: round(outline.b0 * Math.max(1, outline.size / Math.PI)),
            }
          : { a: round(outline.size * outline.a0), b: round(outline.size * outline.b0) },
      crossesLimbus: samples.limbus.some(inside),
      coversPupil: samples.pupil.some(inside),
      ...(donor ? { donor: { identity: donor.id, textureSeed: donor.textureSeed } } : {}),
    },
  };
}

/** Someone else: the wearer's parameters with another iris texture and appearance. */
function strangerOf(rng: Rng, identity: IdentityParams): IdentityParams {
  return {
    ...identity,
    id: -1,
    name: 'stranger',
    textureSeed: rng.nextU32(),
    irisBrightness: rng.uniform(65, 150),
    irisContrast: rng.uniform(0.08, 0.2),
    limbusDarkening: rng.uniform(0.1, 0.45),
  };
}
