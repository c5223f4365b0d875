/**
 * One synthetic presentation captured under the IR stimulus and put through the texture-motion check (a
 * task module for protocol/task-pool.ts): the frame at rest (the presentation's single capture, the same
 * frame training-task.ts measures) and the most constricted frame of its reflex capture, both segmented,
 * then compared (texture-motion.ts). The stimulus comes from a nonce drawn from the spec.
 */
import { IrisgateError } from '../../protocol/errors.ts';
import { renderReflexExtremes, syntheticSchedule } from '../attacks/reflex-capture.ts';
import { segmentEye } from '../segmentation/index.ts';
import { identityOf, sessionOf } from '../synth/generate.ts';
import { hashSeed } from '../synth/random.ts';
import { type MotionFrame, type TextureMotion, textureMotion } from './texture-motion.ts';
import type { PresentationSpec } from './training-task.ts';

export type MotionOutcome =
  | ({ spec: PresentationSpec; ok: true } & Omit<TextureMotion, 'blocks'>)
  | { spec: PresentationSpec; ok: false; code: string };

/** The presentation's frame at rest and its most constricted frame, both segmented. */
export function reflexFrames(spec: PresentationSpec): [MotionFrame, MotionFrame] {
  const identity = identityOf(spec.seed, spec.identity);
  const session = sessionOf(spec.seed, identity, spec.session);
  const presentation = {
    identity,
    session,
    label: spec.label,
    seed: hashSeed(spec.seed, 'presentation', spec.identity, spec.session),
  };
  const [rest, constricted] = renderReflexExtremes(
    presentation,
    syntheticSchedule(hashSeed(spec.seed, 'stimulus', spec.identity, spec.session)),
  );
  return [
    { image: rest.image, segmentation: segmentEye(rest.image) },
    { image: constricted.image, segmentation: segmentEye(constricted.image) },
  ];
}

export async function run(spec: PresentationSpec): Promise<MotionOutcome> {
  try {
    const { blocks: _blocks, ...motion } = textureMotion(...reflexFrames(spec));
    return { spec, ok: true, ...motion };
  } catch (error) {
    if (error instanceof IrisgateError) return { spec, ok: false, code: error.code };
    throw error;
  }
}
