/**
 * Synthetic near-infrared eye images with ground truth, deterministic by seed.
 *
 *   const set = await generateSyntheticSet({ out: 'synth', identities: 200, sessions: 4, seed: 1 });
 *
 * writes `id0000_s0.png` ... (640 x 480, 8-bit grey) and `manifest.json` (see EyeTruth in types.ts for every
 * field and its convention). Each identity has its own iris texture on rubber-sheet coordinates and its own
 * eye; each session (capture) varies pose, pupil dilation, gaze, eyelids, lashes, reflections, lighting, focus
 * and noise. Identity i and session s are drawn from streams keyed by (seed, i) and (seed, i, s), so an image
 * does not depend on how many others are generated.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeGreyPng } from '../image-input.ts';
import type { GreyImage } from '../types.ts';
import { annulusSamples, measureOcclusion } from './eyelids.ts';
import { computeGeometry } from './geometry.ts';
import { rngFor, type Seed } from './random.ts';
import { type IrisOverlay, renderEye } from './render.ts';
import { IMAGE_HEIGHT, IMAGE_WIDTH, sampleIdentity, sampleSession } from './sample.ts';
import { generateIrisTexture, type IrisTexture } from './texture.ts';
import type { Ellipse, EyeTruth, IdentityParams, SessionParams } from './types.ts';

export { Rng, rngFor, type Seed } from './random.ts';
export { captureScene, type IrisOverlay, type SurfacePoint, type SurfaceShade } from './render.ts';
export { identityName, MAX_OCCLUSION, sampleIdentity, sampleSession } from './sample.ts';
export { generateIrisTexture, type IrisTexture } from './texture.ts';
export type { Ellipse, EyeTruth, IdentityParams, Quadratic, SessionParams } from './types.ts';
export { LABEL } from './types.ts';

export const MANIFEST_VERSION = 1;

export interface GenerateEyeParams {
  identity: IdentityParams;
  session: SessionParams;
  /** The identity's texture, if already generated (generateIrisTexture(identity.textureSeed)). */
  texture?: IrisTexture;
  /** Something on the eye's surface (a patch, a lens: see iris/attacks); the truth then has patchFraction. */
  overlay?: IrisOverlay;
}

export interface GeneratedEye {
  image: GreyImage;
  /** Per-pixel labels (LABEL: skin, sclera, iris, pupil, eyelash, specular), same size as the image. */
  labels: GreyImage;
  truth: EyeTruth;
}

/** The name of an image file, e.g. `id0007_s2.png`. */
export function imageFileName(identity: number, session: number): string {
  return `id${String(identity).padStart(4, '0')}_s${session}.png`;
}

const round = (v: number, digits = 3) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

function roundEllipse(e: Ellipse): Ellipse {
  return {
    x: round(e.x),
    y: round(e.y),
    r: round(e.r),
    a: round(e.a),
    b: round(e.b),
    angleDeg: round(e.angleDeg),
  };
}

/** Renders one capture and its ground truth. Pure: the same parameters give the same bytes. */
export function generateEye(params: GenerateEyeParams): GeneratedEye {
  const { identity, session } = params;
  const texture = params.texture ?? generateIrisTexture(identity.textureSeed);
  const geometry = computeGeometry(identity, session);
  const width = IMAGE_WIDTH;
  const height = IMAGE_HEIGHT;
  const rendered = renderEye(identity, session, texture, geometry, width, height, params.overlay);
  const occlusion = measureOcclusion(
    annulusSamples(geometry, 0.5),
    session.eyelids.upper,
    session.eyelids.lower,
  );
  const lid = (q: { c0: number; c1: number; c2: number }) => ({
    c0: round(q.c0, 4),
    c1: round(q.c1, 6),
    c2: round(q.c2, 8),
  });
  const truth: EyeTruth = {
    file: imageFileName(identity.id, session.index),
    identity: identity.id,
    identityName: identity.name,
    session: session.index,
    eye: identity.eye,
    seed: session.seed,
    textureSeed: identity.textureSeed,
    width,
    height,
    pupil: roundEllipse(geometry.pupil),
    iris: roundEllipse(geometry.iris),
    pupilIrisRatio: round(geometry.pupil.r / geometry.iris.r, 4),
    rotationDeg: round(session.rotationDeg, 4),
    gaze: { offAxisDeg: round(session.gaze.offAxisDeg), directionDeg: round(session.gaze.directionDeg) },
    eyelids: {
      origin: { x: round(geometry.centre.x), y: round(geometry.centre.y) },
      angleDeg: round(session.rotationDeg, 4),
      upper: lid(session.eyelids.upper),
      lower: lid(session.eyelids.lower),
    },
    visibleIrisFraction: round(occlusion.visible, 4),
    occlusionFraction: round(1 - occlusion.visible, 4),
    upperOcclusion: round(occlusion.upper, 4),
    lowerOcclusion: round(occlusion.lower, 4),
    eyelashFraction: round(rendered.eyelashFraction, 4),
    specularFraction: round(rendered.specularFraction, 4),
    ...(rendered.patchFraction === undefined ? {} : { patchFraction: round(rendered.patchFraction, 4) }),
    speculars: session.speculars.map((s) => ({
      x: round(s.x, 2),
      y: round(s.y, 2),
      rx: round(s.rx, 2),
      ry: round(s.ry, 2),
      angleDeg: round(s.angleDeg, 1),
    })),
    blurSigma: round(session.blurSigma, 4),
    noise: { read: round(session.noise.read), shot: round(session.noise.shot, 4) },
    illumination: { gain: round(session.illumination.gain), vignette: round(session.illumination.vignette) },
  };
  return {
    image: { width, height, data: rendered.data },
    labels: { width, height, data: rendered.labels },
    truth,
  };
}

/** The identity with index `id` of the data set with this seed. */
export function identityOf(seed: Seed, id: number): IdentityParams {
  return sampleIdentity(rngFor(seed, 'identity', id), id);
}

/** Session `index` of an identity of the data set with this seed. */
export function sessionOf(seed: Seed, identity: IdentityParams, index: number): SessionParams {
  return sampleSession(rngFor(seed, 'session', identity.id, index), identity, index);
}

export interface SyntheticSetOptions {
  /** Output directory (created if missing). */
  out: string;
  identities: number;
  sessions: number;
  seed: Seed;
  /** Also write each image's label map as `id0007_s2.labels.png` (values: LABEL). */
  labels?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface SyntheticManifest {
  version: number;
  generator: string;
  seed: Seed;
  parameters: {
    identities: number;
    sessions: number;
    width: number;
    height: number;
    labels: boolean;
    conventions: Record<string, string>;
  };
  entries: EyeTruth[];
}

export const CONVENTIONS: Record<string, string> = {
  coordinates: 'pixels; pixel (col, row) is centred at (x, y) = (col, row); y points down',
  angles: 'degrees from +x towards +y (clockwise on screen)',
  ellipse: 'centre (x, y), semi-axes a >= b, major axis at angleDeg, r = (a + b) / 2',
  eyeFrame:
    'origin eyelids.origin (the iris centre), u along (cos angleDeg, sin angleDeg), v along (-sin angleDeg, cos angleDeg)',
  eyelids:
    'upper and lower margins v = c0 + c1 u + c2 u^2 in the eye frame; the eye is open where upper(u) < v < lower(u)',
  visibleIrisFraction:
    'share of the annulus (inside the iris ellipse, outside the pupil ellipse) that lies between the eyelids, on a 0.5 px grid',
  rubberSheet:
    'point(theta, rho) = (1 - rho) P(theta) + rho I(theta), P and I the boundary points in direction theta from each centre; the identity texture at angle t appears at image angle t + rotationDeg',
  labels: 'label PNGs: 0 skin, 1 sclera, 2 iris, 3 pupil, 4 eyelash, 5 specular',
};

/** Writes an 8-bit greyscale PNG. */
export async function writeGreyPng(path: string, image: GreyImage): Promise<void> {
  await writeFile(path, await encodeGreyPng(image));
}

/**
 * Generates identities x sessions images into `out` with manifest.json. Rendering runs on this thread while
 * sharp encodes earlier images on its own threads.
 */
export async function generateSyntheticSet(options: SyntheticSetOptions): Promise<SyntheticManifest> {
  const { out, identities, sessions, seed } = options;
  await mkdir(out, { recursive: true });
  const total = identities * sessions;
  const entries: EyeTruth[] = [];
  const pending = new Set<Promise<void>>();
  let done = 0;
  const track = (p: Promise<void>) => {
    const tracked = p.then(() => {
      pending.delete(tracked);
    });
    pending.add(tracked);
  };
  for (let id = 0; id < identities; id++) {
    const identity = identityOf(seed, id);
    const texture = generateIrisTexture(identity.textureSeed);
    for (let s = 0; s < sessions; s++) {
      const eye = generateEye({ identity, session: sessionOf(seed, identity, s), texture });
      entries.push(eye.truth);
      const file = join(out, eye.truth.file);
      const writes = [writeGreyPng(file, eye.image)];
      if (options.labels) writes.push(writeGreyPng(file.replace(/\.png$/, '.labels.png'), eye.labels));
      track(
        Promise.all(writes).then(() => {
          done++;
          options.onProgress?.(done, total);
        }),
      );
      while (pending.size >= 4) await Promise.race(pending);
    }
  }
  await Promise.all(pending);
  const manifest: SyntheticManifest = {
    version: MANIFEST_VERSION,
    generator: 'irisgate-synth',
    seed,
    parameters: {
      identities,
      sessions,
      width: IMAGE_WIDTH,
      height: IMAGE_HEIGHT,
      labels: options.labels ?? false,
      conventions: CONVENTIONS,
    },
    entries,
  };
  await writeFile(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}
