/**
 * One patch trial through the full defence (iris/attacks/patch-trials.ts): a patch laid over the pupil's
 * margin hides the pupil's constriction. The frame models and the texture motion let this capture
 * (patch-eval-v1: person 178 wearing 40% of person 179's iris) through; the pupil reflex does not.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type EnrolOutcome, run, setup, type TrialOutcome } from '../../iris/attacks/patch-trials.ts';
import { NO_CONSTRICTION_REASON } from '../../iris/attacks/reflex-capture.ts';

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
});
