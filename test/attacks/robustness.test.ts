/**
 * The robustness suite on a reduced sample (the full-size run, with every figure of the closing note, is
 * `npm run eval:attacks`): the shipped PAD models on held-out presentations of every attack type, and
 * Sybil and impersonation patch trials at every area, random, victim-texture and white-box (with a small
 * evaluation budget here), and Sybil with a textured lens. Deterministic by seed; the bounds leave room for
 * the sample's size, not for chance.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PATCH_AREAS, type TrialOutcome } from '../../iris/attacks/patch-trials.ts';
import { ATTACK_KINDS } from '../../iris/attacks/render-attack.ts';
import { markdownReport } from './eval-attacks.ts';
import { runSuite, type SuiteReport, type SuiteSize, summarizeTrials } from './suite.ts';

const REDUCED: SuiteSize = {
  padIdentities: 8,
  looTraining: null,
  sybilRandom: 6,
  sybilLens: 6,
  sybilWhiteBox: 1,
  whiteBoxBudget: 25,
  impersonation: 6,
  impersonationWhiteBox: 1,
  areas: PATCH_AREAS,
  firstPerson: 0,
};

let report: SuiteReport;
beforeAll(async () => {
  report = await runSuite(REDUCED);
}, 600_000);

describe('presentation-attack detection on held-out presentations', () => {
  it('measures every attack type and the live frames', () => {
    expect(report.pad.apcer.map((a) => a.type).sort()).toEqual([...ATTACK_KINDS].sort());
    for (const a of report.pad.apcer) expect(a.presentations).toBe(REDUCED.padIdentities);
    expect(report.pad.bpcer.presentations).toBe(REDUCED.padIdentities);
  });

  it('refuses prints, screens, lenses and prosthetic eyes and accepts live eyes', () => {
    for (const a of report.pad.apcer.filter((x) => !x.type.startsWith('patch-'))) {
      expect(a.accepted, `${a.type} accepted as live`).toBe(0);
    }
    expect(report.pad.bpcer.rejected).toBeLessThanOrEqual(1);
  });
});

describe('presentation-attack detection on whole reflex captures', () => {
  it('refuses every textured lens on a living eye', () => {
    expect(report.capturePad.apcer.find((a) => a.type === 'lens')?.accepted).toBe(0);
  });

  it('refuses every print, screen and prosthetic eye on the pupil reflex', () => {
    for (const type of ['print', 'screen', 'prosthetic']) {
      expect(report.refusedByReflex[type], type).toBe(REDUCED.padIdentities);
    }
  });

  it('lets live eyes through: their texture moves with the pupil', () => {
    expect(report.refusedByMotion.live ?? 0).toBe(0);
    expect(report.capturePad.bpcer.rejected).toBeLessThanOrEqual(1);
  });
});

describe('patch attacks', () => {
  it('runs every mode at every area', () => {
    const keys = report.patches.map((s) => `${s.type}/${s.mode}`);
    for (const key of [
      'sybil/random',
      'sybil/white-box',
      'impersonation/victim-texture',
      'impersonation/white-box',
    ]) {
      expect(keys.filter((k) => k === key)).toHaveLength(PATCH_AREAS.length);
    }
    expect(report.patches.filter((s) => s.mode === 'lens')).toMatchObject([
      { type: 'sybil', area: 1, trials: REDUCED.sybilLens },
    ]);
  });

  it('lists each successful trial in the report, none when there is none', () => {
    expect(markdownReport(report)).not.toContain('Successful patch and lens attacks');
    const success: TrialOutcome = {
      type: 'impersonation',
      mode: 'victim-texture',
      person: 19,
      victim: 20,
      area: 0.4,
      renderedArea: 0.4004,
      success: true,
      evaluations: 1,
      live: true,
      padScore: 0.9976,
      maskedFraction: 0.0323,
      fixedShare: 0.0996,
      fixedPiece: 2,
      edgeMotionPx: 0.12,
      limbusDrift: 0.004,
      reasons: [],
      wholeHd: 0.2244,
      partHd: 0.1447,
      duplicate: true,
      wholeMatch: true,
      recognised: true,
    };
    const markdown = markdownReport({ ...report, patchSuccesses: [success] });
    expect(markdown).toContain('### Successful patch and lens attacks');
    expect(markdown).toContain(
      '| impersonation | victim-texture | 40% | 19 | 20 | 40.0% | 0.998 | 3.2% | 0.100 | 2 | 0.224 | 0.145 |',
    );
  });

  it('counts a trial as caught by parts only when it was live and no pre-rolled whole template caught it', () => {
    const trial = (wholeHd: number, partHd: number, live = true): TrialOutcome => ({
      type: 'sybil',
      mode: 'random',
      person: 84,
      area: 0.1,
      renderedArea: 0.1,
      success: false,
      evaluations: 1,
      live,
      padScore: 0.99,
      maskedFraction: 0.1,
      fixedShare: 0.2,
      fixedPiece: 4,
      edgeMotionPx: 0.1,
      limbusDrift: 0.01,
      reasons: [],
      wholeHd,
      partHd,
      duplicate: true,
      // One search of 15 columns missed each of them: the head was rolled.
      wholeMatch: false,
      recognised: false,
    });
    const [summary] = summarizeTrials([
      trial(0.08, 0.06),
      trial(0.41, 0.21),
      trial(0.44, 0.28),
      // Refused by PAD anyway: the part lane did not decide it.
      trial(0.43, 0.2, false),
    ]);
    expect(summary).toMatchObject({ trials: 4, matched: 4, caughtByPartsOnly: 2, successes: 0 });
    // An impersonator whose part matches the victim's is not a Sybil the part lane stopped.
    const [impersonation] = summarizeTrials([
      { ...trial(0.41, 0.21), type: 'impersonation', mode: 'white-box', victim: 85 },
    ]);
    expect(impersonation).toMatchObject({ trials: 1, caughtByPartsOnly: 0 });
  });

  it('never issues a second identity to a patched enrolled person (Sybil)', () => {
    for (const s of report.patches.filter((x) => x.type === 'sybil')) {
      expect(s.successes, `${s.mode} at ${s.area}`).toBe(0);
    }
    expect(report.patchSuccesses.filter((o) => o.type === 'sybil')).toEqual([]);
  });

  it('never recognises a patched attacker as the victim (impersonation)', () => {
    for (const s of report.patches.filter((x) => x.type === 'impersonation')) {
      expect(s.successes, `${s.mode} at ${s.area}`).toBe(0);
    }
    expect(report.patchSuccesses.filter((o) => o.type === 'impersonation')).toEqual([]);
  });
});
