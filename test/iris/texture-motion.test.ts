/**
 * The texture-motion check (iris/pad/texture-motion.ts) on synthetic reflex captures: a live iris moves
 * with its pupil, a textured lens or a patch stays on the cornea, a pupil that does not move decides
 * nothing. The presentations are train:pad's (seed pad-train-v1), rendered as the suite renders them
 * (iris/pad/motion-task.ts).
 */
import { describe, expect, it } from 'vitest';
import { renderPresentation } from '../../iris/attacks/reflex-capture.ts';
import type { PresentationLabel } from '../../iris/attacks/render-attack.ts';
import { run } from '../../iris/pad/motion-task.ts';
import {
  FIXED_SHARE_LIMIT,
  MOTION_BLOCKS,
  movesWithPupil,
  textureMotion,
} from '../../iris/pad/texture-motion.ts';
import { segmentEye } from '../../iris/segmentation/index.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';

const SEED = 'pad-train-v1';
const motionOf = async (identity: number, label: PresentationLabel) => {
  const outcome = await run({ seed: SEED, identity, session: 0, label });
  if (!outcome.ok) throw new Error(`${label} ${identity}: ${outcome.code}`);
  return outcome;
};

describe('textureMotion', () => {
  it('finds a live iris moving with its pupil', async () => {
    for (const identity of [0, 1]) {
      const motion = await motionOf(identity, 'live');
      expect(motion.constriction, `identity ${identity}`).toBeGreaterThan(0.08);
      expect(motion.decidableShare).toBeGreaterThan(0.8);
      expect(motion.fixedShare).toBeLessThan(0.05);
      expect(movesWithPupil(motion)).toBe(true);
    }
  }, 60_000);

  it('finds a textured lens and a patch staying on the cornea', async () => {
    for (const [identity, label, atLeast] of [
      [1, 'lens', 0.5],
      [3, 'lens', 0.5],
      [3, 'patch-other-iris', FIXED_SHARE_LIMIT],
    ] as const) {
      const motion = await motionOf(identity, label);
      expect(motion.constriction, `${label} ${identity}: the eye behind it is alive`).toBeGreaterThan(0.04);
      expect(motion.fixedShare, `${label} ${identity}`).toBeGreaterThanOrEqual(atLeast);
      expect(movesWithPupil(motion)).toBe(false);
    }
  }, 60_000);

  it('decides nothing when the pupil does not move, whichever frame comes first', () => {
    const identity = identityOf(SEED, 0);
    const session = sessionOf(SEED, identity, 0);
    const presentation = { identity, session, label: 'live' as const, seed: 1 };
    const frame = (dilation: number, index: number) => {
      const image = renderPresentation(presentation, dilation, index);
      return { image, segmentation: segmentEye(image) };
    };
    const rest = frame(session.dilation, 1);
    const still = textureMotion(rest, frame(session.dilation, 2));
    expect(still.decidableShare).toBe(0);
    expect(still.fixedShare).toBe(0);
    expect(still.blocks.every((b) => b === -1)).toBe(true);

    const constricted = frame(session.dilation * 0.8, 3);
    const forward = textureMotion(rest, constricted);
    const backward = textureMotion(constricted, rest);
    expect(backward).toEqual(forward);
    expect(forward.blocks).toHaveLength(MOTION_BLOCKS);
    expect(forward.blocks.some((b) => b === 0)).toBe(true);
  }, 60_000);

  it('gives each frame of a sequence its own sensor noise, and the single capture the session noise', () => {
    const identity = identityOf(SEED, 0);
    const session = sessionOf(SEED, identity, 0);
    const presentation = { identity, session, label: 'live' as const, seed: 1 };
    const single = renderPresentation(presentation, session.dilation);
    const again = renderPresentation(presentation, session.dilation);
    const first = renderPresentation(presentation, session.dilation, 1);
    const second = renderPresentation(presentation, session.dilation, 2);
    expect(Buffer.from(again.data).equals(Buffer.from(single.data))).toBe(true);
    expect(Buffer.from(first.data).equals(Buffer.from(second.data))).toBe(false);
    expect(Buffer.from(first.data).equals(Buffer.from(single.data))).toBe(false);
    // Only the noise differs: the mean absolute difference is a few grey levels.
    let sum = 0;
    for (let i = 0; i < first.data.length; i++)
      sum += Math.abs((first.data[i] as number) - (second.data[i] as number));
    expect(sum / first.data.length).toBeLessThan(6);
  });
});
