/**
 * The IR LED that plays a session's stimulus (protocol/pupil-reflex.ts). On a board it is a Linux LED
 * class device (`/sys/class/leds/<name>/brightness`, e.g. a PWM-driven IR LED): each pulse sets the
 * brightness to level x max_brightness for its duration. With the synthetic camera there is no LED to drive:
 * the simulated eye answers the schedule the camera is given.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IrisgateError } from '../protocol/errors.ts';
import type { CaptureStimulus } from './camera/camera-source.ts';

export interface IrLed {
  readonly description: string;
  /** Plays the schedule from stimulus.startAtMs (wall clock); a second play replaces the first. */
  play(stimulus: CaptureStimulus): void;
  stop(): void;
}

/** No LED hardware: the synthetic camera simulates the eye's answer itself. */
export const NO_LED: IrLed = {
  description: 'none (simulated by the synthetic camera)',
  play() {},
  stop() {},
};

export function sysfsLed(ledDir: string): IrLed {
  let max: number;
  try {
    max = Number.parseInt(readFileSync(join(ledDir, 'max_brightness'), 'utf8'), 10);
  } catch (cause) {
    throw new IrisgateError('camera_unavailable', `no LED class device at ${ledDir}`, { cause });
  }
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new IrisgateError('camera_unavailable', `${ledDir}/max_brightness is not a positive integer`);
  }
  const set = (level: number) => writeFileSync(join(ledDir, 'brightness'), `${Math.round(level * max)}\n`);
  let timers: NodeJS.Timeout[] = [];
  const stop = () => {
    for (const timer of timers) clearTimeout(timer);
    timers = [];
    set(0);
  };
  return {
    description: `LED ${ledDir} (max ${max})`,
    play({ schedule, startAtMs }) {
      stop();
      const at = (offsetMs: number) => Math.max(0, startAtMs + offsetMs - Date.now());
      for (const pulse of schedule) {
        timers.push(setTimeout(() => set(pulse.level), at(pulse.startMs)));
        timers.push(setTimeout(() => set(0), at(pulse.startMs + pulse.durationMs)));
      }
    },
    stop,
  };
}
