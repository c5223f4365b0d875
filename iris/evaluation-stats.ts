/**
 * Statistics of a biometric evaluation: genuine and impostor distance distributions, false non-match rate
 * at a false match rate (measured on the impostor scores, or extrapolated from a binomial fitted to them,
 * as Daugman does for iris codes), and rates at a fixed threshold.
 */

export interface DistributionSummary {
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

export function summarise(values: ArrayLike<number>): DistributionSummary {
  const count = values.length;
  if (count === 0) return { count, mean: Number.NaN, std: Number.NaN, min: Number.NaN, max: Number.NaN };
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const v = values[i] as number;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / count;
  let squares = 0;
  for (let i = 0; i < count; i++) squares += ((values[i] as number) - mean) ** 2;
  return { count, mean, std: Math.sqrt(squares / Math.max(1, count - 1)), min, max };
}

/**
 * Degrees of freedom of a fractional Hamming distance distribution: the N of the binomial whose
 * variance p(1-p)/N matches the observed one (Daugman).
 */
export function degreesOfFreedom({ mean, std }: DistributionSummary): number {
  return (mean * (1 - mean)) / (std * std);
}

/**
 * The largest threshold t (a distance; a match is distance <= t) at which the measured false match rate
 * over `impostors` is at most `fmr`. Undefined when there are too few impostor scores to measure that rate
 * (fewer than 1/fmr).
 */
export function thresholdAtFmr(impostors: ArrayLike<number>, fmr: number): number | undefined {
  const n = impostors.length;
  if (n * fmr < 1) return undefined;
  const sorted = Float64Array.from(impostors).sort();
  const allowed = Math.floor(fmr * n);
  // Matches are distance <= t: just below the (allowed+1)-th smallest impostor, at most `allowed` get
  // through. Distinct fractional Hamming distances (bit counts <= 16,384) differ by more than 3e-9.
  return (sorted[allowed] as number) - DISTANCE_EPSILON;
}

const DISTANCE_EPSILON = 1e-12;

/** Fraction of values <= threshold (for impostors: the false match rate). */
export function rateAtOrBelow(values: ArrayLike<number>, threshold: number): number {
  let hits = 0;
  for (let i = 0; i < values.length; i++) if ((values[i] as number) <= threshold) hits++;
  return values.length === 0 ? Number.NaN : hits / values.length;
}

/** Fraction of values > threshold (for genuine scores: the false non-match rate). */
export function rateAbove(values: ArrayLike<number>, threshold: number): number {
  return values.length === 0 ? Number.NaN : 1 - rateAtOrBelow(values, threshold);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** Lanczos approximation of ln Γ(x), x > 0 (relative error below 1e-13). */
function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X/N <= t) for X ~ Binomial(N, p), with N rounded to an integer. */
export function binomialCdfOfFraction(t: number, p: number, dof: number): number {
  const n = Math.max(1, Math.round(dof));
  const kMax = Math.floor(t * n + 1e-9);
  if (kMax < 0) return 0;
  if (kMax >= n) return 1;
  let total = 0;
  for (let k = 0; k <= kMax; k++)
    total += Math.exp(logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p));
  return Math.min(1, total);
}

/**
 * The threshold at which a binomial fitted to the impostor distribution (p = mean, N = degrees of freedom)
 * predicts a false match rate of `fmr`: an extrapolation beyond what the impostor pairs can measure.
 */
export function extrapolatedThresholdAtFmr(impostor: DistributionSummary, fmr: number): number {
  const dof = degreesOfFreedom(impostor);
  const n = Math.max(1, Math.round(dof));
  let threshold = 0;
  for (let k = 0; k <= n; k++) {
    if (binomialCdfOfFraction(k / n, impostor.mean, dof) > fmr) break;
    threshold = k / n;
  }
  return threshold;
}
