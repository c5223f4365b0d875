/**
 * Presentation-attack detection metrics (ISO/IEC 30107-3), pure functions over scored presentations.
 *
 * A sample is `{ label, score }`: label 'live' is a bona fide presentation, any other label an attack type;
 * the score is in [0, 1], higher = more likely live, and a presentation is accepted as live when
 * score >= threshold (a tie with the threshold is accepted).
 *
 * - APCER of one attack type: the share of its presentations accepted as live. Reported per type; the
 *   system's APCER is the worst (highest) type's.
 * - BPCER: the share of bona fide presentations rejected.
 * - BPCER20 / BPCER100: BPCER at the lowest threshold where the WORST attack type's APCER is at most
 *   5% / 1%, so every type is at or below the target.
 * - Zero errors in n presentations only bound the rate below 3/n (95% confidence, the rule of three).
 */

import { quantile } from '../segmentation/image-ops.ts';

export const BONA_FIDE_LABEL = 'live';

export interface PadSample {
  /** 'live' for a bona fide presentation, otherwise the attack type. */
  label: string;
  /** In [0, 1], higher = more likely live. */
  score: number;
}

export interface ApcerByType {
  /** The attack type (a sample label other than 'live'). */
  type: string;
  presentations: number;
  /** Presentations accepted as live (score >= threshold). */
  accepted: number;
  /** accepted / presentations; null when the type has no presentations. */
  apcer: number | null;
  /** With 0 accepted: the rule-of-three 95% upper bound 3/n (at most 1); null otherwise. */
  upper95: number | null;
}

export interface BpcerResult {
  presentations: number;
  /** Bona fide presentations rejected (score < threshold). */
  rejected: number;
  /** rejected / presentations; null without bona fide presentations. */
  bpcer: number | null;
  /** With 0 rejected: the rule-of-three 95% upper bound 3/n (at most 1); null otherwise. */
  upper95: number | null;
}

export interface BpcerAtApcer {
  /** The APCER asked for: 0.05 for BPCER20, 0.01 for BPCER100. */
  apcerTarget: number;
  /** The lowest threshold where every attack type's APCER <= apcerTarget; null without attack presentations. */
  threshold: number | null;
  /** BPCER at that threshold; null without a threshold or without bona fide presentations. */
  bpcer: number | null;
  /** The highest APCER over the attack types at that threshold, and its type (the first such type on a tie). */
  worstApcer: number | null;
  worstType: string | null;
  /**
   * Whether every attack type has at least ceil(3 / apcerTarget) presentations, the fewest for which 0
   * errors bound APCER at the target (rule of three). Without it the threshold fits this sample only.
   */
  sufficientPresentations: boolean;
}

export interface ScoreQuantiles {
  count: number;
  min: number;
  p05: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
  max: number;
}

export interface PadReport {
  /** The threshold APCER and BPCER are measured at (accepted as live when score >= threshold). */
  threshold: number;
  /** Per attack type in order of first appearance (then any `types` asked for that never appeared). */
  apcer: ApcerByType[];
  /** The highest APCER over the attack types with presentations, and its type; null without attacks. */
  worstApcer: { type: string; apcer: number } | null;
  bpcer: BpcerResult;
  bpcer20: BpcerAtApcer;
  bpcer100: BpcerAtApcer;
  /** Score quantiles per label ('live' first, then the attack types); labels without samples are left out. */
  scores: Record<string, ScoreQuantiles>;
}

/** The rule-of-three 95% upper bound on a rate after 0 errors in n trials: 3/n, at most 1 (1 for n = 0). */
export function ruleOfThree(n: number): number {
  return n > 0 ? Math.min(1, 3 / n) : 1;
}

/** The attack types in order of first appearance, then the extra `types` not seen. */
function attackTypes(samples: readonly PadSample[], types: readonly string[] = []): string[] {
  const seen = new Set<string>();
  for (const { label } of samples) if (label !== BONA_FIDE_LABEL) seen.add(label);
  for (const type of types) if (type !== BONA_FIDE_LABEL) seen.add(type);
  return [...seen];
}

/**
 * APCER of every attack type at `threshold`. `types` adds attack types that may have no presentations
 * (they are reported with apcer null).
 */
export function apcerByType(
  samples: readonly PadSample[],
  threshold: number,
  types: readonly string[] = [],
): ApcerByType[] {
  const counts = new Map<string, { presentations: number; accepted: number }>();
  for (const type of attackTypes(samples, types)) counts.set(type, { presentations: 0, accepted: 0 });
  for (const { label, score } of samples) {
    const count = counts.get(label);
    if (!count) continue;
    count.presentations++;
    if (score >= threshold) count.accepted++;
  }
  return [...counts].map(([type, { presentations, accepted }]) => ({
    type,
    presentations,
    accepted,
    apcer: presentations > 0 ? accepted / presentations : null,
    upper95: presentations > 0 && accepted === 0 ? ruleOfThree(presentations) : null,
  }));
}

/** BPCER at `threshold`: the share of bona fide presentations with score < threshold. */
export function bpcer(samples: readonly PadSample[], threshold: number): BpcerResult {
  let presentations = 0;
  let rejected = 0;
  for (const { label, score } of samples) {
    if (label !== BONA_FIDE_LABEL) continue;
    presentations++;
    if (score < threshold) rejected++;
  }
  return {
    presentations,
    rejected,
    bpcer: presentations > 0 ? rejected / presentations : null,
    upper95: presentations > 0 && rejected === 0 ? ruleOfThree(presentations) : null,
  };
}

/** The smallest double above x. */
function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Number.POSITIVE_INFINITY) return x;
  if (x === 0) return Number.MIN_VALUE;
  const bits = new BigInt64Array(new Float64Array([x]).buffer);
  bits[0] = (bits[0] as bigint) + (x > 0 ? 1n : -1n);
  return new Float64Array(bits.buffer)[0] as number;
}

/** Most presentations out of n that may be accepted with APCER <= target (guarding 0.29 * 100 = 28.999...). */
function allowedAccepts(n: number, target: number): number {
  return Math.floor(target * n + 1e-9);
}

/**
 * The lowest threshold at which every attack type's APCER is at most `target` (the threshold is set on the
 * worst type): the type that needs the highest threshold decides. Within a type of n presentations at most
 * k = floor(target * n) may be accepted, so the threshold must lie above its (k+1)-th highest score; tied
 * scores fall on the same side, so a tie at that score is rejected together. The threshold returned is the
 * lowest observed score above that bound (any sample's, so it is a score the data holds), or the next
 * double above it when no sample scores higher. When no type needs rejecting (target >= 1) it is the lowest
 * score of all, which accepts everything. Null without attack presentations.
 */
export function thresholdForApcer(samples: readonly PadSample[], target: number): number | null {
  const byType = new Map<string, number[]>();
  for (const { label, score } of samples) {
    if (label === BONA_FIDE_LABEL) continue;
    const scores = byType.get(label);
    if (scores) scores.push(score);
    else byType.set(label, [score]);
  }
  if (byType.size === 0) return null;
  // Scores that must be rejected: the threshold must be strictly above the highest of them.
  let mustReject = Number.NEGATIVE_INFINITY;
  for (const scores of byType.values()) {
    const k = allowedAccepts(scores.length, target);
    if (k >= scores.length) continue;
    scores.sort((a, b) => b - a);
    mustReject = Math.max(mustReject, scores[k] as number);
  }
  let lowest = Number.POSITIVE_INFINITY;
  let above = Number.POSITIVE_INFINITY;
  for (const { score } of samples) {
    lowest = Math.min(lowest, score);
    if (score > mustReject && score < above) above = score;
  }
  if (mustReject === Number.NEGATIVE_INFINITY) return lowest;
  return above === Number.POSITIVE_INFINITY ? nextUp(mustReject) : above;
}

/** BPCER at the lowest threshold where the worst attack type's APCER is at most `target` (ISO 30107-3). */
export function bpcerAtApcer(samples: readonly PadSample[], target: number): BpcerAtApcer {
  const types = apcerByType(samples, 0);
  const sufficientPresentations =
    types.length > 0 && types.every((t) => t.presentations >= Math.ceil(3 / target - 1e-9));
  const threshold = thresholdForApcer(samples, target);
  if (threshold === null) {
    return {
      apcerTarget: target,
      threshold,
      bpcer: null,
      worstApcer: null,
      worstType: null,
      sufficientPresentations,
    };
  }
  const worst = worstOf(apcerByType(samples, threshold));
  return {
    apcerTarget: target,
    threshold,
    bpcer: bpcer(samples, threshold).bpcer,
    worstApcer: worst?.apcer ?? null,
    worstType: worst?.type ?? null,
    sufficientPresentations,
  };
}

function worstOf(types: readonly ApcerByType[]): { type: string; apcer: number } | null {
  let worst: { type: string; apcer: number } | null = null;
  for (const { type, apcer } of types) {
    if (apcer !== null && (worst === null || apcer > worst.apcer)) worst = { type, apcer };
  }
  return worst;
}

export function scoreQuantiles(scores: readonly number[]): ScoreQuantiles | null {
  if (scores.length === 0) return null;
  return {
    count: scores.length,
    min: quantile(scores, 0),
    p05: quantile(scores, 0.05),
    p25: quantile(scores, 0.25),
    p50: quantile(scores, 0.5),
    p75: quantile(scores, 0.75),
    p95: quantile(scores, 0.95),
    max: quantile(scores, 1),
  };
}

/** Every figure at `threshold` plus BPCER20 and BPCER100; `types` adds attack types with no presentations. */
export function summarizePad(
  samples: readonly PadSample[],
  threshold: number,
  types: readonly string[] = [],
): PadReport {
  const apcer = apcerByType(samples, threshold, types);
  const byLabel = new Map<string, number[]>([[BONA_FIDE_LABEL, []]]);
  for (const type of apcer) byLabel.set(type.type, []);
  for (const { label, score } of samples) byLabel.get(label)?.push(score);
  const scores: Record<string, ScoreQuantiles> = {};
  for (const [label, values] of byLabel) {
    const q = scoreQuantiles(values);
    if (q) scores[label] = q;
  }
  return {
    threshold,
    apcer,
    worstApcer: worstOf(apcer),
    bpcer: bpcer(samples, threshold),
    bpcer20: bpcerAtApcer(samples, 0.05),
    bpcer100: bpcerAtApcer(samples, 0.01),
    scores,
  };
}
