import { describe, expect, it } from 'vitest';
import {
  binomialCdfOfFraction,
  degreesOfFreedom,
  extrapolatedThresholdAtFmr,
  rateAbove,
  rateAtOrBelow,
  summarise,
  thresholdAtFmr,
} from '../../iris/evaluation-stats.ts';

describe('evaluation statistics', () => {
  it('summarises a distribution (sample standard deviation)', () => {
    expect(summarise([0.4, 0.5, 0.6])).toEqual({
      count: 3,
      mean: 0.5,
      std: expect.closeTo(0.1, 12),
      min: 0.4,
      max: 0.6,
    });
  });

  it('computes Daugman degrees of freedom: p(1-p)/sigma^2', () => {
    // p = 0.5, sigma = 0.0158 -> N = 0.25 / 0.00024964 = 1001.4
    expect(degreesOfFreedom({ count: 1, mean: 0.5, std: 0.0158, min: 0, max: 1 })).toBeCloseTo(1001.44, 1);
  });

  it('picks the threshold that lets at most fmr * n impostors match', () => {
    const impostors = [0.3, 0.31, 0.32, 0.4, 0.41, 0.42, 0.43, 0.44, 0.45, 0.46];
    const t0 = thresholdAtFmr(impostors, 0.1) ?? Number.NaN; // 1 allowed -> just below 0.31
    expect(rateAtOrBelow(impostors, t0)).toBe(0.1);
    expect(t0).toBeLessThan(0.31);
    expect(t0).toBeGreaterThan(0.3);
    const tNone = thresholdAtFmr(impostors, 0.05) ?? Number.NaN; // 0 allowed -> just below 0.3
    expect(rateAtOrBelow(impostors, tNone)).toBe(0);
    expect(thresholdAtFmr(impostors, 0.01)).toBeUndefined(); // 10 scores cannot measure 1e-2
  });

  it('counts false non-matches strictly above the threshold', () => {
    expect(rateAbove([0.1, 0.2, 0.345, 0.35], 0.345)).toBe(0.25);
  });

  it('evaluates the binomial CDF against hand-computed values', () => {
    // N = 4, p = 0.5: P(X <= 1) = (1 + 4) / 16
    expect(binomialCdfOfFraction(0.25, 0.5, 4)).toBeCloseTo(5 / 16, 12);
    expect(binomialCdfOfFraction(1, 0.5, 4)).toBe(1);
    expect(binomialCdfOfFraction(-0.1, 0.5, 4)).toBe(0);
  });

  it('extrapolates a threshold whose predicted false match rate is at most the target', () => {
    const impostor = { count: 1e5, mean: 0.46, std: Math.sqrt((0.46 * 0.54) / 800), min: 0, max: 1 };
    const t = extrapolatedThresholdAtFmr(impostor, 1e-6);
    expect(binomialCdfOfFraction(t, 0.46, 800)).toBeLessThanOrEqual(1e-6);
    expect(binomialCdfOfFraction(t + 1 / 800, 0.46, 800)).toBeGreaterThan(1e-6);
    // Normal approximation: 0.46 - 4.753 * sqrt(0.46 * 0.54 / 800) = 0.376
    expect(t).toBeGreaterThan(0.37);
    expect(t).toBeLessThan(0.38);
  });
});
