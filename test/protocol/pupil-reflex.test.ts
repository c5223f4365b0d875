import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../iris/seeded-random.ts';
import {
  CAPTURE_MS,
  checkPupilReflex,
  livePupilRadius,
  type ReflexFrame,
  type StimulusPulse,
  stimulusSchedule,
} from '../../protocol/pupil-reflex.ts';

const TRIALS = 300;
const REPLAY_TRIALS = 1500;

/** A session nonce drawn from a seeded generator, so every run sees the same schedules. */
function seededNonce(random: () => number): Uint8Array {
  return Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
}

/** Frames at ~10 fps with timing jitter, radii measured with Gaussian noise. */
function capture(radius: (tMs: number) => number, random: () => number, noisePx = 0.35): ReflexFrame[] {
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const frames: ReflexFrame[] = [];
  for (let t = 0; t <= CAPTURE_MS; t += 100) {
    const tMs = Math.max(0, t + Math.round((random() - 0.5) * 20));
    frames.push({ tMs, pupilRadiusPx: radius(tMs) + noisePx * gauss() });
  }
  return frames;
}

function livePerson(random: () => number) {
  return {
    baselinePx: 22 + random() * 20,
    amplitude: 0.08 + random() * 0.22,
    latencyMs: 190 + random() * 120,
  };
}

describe('the pupil light reflex challenge', () => {
  it('derives one schedule per nonce, inside the capture window', () => {
    const nonce = randomBytes(32);
    expect(stimulusSchedule(nonce)).toEqual(stimulusSchedule(Uint8Array.from(nonce)));
    expect(stimulusSchedule(randomBytes(32))).not.toEqual(stimulusSchedule(nonce));
    for (let i = 0; i < 200; i++) {
      const schedule = stimulusSchedule(randomBytes(32));
      expect(schedule.length).toBeGreaterThanOrEqual(4);
      expect(schedule.length).toBeLessThanOrEqual(10);
      for (const [k, pulse] of schedule.entries()) {
        expect(pulse.startMs).toBeGreaterThanOrEqual(k === 0 ? 200 : (schedule[k - 1]?.startMs ?? 0) + 400);
        expect(pulse.startMs + pulse.durationMs).toBeLessThan(CAPTURE_MS - 650);
        expect(pulse.level).toBeGreaterThanOrEqual(0.3);
        expect(pulse.level).toBeLessThanOrEqual(1);
      }
    }
  });

  it(`accepts living pupils (${TRIALS} people, measurement noise 0.35 px)`, () => {
    const random = seededRandom(11);
    let live = 0;
    for (let i = 0; i < TRIALS; i++) {
      const schedule = stimulusSchedule(seededNonce(random));
      const person = livePerson(random);
      const verdict = checkPupilReflex(
        schedule,
        capture((t) => livePupilRadius(schedule, t, person), random),
      );
      if (verdict.live) live++;
    }
    expect(live / TRIALS).toBeGreaterThanOrEqual(0.97);
  });

  it('refuses pupils that do not answer: prints, screens, prosthetics, natural unrest alone', () => {
    const random = seededRandom(12);
    let passed = 0;
    for (let i = 0; i < TRIALS; i++) {
      const schedule = stimulusSchedule(seededNonce(random));
      const r0 = 22 + random() * 20;
      const phase = random() * 2 * Math.PI;
      const hippus = (t: number) =>
        r0 * (1 + 0.03 * Math.sin(phase + (2 * Math.PI * t) / (700 + random() * 900)));
      for (const radius of [() => r0, hippus]) {
        const verdict = checkPupilReflex(schedule, capture(radius, random));
        if (verdict.live) passed++;
        else expect(verdict.reasons.length).toBeGreaterThan(0);
      }
    }
    expect(passed).toBe(0);
  });

  it(`refuses a recording of a living pupil made under another schedule (${REPLAY_TRIALS} recordings)`, () => {
    const random = seededRandom(13);
    let passed = 0;
    for (let i = 0; i < REPLAY_TRIALS; i++) {
      const recorded: StimulusPulse[] = stimulusSchedule(seededNonce(random));
      const asked = stimulusSchedule(seededNonce(random));
      const person = livePerson(random);
      const frames = capture((t) => livePupilRadius(recorded, t, person), random);
      if (checkPupilReflex(asked, frames).live) passed++;
    }
    expect(passed / REPLAY_TRIALS).toBeLessThanOrEqual(0.01);
  });
});
