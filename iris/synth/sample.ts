/**
 * Random draws of identities (what stays the same for a person's eye) and sessions (what one capture varies).
 * Every draw comes from the Rng passed in, so a seed fixes the whole data set.
 */
import { annulusSamples, measureOcclusion, solveLid } from './eyelids.ts';
import { computeGeometry, fromEyeFrame, insideEllipse } from './geometry.ts';
import type { Rng } from './random.ts';
import type { IdentityParams, Point, SessionParams, Specular } from './types.ts';

export const IMAGE_WIDTH = 640;
export const IMAGE_HEIGHT = 480;
/** Upper bound of the eyelid occlusion of the iris annulus. */
export const MAX_OCCLUSION = 0.35;

const DEG = Math.PI / 180;

export function identityName(id: number): string {
  return `id${String(id).padStart(4, '0')}`;
}

/** Draws one identity. */
export function sampleIdentity(rng: Rng, id: number): IdentityParams {
  const textureSeed = rng.nextU32();
  const eye = rng.chance(0.5) ? 'right' : 'left';
  const nasal = eye === 'right' ? 1 : -1;
  let offU = nasal * rng.normal(0.025, 0.02);
  let offV = rng.normal(0.015, 0.015);
  const off = Math.hypot(offU, offV);
  if (off > 0.08) {
    offU *= 0.08 / off;
    offV *= 0.08 / off;
  }
  return {
    id,
    name: identityName(id),
    textureSeed,
    eye,
    irisRadius: rng.uniform(95, 130),
    irisBrightness: rng.uniform(65, 150),
    // Calibrated on open-iris's real sample, whose rubber-sheet texture has a standard deviation of 16 grey
    // levels: this range gives about 8-26 (median 16). The earlier 0.1-0.25 reached twice the sample's
    // contrast, where half of the Gabor responses exceed open-iris's fragile-bit cap, which open-iris's
    // own failure-to-enrol on real data (0.24% on ICE-2005) says real irises seldom do.
    irisContrast: rng.uniform(0.08, 0.2),
    limbusDarkening: rng.uniform(0.1, 0.45),
    limbusWidth: rng.uniform(1.5, 4.5),
    pupilBrightness: rng.uniform(8, 42),
    pupilAspect: rng.uniform(0.92, 1),
    pupilAxisDeg: rng.uniform(-90, 90),
    pupilOffset: { x: offU, y: offV },
    dilationMean: rng.uniform(0.3, 0.48),
    radialWarp: rng.uniform(-0.4, 0.4),
    scleraBrightness: rng.uniform(145, 215),
    skinBrightness: rng.uniform(150, 235),
    eyeShape: {
      nasalWidth: rng.uniform(1.9, 2.5),
      temporalWidth: rng.uniform(2.0, 2.7),
      nasalHeight: rng.uniform(0.0, 0.35),
      temporalHeight: rng.uniform(-0.3, 0.15),
    },
    lashes: { density: rng.uniform(0.5, 1.5), length: rng.uniform(0.7, 1.35), grey: rng.uniform(12, 60) },
    creaseGap: rng.uniform(0.3, 0.7),
  };
}

/** Draws one capture of an identity: pose, pupil, lids, lighting, optics and sensor. */
export function sampleSession(rng: Rng, identity: IdentityParams, index: number): SessionParams {
  const seed = rng.nextU32();
  const nasal = identity.eye === 'right' ? 1 : -1;
  const irisRadius = identity.irisRadius * rng.uniform(0.94, 1.06);
  const margin = irisRadius + 12;
  const centre = {
    x: Math.min(IMAGE_WIDTH - margin, Math.max(margin, rng.normal(IMAGE_WIDTH / 2, 45))),
    y: Math.min(IMAGE_HEIGHT - margin, Math.max(margin, rng.normal(IMAGE_HEIGHT / 2, 30))),
  };
  const rotationDeg = rng.uniform(-10, 10);
  const dilation = rng.clampedNormal(identity.dilationMean, 0.1, 0.2, 0.6);
  const pupilShift = {
    x: rng.normal(0, 0.012 * irisRadius) - nasal * 0.04 * (dilation - identity.dilationMean) * irisRadius,
    y: rng.normal(0, 0.012 * irisRadius),
  };
  const gaze = { offAxisDeg: Math.min(16, Math.abs(rng.normal(0, 6))), directionDeg: rng.uniform(0, 360) };

  const session: SessionParams = {
    identity: identity.id,
    index,
    seed,
    centre,
    irisRadius,
    rotationDeg,
    dilation,
    pupilShift,
    gaze,
    // Placeholders, filled in below once the geometry is known.
    eyelids: {
      upper: { c0: -2 * irisRadius, c1: 0, c2: 0 },
      lower: { c0: 2 * irisRadius, c1: 0, c2: 0 },
      nasalCorner: { x: 0, y: 0 },
      temporalCorner: { x: 0, y: 0 },
    },
    lashes: { upper: 0, lower: 0, droop: 0 },
    speculars: [],
    illumination: {
      gain: rng.uniform(0.75, 1.2),
      gradient: { x: rng.normal(0, 0.1), y: rng.normal(0, 0.1) },
      vignette: rng.uniform(0, 0.45),
      hotspot: {
        x: rng.uniform(0, IMAGE_WIDTH),
        y: rng.uniform(0, IMAGE_HEIGHT),
        sigma: rng.uniform(120, 400),
        amplitude: rng.uniform(0, 0.25),
      },
      lidShadow: rng.uniform(0.05, 0.45),
      lidShadowWidth: rng.uniform(2, 12) * (irisRadius / 110),
    },
    noise: { read: rng.uniform(0.5, 3.5), shot: rng.uniform(0.02, 0.25), rows: rng.uniform(0, 0.8) },
    blurSigma: rng.uniform(0, 1.5),
    textureNoise: rng.uniform(0.1, 0.3),
  };

  // Eyelids: corners from the identity's eye shape, heights solved for a target occlusion.
  const geometry = computeGeometry(identity, session);
  const shape = identity.eyeShape;
  const nasalCorner = {
    x: nasal * shape.nasalWidth * irisRadius * rng.uniform(0.97, 1.03),
    y: (shape.nasalHeight + rng.normal(0, 0.05)) * irisRadius,
  };
  const temporalCorner = {
    x: -nasal * shape.temporalWidth * irisRadius * rng.uniform(0.97, 1.03),
    y: (shape.temporalHeight + rng.normal(0, 0.05)) * irisRadius,
  };
  const total = rng.chance(0.12) ? 0 : rng.next() ** 1.3 * (MAX_OCCLUSION - 0.015);
  const upperShare = rng.uniform(0.65, 1);
  let upperTarget = total * upperShare;
  let lowerTarget = total - upperTarget;
  if (upperTarget < 0.005) upperTarget = 0;
  if (lowerTarget < 0.01) lowerTarget = 0;
  const samples = annulusSamples(geometry, 1.5);
  const reach = 2.5 * irisRadius;
  const upperGap = rng.uniform(0, 0.3) * irisRadius;
  const lowerGap = rng.uniform(0, 0.25) * irisRadius;
  const upper = solveLid(samples, nasalCorner, temporalCorner, true, upperTarget, upperGap, reach);
  let lower = solveLid(samples, nasalCorner, temporalCorner, false, lowerTarget, lowerGap, reach);
  for (let k = 0; k < 5; k++) {
    const occ = measureOcclusion(samples, upper, lower);
    if (1 - occ.visible <= MAX_OCCLUSION - 0.01) break;
    lowerTarget = Math.max(0, occ.lower - (1 - occ.visible - (MAX_OCCLUSION - 0.02)));
    lower = solveLid(samples, nasalCorner, temporalCorner, false, lowerTarget, lowerGap, reach);
  }
  session.eyelids = { upper, lower, nasalCorner, temporalCorner };

  const density = identity.lashes.density;
  session.lashes = {
    upper: Math.round(density * rng.uniform(110, 230)),
    lower: Math.round(density * rng.uniform(15, 45)),
    droop: rng.uniform(0.1, 0.45),
  };

  // Specular reflections of the illuminator on the cornea: the first usually on the pupil, others nearby.
  const count = rng.next() < 0.45 ? 1 : rng.next() < 0.65 ? 2 : 3;
  const pupil = geometry.pupil;
  const iris = geometry.iris;
  const visible = (p: Point, pad: number) => {
    const dx = p.x - centre.x;
    const dy = p.y - centre.y;
    const u = dx * geometry.cosRot + dy * geometry.sinRot;
    const v = -dx * geometry.sinRot + dy * geometry.cosRot;
    return (
      v > upper.c0 + upper.c1 * u + upper.c2 * u * u + pad &&
      v < lower.c0 + lower.c1 * u + lower.c2 * u * u - pad &&
      p.x > 4 &&
      p.y > 4 &&
      p.x < IMAGE_WIDTH - 5 &&
      p.y < IMAGE_HEIGHT - 5
    );
  };
  const ic = Math.cos(iris.angleDeg * DEG);
  const is = Math.sin(iris.angleDeg * DEG);
  const speculars: Specular[] = [];
  for (let k = 0; k < count; k++) {
    const rx = rng.uniform(1.8, 7) * (k === 0 ? 1 : 0.8);
    let where: Point = { x: pupil.x, y: pupil.y };
    for (let attempt = 0; attempt < 20; attempt++) {
      const a = rng.uniform(0, 2 * Math.PI);
      let p: Point;
      if (k === 0 && rng.chance(0.75)) {
        const t = Math.sqrt(rng.next()) * 0.75;
        p = { x: pupil.x + t * pupil.b * Math.cos(a), y: pupil.y + t * pupil.b * Math.sin(a) };
      } else if (rng.chance(0.5)) {
        const t = rng.uniform(0.6, 1.5);
        p = { x: pupil.x + t * pupil.r * Math.cos(a), y: pupil.y + t * pupil.r * Math.sin(a) };
      } else {
        const t = Math.sqrt(rng.next()) * 1.1;
        p = fromEyeFrame(geometry, t * iris.r * Math.cos(a), t * iris.r * Math.sin(a));
        if (t <= 1 && !insideEllipse(iris, ic, is, p.x, p.y)) continue;
      }
      if (visible(p, rx + 2)) {
        where = p;
        break;
      }
    }
    speculars.push({
      x: where.x,
      y: where.y,
      rx,
      ry: rx * rng.uniform(0.55, 1),
      angleDeg: rng.uniform(-90, 90),
      peak: rng.uniform(900, 2500),
      halo: rng.uniform(5, 60),
      haloSigma: rx * rng.uniform(0.8, 2),
    });
  }
  session.speculars = speculars;
  return session;
}
