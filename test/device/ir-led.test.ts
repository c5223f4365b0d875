/**
 * The IR LED driver (device/ir-led.ts) on a folder laid out like a Linux LED class device
 * (/sys/class/leds/<name>/{max_brightness,brightness}: the kernel's interface is those files): each pulse
 * of the schedule writes level x max_brightness at its start and 0 after its duration, in real time; stop()
 * and a second play() cancel what is left.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { sysfsLed } from '../../device/ir-led.ts';

/** A fake /sys/class/leds/ir: max_brightness (none: null) and a brightness that starts at `initial`. */
function ledFolder(maxBrightness: string | null = '255\n', initial = '17\n'): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'irisgate-led-')), 'ir');
  mkdirSync(dir);
  if (maxBrightness !== null) writeFileSync(join(dir, 'max_brightness'), maxBrightness);
  writeFileSync(join(dir, 'brightness'), initial);
  return dir;
}

const brightness = (dir: string) => readFileSync(join(dir, 'brightness'), 'utf8');

/**
 * Every change of the brightness file over `durationMs` (polled every millisecond or two), with the time
 * it was first seen, relative to `t0`.
 */
async function recordBrightness(
  dir: string,
  t0: number,
  durationMs: number,
): Promise<{ atMs: number; value: string }[]> {
  const seen: { atMs: number; value: string }[] = [];
  while (Date.now() - t0 < durationMs) {
    const value = brightness(dir);
    if (seen.at(-1)?.value !== value) seen.push({ atMs: Date.now() - t0, value });
    await sleep(1);
  }
  return seen;
}

describe('sysfsLed', () => {
  it('writes level x max_brightness at each pulse start and 0 when it ends, on the wall clock', async () => {
    const dir = ledFolder('255\n');
    const led = sysfsLed(dir);
    expect(led.description).toBe(`LED ${dir} (max 255)`);
    const t0 = Date.now();
    led.play({
      startAtMs: t0 + 100,
      schedule: [
        { startMs: 0, durationMs: 150, level: 0.5 },
        { startMs: 300, durationMs: 150, level: 1 },
      ],
    });
    // play() first turns the LED off (it replaces whatever was playing).
    expect(brightness(dir)).toBe('0\n');
    const seen = await recordBrightness(dir, t0, 700);
    expect(seen.map((s) => s.value)).toEqual(['0\n', '128\n', '0\n', '255\n', '0\n']);
    const expectedAtMs = [0, 100, 250, 400, 550];
    seen.forEach(({ atMs }, i) => {
      const expected = expectedAtMs[i] as number;
      // Timers never fire early; on a busy machine they may fire a little late.
      expect(atMs, `change ${i}`).toBeGreaterThanOrEqual(expected - 2);
      expect(atMs, `change ${i}`).toBeLessThan(expected + 80);
    });
  });

  it('scales the level to the maximum brightness, rounded', async () => {
    const dir = ledFolder('1023\n');
    const led = sysfsLed(dir);
    led.play({ startAtMs: Date.now(), schedule: [{ startMs: 0, durationMs: 100, level: 0.3 }] });
    await sleep(40);
    expect(brightness(dir)).toBe('307\n');
    await sleep(160);
    expect(brightness(dir)).toBe('0\n');
    led.stop();
  });

  it('plays pulses whose start has passed at once, and turns them off when they are over', async () => {
    const dir = ledFolder();
    const led = sysfsLed(dir);
    led.play({
      startAtMs: Date.now() - 1000,
      schedule: [
        { startMs: 0, durationMs: 100, level: 1 }, // long over
        { startMs: 950, durationMs: 200, level: 0.4 }, // on now, for about 150 ms more
      ],
    });
    await sleep(40);
    expect(brightness(dir)).toBe('102\n');
    await sleep(200);
    expect(brightness(dir)).toBe('0\n');
    led.stop();
  });

  it('stop() turns the LED off at once and cancels the pulses to come', async () => {
    const dir = ledFolder();
    const led = sysfsLed(dir);
    const t0 = Date.now();
    led.play({
      startAtMs: t0,
      schedule: [
        { startMs: 0, durationMs: 200, level: 1 },
        { startMs: 300, durationMs: 100, level: 0.6 },
      ],
    });
    await sleep(60);
    expect(brightness(dir)).toBe('255\n');
    led.stop();
    expect(brightness(dir)).toBe('0\n');
    // Neither the end of the first pulse nor the second pulse writes anything now.
    writeFileSync(join(dir, 'brightness'), 'untouched\n');
    await sleep(450 - (Date.now() - t0));
    expect(brightness(dir)).toBe('untouched\n');
  });

  it('a second play() replaces the first', async () => {
    const dir = ledFolder();
    const led = sysfsLed(dir);
    const t0 = Date.now();
    led.play({ startAtMs: t0, schedule: [{ startMs: 100, durationMs: 100, level: 1 }] });
    led.play({ startAtMs: t0, schedule: [{ startMs: 250, durationMs: 100, level: 0.5 }] });
    const seen = await recordBrightness(dir, t0, 420);
    expect(seen.map((s) => s.value)).toEqual(['0\n', '128\n', '0\n']);
    expect(seen[1]?.atMs).toBeGreaterThanOrEqual(248);
  });

  it('refuses a folder without max_brightness as camera_unavailable, naming it', () => {
    const dir = ledFolder(null);
    expect(() => sysfsLed(dir)).toThrowError(
      expect.objectContaining({ code: 'camera_unavailable', message: `no LED class device at ${dir}` }),
    );
    const missing = join(tmpdir(), 'irisgate-no-such-led');
    expect(() => sysfsLed(missing)).toThrowError(expect.objectContaining({ code: 'camera_unavailable' }));
  });

  it('refuses a max_brightness that is not a positive integer instead of writing NaN', () => {
    for (const max of ['\n', 'bright\n', '0\n']) {
      const dir = ledFolder(max);
      expect(() => sysfsLed(dir), JSON.stringify(max)).toThrowError(
        expect.objectContaining({ code: 'camera_unavailable' }),
      );
    }
  });
});
