/**
 * The texture-motion check (iris/pad/texture-motion.ts) on synthetic reflex captures: a live iris moves
 * with its pupil, a textured lens or a patch stays on the cornea (too much of it, or too large a piece),
 * a pupil that does not move decides nothing. The presentations are train:pad's (seed pad-train-v1), rendered as the suite renders them
 * (iris/pad/motion-task.ts).
 */
import { describe, expect, it } from 'vitest';
import { renderPresentation } from '../../iris/attacks/reflex-capture.ts';
import type { PresentationLabel } from '../../iris/attacks/render-attack.ts';
import { reflexFrames, run } from '../../iris/pad/motion-task.ts';
import {
  FIXED_PIECE_LIMIT,
  FIXED_SHARE_LIMIT,
  FIXED_TEXTURE_REASON,
  largestFixedPiece,
  MOTION_BLOCKS,
  motionReasons,
  movesWithPupil,
  textureMotion,
  upperLidColumns,
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

  it('refuses a patch under the share limit whose fixed blocks form one piece', async () => {
    const motion = await motionOf(12, 'patch-other-iris');
    expect(motion.fixedShare).toBeLessThan(FIXED_SHARE_LIMIT);
    expect(motion.fixedPiece).toBeGreaterThanOrEqual(FIXED_PIECE_LIMIT);
    expect(movesWithPupil(motion)).toBe(false);
    expect(motionReasons(motion)).toEqual([FIXED_TEXTURE_REASON]);
  }, 60_000);

  it('leaves out of the pieces the blocks under an upper lid that segmentation missed', () => {
    // A live eye (session 1) whose upper lid was not found: its lashes stay put, in one piece under it.
    const [rest, constricted] = reflexFrames({ seed: SEED, identity: 37, session: 1, label: 'live' });
    expect(rest.segmentation.eyelids.upper).toBeNull();
    const motion = textureMotion(rest, constricted);
    expect(largestFixedPiece(motion.blocks)).toBeGreaterThanOrEqual(FIXED_PIECE_LIMIT);
    expect(motion.fixedPiece).toBe(
      largestFixedPiece(motion.blocks, upperLidColumns(rest.segmentation.orientation)),
    );
    expect(motion.fixedPiece).toBeLessThan(FIXED_PIECE_LIMIT);
    expect(movesWithPupil(motion)).toBe(true);
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

describe('largestFixedPiece', () => {
  // The block grid: 8 rows (pupil to limbus) of 16 columns (round the iris).
  const grid = (...fixed: [number, number][]) => {
    const blocks = new Int8Array(MOTION_BLOCKS).fill(0);
    for (const [r, c] of fixed) blocks[r * 16 + c] = 1;
    return blocks;
  };

  it('joins blocks edge to edge, along the radius and round the iris', () => {
    expect(largestFixedPiece(grid())).toBe(0);
    expect(largestFixedPiece(grid([3, 4]))).toBe(1);
    expect(largestFixedPiece(grid([3, 4], [3, 5], [4, 5], [5, 5], [0, 0]))).toBe(4);
    // Columns wrap: 15 and 0 are neighbours. Rows do not: the pupil and the limbus are not.
    expect(largestFixedPiece(grid([2, 15], [2, 0], [2, 1]))).toBe(3);
    expect(largestFixedPiece(grid([0, 6], [7, 6]))).toBe(1);
  });

  it('does not join diagonal neighbours, undecided blocks or ignored columns', () => {
    expect(largestFixedPiece(grid([1, 1], [2, 2], [3, 3], [4, 4]))).toBe(1);
    const withUndecided = grid([1, 1], [1, 3]);
    withUndecided[1 * 16 + 2] = -1;
    expect(largestFixedPiece(withUndecided)).toBe(1);
    const row = grid([5, 8], [5, 9], [5, 10], [5, 11], [5, 12]);
    expect(largestFixedPiece(row)).toBe(5);
    expect(largestFixedPiece(row, new Set([10]))).toBe(2);
  });

  it('refuses from FIXED_PIECE_LIMIT blocks whatever the share', () => {
    const motion = { fixedShare: 0, fixedPiece: FIXED_PIECE_LIMIT - 1 };
    expect(movesWithPupil(motion)).toBe(true);
    expect(movesWithPupil({ ...motion, fixedPiece: FIXED_PIECE_LIMIT })).toBe(false);
    expect(movesWithPupil({ fixedShare: FIXED_SHARE_LIMIT, fixedPiece: 0 })).toBe(false);
  });
});

describe('upperLidColumns', () => {
  it('gives the columns within 60 degrees of straight up (image y grows downwards)', () => {
    // Column c points at orientation + 2 pi (c + 0.5) / 16; straight up is -pi/2, i.e. 3 pi / 2.
    expect([...upperLidColumns(0)].sort((a, b) => a - b)).toEqual([9, 10, 11, 12, 13, 14]);
    expect([...upperLidColumns(Math.PI / 2)].sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9, 10]);
  });
});
