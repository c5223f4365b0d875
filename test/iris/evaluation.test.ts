/** `irisgate iris synth` then `irisgate iris eval` on a small set, through the real pipeline. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { irisgateOk, runIrisgate } from '../support/cli.ts';

describe('irisgate iris synth + eval', () => {
  it('separates genuine from impostor pairs and reports every figure', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'irisgate-eval-')), 'set');
    await irisgateOk([
      'iris',
      'synth',
      '--out',
      dir,
      '--identities',
      '6',
      '--sessions',
      '2',
      '--seed',
      'test-eval',
    ]);
    const { stdout, stderr } = await irisgateOk(['iris', 'eval', '--dir', dir, '--json']);
    expect(stderr).toMatch(/encode: 12\/12/);
    const report = JSON.parse(stdout);
    expect(report.images).toBe(12);
    expect(
      report.enrolled + Object.values<number>(report.failureToEnrol.byCode).reduce((a, b) => a + b, 0),
    ).toBe(12);
    expect(report.enrolled).toBeGreaterThanOrEqual(10);
    const pairs = (report.enrolled * (report.enrolled - 1)) / 2;
    expect(report.genuine.count + report.impostor.count).toBe(pairs);
    expect(report.genuine.count).toBeGreaterThanOrEqual(4);
    expect(report.genuine.mean).toBeLessThan(0.3);
    expect(report.impostor.mean).toBeGreaterThan(0.42);
    expect(report.atThreshold).toMatchObject({ threshold: 0.345, falseMatches: 0, fnmr: 0 });
    expect(
      report.fnmrAtFmr.map((f: { fmr: number; extrapolated: boolean }) => [f.fmr, f.extrapolated]),
    ).toEqual([
      [1e-3, false],
      [1e-4, false],
      [1e-6, true],
    ]);
    // 60-odd impostor pairs cannot measure a rate of 1e-3.
    expect(report.fnmrAtFmr[0].threshold).toBeNull();
    expect(report.geometry.pupilCentreErrorPx.mean).toBeLessThan(2);
  });

  it('refuses a folder without a manifest', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'irisgate-eval-empty-'));
    const failure = await runIrisgate(['iris', 'eval', '--dir', empty]);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(
      /^error \[invalid_argument\]: .* has no readable synthetic-set manifest.json/,
    );
  });
});
