/**
 * The multi-frame liveness challenge: an IR LED stimulus schedule that nobody can know before the backend
 * issues the session nonce, and the pupil light reflex a living eye shows in answer.
 *
 * The schedule is derived from the nonce, so the device and the backend compute the same one and a video
 * recorded earlier cannot follow it. With u0, u1, ... the successive 16-bit fractions of
 * SHAKE256("irisgate/stimulus/v1" | nonce) (64 bytes): the first pulse starts at 200 + 500 u ms after the
 * first frame, each next one 500 + 900 u ms after the previous start, as long as it starts before 3,100 ms
 * (2 to 6 pulses; the pupil partly recovers between them); each lasts
 * 60 + 140 u ms at level 0.3 + round(14 u) / 20 (0.3 to 1). Irregular gaps and levels make the curves of most two
 * schedules unlike each other at every latency, so a recording made under one rarely fits another.
 *
 * A live pupil constricts after a latency of 180-320 ms and recovers within about a second: its radius
 * follows r(t) = r0 (1 - a c(t - L)), where c is the stimulus (level x time) convolved with a gamma-shaped
 * impulse response of time constant TAU_MS, and a and L vary by person. The check fits the baseline and one
 * constriction per pulse by least squares for every latency in the range and keeps the best fit: a live eye
 * answers every pulse in proportion to its level and the model explains the radii; a print, a screen or a
 * prosthetic does not constrict, and a recording made under another schedule answers the wrong pulses.
 *
 * Measured on simulated captures (test/protocol/pupil-reflex.test.ts; 10 fps, 0.35 px radius noise,
 * amplitude 8-30 %, latency 190-310 ms): live accepted ~97 %, no constriction accepted 0 %, a recording
 * made under another schedule accepted ~4 %. That last figure is not yet the 1 % the project wants: this
 * check is one layer, behind frame signatures and the presentation-attack model.
 */
import { createHash } from 'node:crypto';

export const STIMULUS_DOMAIN = 'irisgate/stimulus/v1';
/** Frames must cover the schedule and the last recovery: 0 to CAPTURE_MS after the first frame. */
export const CAPTURE_MS = 4000;
/** No pulse starts after this (the last response must be seen before CAPTURE_MS). */
const LAST_START_MS = 3100;
export const TAU_MS = 180;
export const LATENCY_RANGE_MS = { min: 180, max: 320, step: 10 } as const;

export interface StimulusPulse {
  /** Start, ms after the first frame. */
  startMs: number;
  durationMs: number;
  /** LED drive level in [0.3, 1]. */
  level: number;
}

/** The schedule a session nonce commands (offsets from the first frame). */
export function stimulusSchedule(nonce: Uint8Array): StimulusPulse[] {
  // 32 fractions: at most 6 pulses fit (200 + 5 x 500 < 3,100), using 1 + 6 x 3 of them.
  const stream = createHash('shake256', { outputLength: 64 }).update(STIMULUS_DOMAIN).update(nonce).digest();
  let next = 0;
  const u = () => {
    const value = stream.readUInt16BE(next) / 65_536;
    next += 2;
    return value;
  };
  const pulses: StimulusPulse[] = [];
  for (let start = 200 + 500 * u(); start < LAST_START_MS; start += 500 + 900 * u()) {
    pulses.push({
      startMs: Math.round(start),
      durationMs: Math.round(60 + 140 * u()),
      level: 0.3 + Math.round(14 * u()) / 20,
    });
  }
  return pulses;
}

/** The gamma impulse response's integral from 0 to `ageMs` (its CDF): 1 - (1 + a / TAU) e^(-a / TAU). */
function responseIntegral(ageMs: number): number {
  if (ageMs <= 0) return 0;
  const x = ageMs / TAU_MS;
  return 1 - (1 + x) * Math.exp(-x);
}

/** The unnormalised response at age t after the start of a pulse of duration d at level 1. */
function pulseResponse(ageMs: number, durationMs: number): number {
  return responseIntegral(ageMs) - responseIntegral(ageMs - durationMs);
}

/** The peak of the response to a 200 ms pulse at level 1 (at the age where the two terms' slopes meet). */
const PEAK_200MS = (() => {
  let peak = 0;
  for (let age = 0; age < 2000; age += 1) peak = Math.max(peak, pulseResponse(age, 200));
  return peak;
})();

/**
 * The unit constriction c(t) at time t (ms after the first frame) for a schedule, latency included:
 * each pulse's level times the gamma impulse response g(s) = (s / TAU^2) e^(-s / TAU) integrated over the
 * pulse (in closed form), scaled so that a 200 ms pulse at level 1 peaks at 1.
 */
export function unitConstriction(schedule: readonly StimulusPulse[], tMs: number, latencyMs: number): number {
  let total = 0;
  for (const pulse of schedule)
    total += pulse.level * pulseResponse(tMs - latencyMs - pulse.startMs, pulse.durationMs);
  return total / PEAK_200MS;
}

/** The radius of a living pupil (baseline r0 px, relative amplitude, latency) under a schedule. */
export function livePupilRadius(
  schedule: readonly StimulusPulse[],
  tMs: number,
  { baselinePx, amplitude, latencyMs }: { baselinePx: number; amplitude: number; latencyMs: number },
): number {
  return baselinePx * (1 - amplitude * unitConstriction(schedule, tMs, latencyMs));
}

export interface ReflexFrame {
  /** ms after the first frame. */
  tMs: number;
  pupilRadiusPx: number;
}

export interface ReflexFit {
  /** Best latency, ms. */
  latencyMs: number;
  /** Fitted baseline radius, px. */
  baselinePx: number;
  /** Relative constriction per unit of stimulus, for each pulse (gain: amplitude / level). */
  gains: number[];
  /** Share of the radius variance the per-pulse model explains (R^2). */
  explained: number;
}

/** Unit constriction of each pulse alone at time t. */
function pulseResponses(schedule: readonly StimulusPulse[], tMs: number, latencyMs: number): number[] {
  return schedule.map((pulse) => unitConstriction([{ ...pulse, level: 1 }], tMs, latencyMs));
}

/** Solves the small symmetric system A x = b by Gaussian elimination with partial pivoting. */
function solve(matrix: number[][], rhs: number[]): number[] | undefined {
  const n = rhs.length;
  const m = matrix.map((row, i) => [...row, rhs[i] as number]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++)
      if (Math.abs(m[r]?.[col] ?? 0) > Math.abs(m[pivot]?.[col] ?? 0)) pivot = r;
    if (Math.abs(m[pivot]?.[col] ?? 0) < 1e-12) return undefined;
    [m[col], m[pivot]] = [m[pivot] as number[], m[col] as number[]];
    const top = m[col] as number[];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = m[r] as number[];
      const factor = (row[col] as number) / (top[col] as number);
      for (let c = col; c <= n; c++) row[c] = (row[c] as number) - factor * (top[c] as number);
    }
  }
  return m.map((row, i) => (row[n] as number) / (row[i] as number));
}

/**
 * Fits r(t) = r0 - sum_k s_k x_k(t - L), one constriction s_k per pulse, by least squares for each latency
 * L in the range, and keeps the latency that explains the most variance.
 */
export function fitPupilReflex(
  schedule: readonly StimulusPulse[],
  frames: readonly ReflexFrame[],
): ReflexFit {
  let best: ReflexFit = { latencyMs: LATENCY_RANGE_MS.min, baselinePx: 0, gains: [], explained: 0 };
  const k = schedule.length;
  if (k === 0 || frames.length < 2 * (k + 1)) return best;
  const ys = frames.map((f) => f.pupilRadiusPx);
  const meanY = ys.reduce((a, b) => a + b, 0) / ys.length;
  const total = ys.reduce((sum, y) => sum + (y - meanY) ** 2, 0);
  for (
    let latency = LATENCY_RANGE_MS.min;
    latency <= LATENCY_RANGE_MS.max;
    latency += LATENCY_RANGE_MS.step
  ) {
    // Columns: 1 (baseline), then -x_k (constriction of pulse k).
    const rows = frames.map((f) => [1, ...pulseResponses(schedule, f.tMs, latency).map((x) => -x)]);
    const normal = Array.from({ length: k + 1 }, (_, i) =>
      Array.from({ length: k + 1 }, (_, j) =>
        rows.reduce((sum, row) => sum + (row[i] as number) * (row[j] as number), 0),
      ),
    );
    const rhs = Array.from({ length: k + 1 }, (_, i) =>
      rows.reduce((sum, row, n) => sum + (row[i] as number) * (ys[n] as number), 0),
    );
    const coefficients = solve(normal, rhs);
    if (!coefficients) continue;
    const residual = rows.reduce((sum, row, n) => {
      const predicted = row.reduce((p, value, i) => p + value * (coefficients[i] as number), 0);
      return sum + ((ys[n] as number) - predicted) ** 2;
    }, 0);
    const explained = total > 0 ? 1 - residual / total : 0;
    if (explained > best.explained) {
      const baseline = coefficients[0] as number;
      best = {
        latencyMs: latency,
        baselinePx: baseline,
        gains: schedule.map((pulse, i) => (coefficients[i + 1] as number) / baseline / pulse.level),
        explained,
      };
    }
  }
  return best;
}

export const REFLEX_THRESHOLDS = {
  /** Smallest relative constriction per unit of stimulus (mean over pulses) a live pupil shows. */
  minGain: 0.05,
  /** Largest: beyond it the "pupil" is a drawing being resized, not a pupil. */
  maxGain: 1,
  /** Every pulse must be answered with a gain within this share of the mean gain (a pupil answers each
   * pulse in proportion to its level; a recording made under another schedule does not). */
  maxGainSpread: 0.5,
  /** Share of the radius variance the reflex must explain. */
  minExplained: 0.4,
} as const;

export interface ReflexVerdict {
  live: boolean;
  fit: ReflexFit;
  /** Why not live: no_constriction, implausible_constriction, unanswered_pulse, does_not_follow_stimulus. */
  reasons: string[];
}

/** Whether the radii show a living pupil's answer to every pulse of this schedule. */
export function checkPupilReflex(
  schedule: readonly StimulusPulse[],
  frames: readonly ReflexFrame[],
): ReflexVerdict {
  const fit = fitPupilReflex(schedule, frames);
  const reasons: string[] = [];
  const meanGain = fit.gains.length > 0 ? fit.gains.reduce((a, b) => a + b, 0) / fit.gains.length : 0;
  if (!(meanGain >= REFLEX_THRESHOLDS.minGain)) reasons.push('no_constriction');
  else if (meanGain > REFLEX_THRESHOLDS.maxGain) reasons.push('implausible_constriction');
  else if (
    fit.gains.some((gain) => !(Math.abs(gain - meanGain) <= REFLEX_THRESHOLDS.maxGainSpread * meanGain))
  ) {
    reasons.push('unanswered_pulse');
  }
  if (!(fit.explained >= REFLEX_THRESHOLDS.minExplained)) reasons.push('does_not_follow_stimulus');
  return { live: reasons.length === 0, fit, reasons };
}
