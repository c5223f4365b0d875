/**
 * Patch trials through the full defence (iris/attacks/patch-trials.ts): a patch laid over the pupil's
 * margin hides the pupil's constriction. The frame models and the texture motion let this capture
 * (patch-eval-v1: person 178 wearing 40% of person 179's iris) through; the pupil reflex does not. And the
 * white-box attacker's search, which skips the detector for candidates that cannot win, finds what it finds
 * when every candidate goes through the detector.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attackerObjective,
  type EnrolOutcome,
  REFUSED_PENALTY,
  run,
  setup,
  type TrialOutcome,
  whiteBoxSearch,
} from '../../iris/attacks/patch-trials.ts';
import { NO_CONSTRICTION_REASON } from '../../iris/attacks/reflex-capture.ts';
import { renderAttack, renderLive } from '../../iris/attacks/render-attack.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';
import { Rng } from '../../iris/synth/random.ts';

beforeAll(async () => {
  await setup();
}, 120_000);

describe('patch trials', () => {
  it('refuse a capture whose pupil did not constrict: a patch over the pupil margin', async () => {
    const seed = 'patch-eval-v1';
    const victim = (await run({ type: 'enrol', seed, person: 179 })) as EnrolOutcome;
    if (!victim.ok) throw new Error(`the victim's enrolment was refused: ${victim.code}`);
    const trial = (await run({
      type: 'impersonation',
      seed,
      person: 178,
      victim: 179,
      area: 0.4,
      mode: 'victim-texture',
      enrolment: victim.template,
    })) as TrialOutcome;
    expect(trial.refused).toBeUndefined();
    expect(trial.reasons).toContain(NO_CONSTRICTION_REASON);
    expect(trial.live).toBe(false);
    expect(trial.success).toBe(false);
  }, 120_000);

  it.each(['evade', 'match'] as const)(
    'white-box search (%s): skipping the detector for losing candidates changes nothing',
    async (goal) => {
      const seed = 'patch-eval-v1';
      const identity = identityOf(seed, 12);
      const enrolled = (await run({
        type: 'enrol',
        seed,
        person: goal === 'evade' ? 12 : 13,
      })) as EnrolOutcome;
      if (!enrolled.ok) throw new Error(`enrolment refused: ${enrolled.code}`);
      const session = sessionOf(seed, identity, 1);
      const base = renderAttack({ kind: 'patch-random', identity, session, seed: 7, patchFraction: 0.1 });
      const reference = goal === 'evade' ? renderLive(identity, session).image : base.image;
      const sign = goal === 'evade' ? -1 : 1;
      const objective = attackerObjective(base.image, enrolled.template, goal);
      if (!objective) throw new Error('the base frame was not segmented');
      let skipped = 0;
      const counting = async (image: Parameters<typeof objective>[0], toBeat: number) => {
        const score = await objective(image, toBeat);
        // A passing frame's margin that does not beat the best: the detector was not run for it.
        if (score > 1 - REFUSED_PENALTY && score <= toBeat) skipped++;
        expect(Math.max(score, toBeat), 'the exact score beats the best exactly when this one does').toBe(
          Math.max(await objective(image, Number.NEGATIVE_INFINITY), toBeat),
        );
        return score;
      };
      const pruned = await whiteBoxSearch(new Rng(1), base, reference, sign, 30, counting);
      const exhaustive = await whiteBoxSearch(new Rng(1), base, reference, sign, 30, (image) =>
        objective(image, Number.NEGATIVE_INFINITY),
      );
      expect(skipped, 'the detector was skipped for some candidates').toBeGreaterThan(0);
      expect(Buffer.from(pruned.image.data).equals(Buffer.from(exhaustive.image.data))).toBe(true);
    },
    120_000,
  );
});
