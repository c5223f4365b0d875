/**
 * The signup counter (device/device-counter.ts) on real files: strictly increasing across calls and across
 * a restart of the process, never below the wall clock (a lost or garbage state file cannot make it go
 * back), written through a temporary file that never stays behind.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { nextCounter } from '../../device/device-counter.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `irisgate-${name}-`));

/** nextCounter in a process of its own: a restart of the agent, with nothing but the folder in common. */
async function nextCounterInAnotherProcess(stateDir: string, now: number): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      "import { nextCounter } from './device/device-counter.ts'; console.log(await nextCounter(process.argv[1], Number(process.argv[2])))",
      stateDir,
      String(now),
    ],
    { cwd: ROOT },
  );
  return Number(stdout.trim());
}

const stored = (dir: string) => readFileSync(join(dir, 'counter'), 'utf8');

describe('nextCounter', () => {
  it('starts at now, then increases by one per call while the clock stands still or goes back', async () => {
    const dir = tempDir('counter');
    expect(await nextCounter(dir, 1_000)).toBe(1_000);
    expect(await nextCounter(dir, 1_000)).toBe(1_001);
    expect(await nextCounter(dir, 500)).toBe(1_002);
    expect(await nextCounter(dir, 0)).toBe(1_003);
    expect(stored(dir)).toBe('1003\n');
  });

  it('follows the clock when it is ahead, in whole milliseconds', async () => {
    const dir = tempDir('counter');
    expect(await nextCounter(dir, 1_000)).toBe(1_000);
    expect(await nextCounter(dir, 5_000.9)).toBe(5_000);
    expect(await nextCounter(dir, 5_000.2)).toBe(5_001);
    const before = Date.now();
    const now = await nextCounter(dir);
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('keeps increasing across a restart of the process', async () => {
    const dir = tempDir('counter');
    const values = [await nextCounter(dir, 7_000)];
    values.push(await nextCounterInAnotherProcess(dir, 7_000));
    values.push(await nextCounterInAnotherProcess(dir, 100));
    values.push(await nextCounter(dir, 100));
    expect(values).toEqual([7_000, 7_001, 7_002, 7_003]);
  });

  it('jumps to now when the stored value is older than the clock, or the file is lost', async () => {
    const dir = tempDir('counter');
    writeFileSync(join(dir, 'counter'), '42\n');
    expect(await nextCounter(dir, 1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(await nextCounter(dir, 1_700_000_000_000)).toBe(1_700_000_000_001);
    rmSync(join(dir, 'counter'));
    // A re-flashed board: the clock has moved on since, so the counter still goes up.
    expect(await nextCounter(dir, 1_700_000_000_500)).toBe(1_700_000_000_500);
  });

  it('ignores a garbage file without going below now', async () => {
    for (const garbage of ['', 'not a number\n', '\0\0\0', '1e400', '99999999999999999999999\n', '-5\n']) {
      const dir = tempDir('counter');
      writeFileSync(join(dir, 'counter'), garbage);
      const now = 1_700_000_000_000;
      expect(await nextCounter(dir, now), JSON.stringify(garbage)).toBe(now);
      expect(await nextCounter(dir, now), JSON.stringify(garbage)).toBe(now + 1);
    }
  });

  it('leaves only the counter file behind, also after a crash left a temporary file', async () => {
    const dir = tempDir('counter');
    writeFileSync(join(dir, '.counter.4242-0badf00d.tmp'), '999999999999999\n'); // a write never renamed
    for (let i = 0; i < 5; i++) await nextCounter(dir, 10);
    expect(readdirSync(dir)).toEqual(['counter']);
    expect(stored(dir)).toBe('14\n');
  });

  it('refuses a state folder that does not exist instead of starting over silently', async () => {
    const missing = join(tempDir('counter'), 'missing');
    await expect(nextCounter(missing, 1)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
