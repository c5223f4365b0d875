/**
 * The synthetic capture under the stimulus (iris/attacks/reflex-capture.ts), measured as the device does:
 * segmentation's pupil radius in every frame, then the backend's check (protocol/pupil-reflex.ts). A live
 * eye and an eye under a patch answer the nonce's schedule; a print does not.
 */
import { describe, expect, it } from 'vitest';
import { renderReflexCapture } from '../../iris/attacks/reflex-capture.ts';
import { segmentEye } from '../../iris/segmentation/index.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';
import { checkPupilReflex, stimulusSchedule } from '../../protocol/pupil-reflex.ts';

const SEED = 'reflex-capture-test';
const schedule = stimulusSchedule(new Uint8Array(32).fill(7));

function measured(label: 'live' | 'print' | 'patch-random', id: number) {
  const identity = identityOf(SEED, id);
  const session = sessionOf(SEED, identity, 0);
  // 4 frames a second over 5 s: the 20 frames the backend asks for at least.
  const frames = renderReflexCapture({ identity, session, label, seed: id }, schedule, { fps: 4 });
  return {
    frames,
    radii: frames.map((f) => ({ tMs: f.tMs, pupilRadiusPx: segmentEye(f.image).pupil.r })),
  };
}

describe('a capture under the stimulus', () => {
  it('shows a living pupil following the schedule, as the backend checks it', () => {
    const { frames, radii } = measured('live', 1);
    expect(frames).toHaveLength(20);
    expect(new Set(frames.map((f) => f.dilation)).size).toBeGreaterThan(10);
    const verdict = checkPupilReflex(schedule, radii);
    expect(verdict.reasons).toEqual([]);
    expect(verdict.live).toBe(true);
  }, 120_000);

  it('shows a patch wearer alive too: the eye behind the patch still reacts', () => {
    const { radii } = measured('patch-random', 2);
    expect(checkPupilReflex(schedule, radii).live).toBe(true);
  }, 120_000);

  it('shows a print that cannot react: refused', () => {
    const { frames, radii } = measured('print', 1);
    expect(new Set(frames.map((f) => f.dilation)).size).toBe(1);
    const verdict = checkPupilReflex(schedule, radii);
    expect(verdict.live).toBe(false);
    expect(verdict.reasons).toContain('no_constriction');
  }, 120_000);
});
