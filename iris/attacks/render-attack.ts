/**
 * Presentation attacks on the synthetic NIR camera, deterministic by seed:
 *
 *   const attack = renderAttack({ kind: 'patch-random', identity, session, seed: 7, patchFraction: 0.2 });
 *   // attack.image (640 x 480 grey), attack.labels (LABEL, with LABEL.patch), attack.truth (AttackTruth)
 *
 * Every attack is a physical scene in front of the camera, captured with the session's own lighting,
 * defocus and sensor noise; none is pasted onto the final pixels:
 * - print, screen: an earlier capture of the person reproduced on paper or a screen (print.ts, screen.ts);
 * - lens: a textured cosmetic contact lens on the person's eye (contact-lens.ts);
 * - prosthetic: a manufactured eye in the person's socket (prosthetic.ts);
 * - patch-random, patch-other-iris, patch-printed: a patch on the eye covering 5-40% of the visible iris,
 *   anywhere on it including across its outer edge (patch.ts).
 * The session fixes the capture (pose, lids, lighting, focus, noise), so an attack and the live capture of
 * the same session differ only by what the attack changes; the seed fixes the attack instance.
 */

import { type GeneratedEye, generateEye, imageFileName } from '../synth/generate.ts';
import { hashSeed, Rng, type Seed } from '../synth/random.ts';
import { IMAGE_HEIGHT, IMAGE_WIDTH } from '../synth/sample.ts';
import type { IrisTexture } from '../synth/texture.ts';
import type { EyeTruth, IdentityParams, SessionParams } from '../synth/types.ts';
import type { GreyImage } from '../types.ts';
import { contactLens, LENS_CATALOGUE, type LensTruth } from './contact-lens.ts';
import {
  makePatch,
  PATCH_FRACTION_RANGE,
  type PatchContent,
  type PatchShape,
  type PatchTruth,
} from './patch.ts';
import { type PrintTruth, renderPrint } from './print.ts';
import { type ProstheticTruth, prosthesis } from './prosthetic.ts';
import { renderScreen, type ScreenTruth } from './screen.ts';

/** The attack kinds, with the names manifests and reports use. */
export const ATTACK_KINDS = [
  'print',
  'screen',
  'lens',
  'prosthetic',
  'patch-random',
  'patch-other-iris',
  'patch-printed',
] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];
/** What a capture presents: a live eye or an attack. */
export type PresentationLabel = 'live' | AttackKind;

export function isAttackKind(name: string): name is AttackKind {
  return (ATTACK_KINDS as readonly string[]).includes(name);
}

/** Ground truth of a capture: the eye the camera sees (EyeTruth) and what was presented. */
export interface AttackTruth extends EyeTruth {
  label: PresentationLabel;
  /** The attack instance's seed (hashed to 32 bits); absent for live captures. */
  attackSeed?: number;
  /** Whether the eye in front of the camera can constrict to light (false for prints, screens, prostheses). */
  pupilReflex: boolean;
  patch?: PatchTruth;
  lens?: LensTruth;
  prosthetic?: ProstheticTruth;
  print?: PrintTruth;
  screen?: ScreenTruth;
}

export interface AttackCapture {
  image: GreyImage;
  labels: GreyImage;
  truth: AttackTruth;
}

export interface AttackParams {
  kind: AttackKind;
  /** The presenter: the person whose eye wears the lens or patch, or is reproduced, or holds the prosthesis. */
  identity: IdentityParams;
  /** The capture: pose, eyelids, lighting, focus and noise of the camera. */
  session: SessionParams;
  /** The attack instance: patch shape and content, lens fit, print and screen, placement. */
  seed: Seed;
  /** The identity's texture, if already generated. */
  texture?: IrisTexture;
  /** Patches: the share of the visible iris to cover (default: uniform in 5-40% from the seed). */
  patchFraction?: number;
  patchShape?: PatchShape;
  /** patch-other-iris: whose iris the patch shows (default: a stranger from the seed). */
  donor?: IdentityParams;
  /** patch-other-iris: turn of the donor texture from its place in the donor's eye, degrees (default 0). */
  donorRotationDeg?: number;
  /**
   * Patches: the capture the patch was fitted to and placed on (default: `session`). A frame of a reflex
   * capture passes its session at rest: a sticker is one object, it neither moves nor resizes with the pupil.
   */
  placedOn?: SessionParams;
  /** lens: the lens model (default: one of LENS_CATALOGUE models, from the seed). */
  lensModel?: Seed;
  /** prosthetic: the prosthesis model (default: from the seed). */
  prostheticModel?: Seed;
}

/** The file name of a capture in a PAD set: `id0007_s2.png` (live) or `id0007_s2_patch-random.png`. */
export function presentationFileName(identity: number, session: number, label: PresentationLabel): string {
  const live = imageFileName(identity, session);
  return label === 'live' ? live : live.replace(/\.png$/, `_${label}.png`);
}

/** The live capture of a session, with the same truth shape as an attack. */
export function renderLive(
  identity: IdentityParams,
  session: SessionParams,
  texture?: IrisTexture,
): AttackCapture {
  const eye = generateEye({ identity, session, ...(texture ? { texture } : {}) });
  return { image: eye.image, labels: eye.labels, truth: { ...eye.truth, label: 'live', pupilReflex: true } };
}

const PATCH_CONTENT: Record<string, PatchContent> = {
  'patch-random': 'random',
  'patch-other-iris': 'other-iris',
  'patch-printed': 'printed',
};

/** Renders one attack presentation. Pure: the same parameters give the same bytes. */
export function renderAttack(params: AttackParams): AttackCapture {
  const { kind, identity, session } = params;
  const attackSeed = hashSeed('attack', kind, params.seed);
  const rng = new Rng(attackSeed);
  const common = {
    file: presentationFileName(identity.id, session.index, kind),
    label: kind,
    attackSeed,
  } as const;
  const texture = params.texture ? { texture: params.texture } : {};

  if (kind === 'print' || kind === 'screen') {
    const result =
      kind === 'print'
        ? renderPrint(rng, identity, session, params.texture, IMAGE_WIDTH, IMAGE_HEIGHT)
        : renderScreen(rng, identity, session, params.texture, IMAGE_WIDTH, IMAGE_HEIGHT);
    const medium = 'print' in result ? { print: result.print } : { screen: result.screen };
    return {
      image: result.image,
      labels: result.labels,
      truth: { ...result.truth, ...common, pupilReflex: false, ...medium },
    };
  }

  if (kind === 'lens') {
    const model = params.lensModel ?? rng.int(0, LENS_CATALOGUE - 1);
    const lens = contactLens(rng.fork('wear'), model);
    const eye = generateEye({ identity, session, ...texture, overlay: lens.overlay });
    // A lens is not an occluder: no patch share in its truth.
    const { patchFraction: _, ...truth } = eye.truth;
    return wrap(eye, { ...truth, ...common, pupilReflex: true, lens: lens.truth });
  }

  if (kind === 'prosthetic') {
    const model = params.prostheticModel ?? rng.nextU32();
    const worn = prosthesis(rng.fork('prosthesis'), model, identity, session);
    const eye = generateEye({
      identity: worn.identity,
      session: worn.session,
      overlay: worn.overlay,
      ...texture,
    });
    const { patchFraction: _, ...truth } = eye.truth;
    return wrap(eye, { ...truth, ...common, pupilReflex: false, prosthetic: worn.truth });
  }

  const content = PATCH_CONTENT[kind];
  if (!content) throw new RangeError(`unknown attack kind ${kind}`);
  const [lo, hi] = PATCH_FRACTION_RANGE;
  const fraction = params.patchFraction ?? rng.uniform(lo, hi);
  const patch = makePatch(rng.fork('patch'), identity, params.placedOn ?? session, {
    content,
    fraction,
    ...(params.patchShape ? { shape: params.patchShape } : {}),
    ...(params.donor ? { donor: params.donor } : {}),
    ...(params.donorRotationDeg !== undefined ? { donorRotationDeg: params.donorRotationDeg } : {}),
  });
  const eye = generateEye({ identity, session, ...texture, overlay: patch.overlay });
  return wrap(eye, { ...eye.truth, ...common, pupilReflex: true, patch: patch.truth });
}

function wrap(eye: GeneratedEye, truth: AttackTruth): AttackCapture {
  return { image: eye.image, labels: eye.labels, truth };
}
