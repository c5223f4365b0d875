/**
 * PAD metrics (ISO/IEC 30107-3) on hand-computed cases: ties with the threshold are accepted, BPCER20 and
 * BPCER100 set their threshold on the worst attack type, tied scores fall on the same side, empty types,
 * and the rule of three for 0 errors.
 */
import { describe, expect, it } from 'vitest';
import {
  apcerByType,
  bpcer,
  bpcerAtApcer,
  type PadSample,
  ruleOfThree,
  scoreQuantiles,
  summarizePad,
  thresholdForApcer,
} from '../../iris/pad/metrics.ts';

const of = (label: string, ...scores: number[]): PadSample[] => scores.map((score) => ({ label, score }));

// live 0.9 0.8 0.6 0.5 0.3; print 0.1 0.2 0.5 0.7; screen 0.4 0.4
const SMALL = [
  ...of('live', 0.9, 0.8, 0.6, 0.5, 0.3),
  ...of('print', 0.1, 0.2, 0.5, 0.7),
  ...of('screen', 0.4, 0.4),
];

describe('PAD metrics', () => {
  it('measures APCER per type and BPCER at a threshold, a tie with it accepted as live', () => {
    expect(apcerByType(SMALL, 0.5)).toEqual([
      { type: 'print', presentations: 4, accepted: 2, apcer: 0.5, upper95: null },
      // 0 errors in 2: the rule-of-three bound 3/2, capped at 1.
      { type: 'screen', presentations: 2, accepted: 0, apcer: 0, upper95: 1 },
    ]);
    expect(bpcer(SMALL, 0.5)).toEqual({ presentations: 5, rejected: 1, bpcer: 0.2, upper95: null });
    expect(bpcer(SMALL, 0.3)).toEqual({ presentations: 5, rejected: 0, bpcer: 0, upper95: 0.6 });
    expect(bpcer(SMALL, 0.31).rejected).toBe(1);
    expect(apcerByType(SMALL, 0.7)[0]?.accepted).toBe(1);
    expect(apcerByType(SMALL, 0.70001)[0]?.accepted).toBe(0);
  });

  it('reports types without presentations and sets without live or attack samples as n/a', () => {
    expect(apcerByType(of('live', 0.5), 0.5, ['lens', 'live'])).toEqual([
      { type: 'lens', presentations: 0, accepted: 0, apcer: null, upper95: null },
    ]);
    expect(bpcer(of('print', 0.5), 0.5)).toEqual({
      presentations: 0,
      rejected: 0,
      bpcer: null,
      upper95: null,
    });
    expect(thresholdForApcer(of('live', 0.5, 0.7), 0.05)).toBeNull();
    expect(bpcerAtApcer(of('live', 0.5), 0.05)).toEqual({
      apcerTarget: 0.05,
      threshold: null,
      bpcer: null,
      worstApcer: null,
      worstType: null,
      sufficientPresentations: false,
    });
    // Attacks only: a threshold (just above the highest attack) but no BPCER.
    const attacksOnly = bpcerAtApcer(of('print', 0.2, 0.4), 0.05);
    expect(attacksOnly).toMatchObject({ bpcer: null, worstApcer: 0, worstType: 'print' });
    expect(attacksOnly.threshold).toBeGreaterThan(0.4);
    expect(bpcerAtApcer([], 0.05).threshold).toBeNull();
  });

  it('sets the BPCER20 threshold just above the attacks that must be rejected, at an observed score', () => {
    // Fewer than 20 presentations per type: none may be accepted. The highest attack is print's 0.7, so the
    // threshold is the lowest score above it, live 0.8: live 0.6, 0.5 and 0.3 are rejected.
    expect(thresholdForApcer(SMALL, 0.05)).toBe(0.8);
    expect(bpcerAtApcer(SMALL, 0.05)).toEqual({
      apcerTarget: 0.05,
      threshold: 0.8,
      bpcer: 0.6,
      worstApcer: 0,
      worstType: 'print',
      sufficientPresentations: false,
    });
  });

  it('keeps tied attack scores on the same side: the tie is rejected together', () => {
    // APCER <= 50%: print may accept 2 of 4 (0.7, 0.5), screen 1 of 2, but its two scores tie at 0.4 and
    // accepting one accepts both (100%), so screen, the worst type here, needs the threshold above 0.4.
    expect(thresholdForApcer(SMALL, 0.5)).toBe(0.5);
    expect(bpcerAtApcer(SMALL, 0.5)).toMatchObject({
      threshold: 0.5,
      bpcer: 0.2,
      worstApcer: 0.5,
      worstType: 'print',
    });
    expect(apcerByType(SMALL, 0.5).map((t) => t.apcer)).toEqual([0.5, 0]);
  });

  it('sets the threshold on the worst attack type, not on all attacks pooled', () => {
    // 20 presentations per type: at APCER <= 5% one of each type may be accepted. Type B has two at 0.8;
    // pooled (2 of 40 allowed) a threshold above 0.2 would do, but then B's APCER is 10%.
    const samples = [
      ...of('live', 0.3, 0.5, 0.85, 0.95),
      ...of('A', ...Array<number>(20).fill(0.1)),
      ...of('B', 0.8, 0.8, ...Array<number>(18).fill(0.2)),
    ];
    const at = bpcerAtApcer(samples, 0.05);
    expect(at).toEqual({
      apcerTarget: 0.05,
      threshold: 0.85,
      bpcer: 0.5,
      worstApcer: 0,
      worstType: 'A',
      sufficientPresentations: false,
    });
    expect(apcerByType(samples, 0.3).map((t) => t.apcer)).toEqual([0, 0.1]);
    // One at 0.8 only: B may keep it, so the threshold moves down to just above 0.2 (live 0.3).
    const one = [...samples.slice(0, 24), ...of('B', 0.8, ...Array<number>(19).fill(0.2))];
    expect(bpcerAtApcer(one, 0.05)).toMatchObject({
      threshold: 0.3,
      bpcer: 0,
      worstApcer: 0.05,
      worstType: 'B',
    });
  });

  it('counts the allowed accepts without floating-point loss (0.29 * 100 = 28.999...)', () => {
    const attacks = of('print', ...Array.from({ length: 100 }, (_, i) => i / 100));
    const t = thresholdForApcer(attacks, 0.29);
    expect(t).toBe(0.71);
    expect(apcerByType(attacks, t as number)[0]?.accepted).toBe(29);
  });

  it('goes past the highest score when every attack must be rejected and nothing scores higher', () => {
    const samples = [...of('live', 0.5, 1), ...of('print', 1, 0.2)];
    const t = thresholdForApcer(samples, 0.01) as number;
    expect(t).toBeGreaterThan(1);
    expect(t).toBeLessThan(1 + 1e-12);
    expect(bpcerAtApcer(samples, 0.01)).toMatchObject({ bpcer: 1, worstApcer: 0 });
    // A target that needs no rejection accepts everything: the lowest score.
    expect(thresholdForApcer(samples, 1)).toBe(0.2);
  });

  it('says when the presentations suffice for the target by the rule of three', () => {
    const enough = [...of('live', 0.9), ...of('print', ...Array<number>(60).fill(0.1))];
    expect(bpcerAtApcer(enough, 0.05).sufficientPresentations).toBe(true);
    expect(bpcerAtApcer(enough, 0.01).sufficientPresentations).toBe(false);
    expect(bpcerAtApcer([...enough, ...of('lens', 0.1)], 0.05).sufficientPresentations).toBe(false);
  });

  it('bounds a rate with 0 errors by the rule of three', () => {
    expect(ruleOfThree(300)).toBe(0.01);
    expect(ruleOfThree(60)).toBe(0.05);
    expect(ruleOfThree(2)).toBe(1);
    expect(ruleOfThree(0)).toBe(1);
  });

  it('gives score quantiles by linear interpolation', () => {
    expect(scoreQuantiles([5, 1, 4, 2, 3])).toEqual({
      count: 5,
      min: 1,
      p05: expect.closeTo(1.2, 12),
      p25: 2,
      p50: 3,
      p75: 4,
      p95: expect.closeTo(4.8, 12),
      max: 5,
    });
    expect(scoreQuantiles([0.4])).toMatchObject({ min: 0.4, p05: 0.4, p50: 0.4, max: 0.4 });
    expect(scoreQuantiles([])).toBeNull();
  });

  it('summarises a set: the worst type, BPCER20 and BPCER100, quantiles per label', () => {
    const report = summarizePad(SMALL, 0.5, ['print', 'lens']);
    expect(report.threshold).toBe(0.5);
    expect(report.apcer.map((t) => [t.type, t.presentations, t.apcer])).toEqual([
      ['print', 4, 0.5],
      ['screen', 2, 0],
      ['lens', 0, null],
    ]);
    expect(report.worstApcer).toEqual({ type: 'print', apcer: 0.5 });
    expect(report.bpcer.bpcer).toBe(0.2);
    expect(report.bpcer20).toMatchObject({ apcerTarget: 0.05, threshold: 0.8, bpcer: 0.6 });
    expect(report.bpcer100).toMatchObject({ apcerTarget: 0.01, threshold: 0.8, bpcer: 0.6 });
    expect(Object.keys(report.scores)).toEqual(['live', 'print', 'screen']);
    expect(report.scores.live).toMatchObject({ count: 5, min: 0.3, p50: 0.6, max: 0.9 });
    expect(report.scores.screen).toMatchObject({ count: 2, min: 0.4, max: 0.4 });
    expect(summarizePad(of('live', 0.5), 0.5).worstApcer).toBeNull();
  });
});
