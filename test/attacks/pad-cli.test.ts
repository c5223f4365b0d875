/**
 * `irisgate pad score` and `irisgate pad eval` run as the real command line on a tiny `pad synth` set:
 * the field names programs read, an unreadable image reported in its line and exit 1 after the others,
 * the per-type table and JSON report (the same whatever the number of workers), help and usage errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { irisgateOk, runIrisgate } from '../support/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'irisgate-pad-cli-'));
const set = join(work, 'set');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const irisgate = (...args: string[]) => irisgateOk(args);
/** Runs a command expected to fail (its callers assert the exit code). */
const failing = (...args: string[]) => runIrisgate(args);

const ATTACKS = ['print', 'patch-random'];

beforeAll(async () => {
  // 3 identities x 1 session: 3 live, 3 print, 3 patch-random.
  await irisgate(
    'pad',
    'synth',
    '--out',
    set,
    '--identities',
    '3',
    '--sessions',
    '1',
    '--attacks',
    ATTACKS.join(','),
    '--seed',
    '11',
  );
}, 60_000);

function expectScoreLine(line: unknown, file: string): void {
  expect(line).toEqual({
    file,
    live: expect.any(Boolean),
    score: expect.any(Number),
    reasons: expect.any(Array),
  });
  const { score, reasons } = line as { score: number; reasons: unknown[] };
  expect(score).toBeGreaterThanOrEqual(0);
  expect(score).toBeLessThanOrEqual(1);
  for (const reason of reasons) expect(typeof reason).toBe('string');
}

describe('irisgate pad score', () => {
  it('gives file, live, score and reasons per image as JSON lines; an unreadable one exits 1 after the rest', async () => {
    const live = join(set, 'id0000_s0.png');
    const print = join(set, 'id0000_s0_print.png');
    const broken = join(work, 'broken.png');
    writeFileSync(broken, 'not a png');
    const { code, stdout, stderr } = await failing('pad', 'score', broken, live, print, '--jsonl');
    expect(code).toBe(1);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual({
      file: broken,
      live: false,
      score: 0,
      reasons: ['unreadable_image'],
      error: expect.any(String),
    });
    // The images after it are still scored.
    expectScoreLine(lines[1], live);
    expectScoreLine(lines[2], print);
    expect(stderr).toMatch(/error \[unreadable_image\]: 1 of 3 images could not be read/);
  });

  it('prints a table without --jsonl, takes a threshold and exits 0 when every image is read', async () => {
    const live = join(set, 'id0001_s0.png');
    const { stdout } = await irisgate('pad', 'score', live, '--threshold', '0');
    const [header, row] = stdout.trim().split('\n');
    expect(header).toMatch(/^file\s+live\s+score\s+reasons$/);
    expect(row?.startsWith(live)).toBe(true);
    expect(row?.slice(live.length)).toMatch(/^\s+(yes|no)\s+\d\.\d{4}/);
  });
});

describe('irisgate pad eval', () => {
  it('reports APCER per attack type, BPCER, BPCER20/100 and quantiles as JSON, the same for any worker count', async () => {
    const [one, two] = await Promise.all(
      ['1', '2'].map(async (workers) =>
        JSON.parse((await irisgate('pad', 'eval', '--dir', set, '--json', '--workers', workers)).stdout),
      ),
    );
    expect(one).toMatchObject({
      dir: set,
      seed: 11,
      images: 9,
      presentations: { live: 3, print: 3, 'patch-random': 3 },
      detectorThreshold: expect.any(Number),
      modelSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      workers: 1,
      threshold: one.detectorThreshold,
      worstApcer: { type: expect.any(String), apcer: expect.any(Number) },
      bpcer: { presentations: 3, rejected: expect.any(Number), bpcer: expect.any(Number) },
      bpcer20: { apcerTarget: 0.05, threshold: expect.any(Number), sufficientPresentations: false },
      bpcer100: { apcerTarget: 0.01, threshold: expect.any(Number), sufficientPresentations: false },
      reasons: { live: expect.any(Object) },
      seconds: expect.any(Number),
    });
    expect(one.apcer.map((a: { type: string; presentations: number }) => [a.type, a.presentations])).toEqual([
      ['print', 3],
      ['patch-random', 3],
    ]);
    for (const a of one.apcer) {
      expect(a.accepted).toBeLessThanOrEqual(3);
      expect(a.apcer).toBe(a.accepted / 3);
      // 0 errors in 3: the rule of three bounds the rate below 3/3.
      expect(a.upper95).toBe(a.accepted === 0 ? 1 : null);
    }
    // BPCER20 holds every type, the worst included, at APCER <= 5%: with 3 presentations none is accepted.
    expect(one.bpcer20.worstApcer).toBe(0);
    expect(Object.keys(one.scores)).toEqual(['live', 'print', 'patch-random']);
    expect(one.scores.live).toEqual({
      count: 3,
      min: expect.any(Number),
      p05: expect.any(Number),
      p25: expect.any(Number),
      p50: expect.any(Number),
      p75: expect.any(Number),
      p95: expect.any(Number),
      max: expect.any(Number),
    });
    expect(two.workers).toBe(2);
    const { workers: _w1, seconds: _s1, ...a } = one;
    const { workers: _w2, seconds: _s2, ...b } = two;
    expect(b).toEqual(a);
  }, 60_000);

  it('prints the per-type table with its progress on stderr', async () => {
    const { stdout, stderr } = await irisgate('pad', 'eval', '--dir', set, '--workers', '2');
    expect(stderr).toMatch(/pad eval: 9\/9/);
    expect(stdout).toMatch(/^attack type\s+n\s+accepted\s+APCER\s+95% upper bound$/m);
    expect(stdout).toMatch(/^print\s+3\s+\d\s+\d+\.\d\d%/m);
    expect(stdout).toMatch(/^patch-random\s+3\s+\d\s+\d+\.\d\d%/m);
    expect(stdout).toMatch(/^live\s+3\s+\d\s+\d+\.\d\d%/m);
    expect(stdout).toMatch(/^worst attack type: /m);
    expect(stdout).toMatch(/^BPCER20 \(APCER <= 5\.00% on the worst attack type\): /m);
    expect(stdout).toMatch(/^BPCER100 \(APCER <= 1\.00% on the worst attack type\): /m);
    expect(stdout).toMatch(/^label\s+n\s+min\s+p05\s+p25\s+p50\s+p75\s+p95\s+max$/m);
  }, 60_000);

  it('fails with a code on a directory without a manifest', async () => {
    const { code, stdout } = await failing('pad', 'eval', '--dir', work, '--json');
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ error: { code: 'invalid_argument' } });
  });
});

describe('irisgate pad help and usage', () => {
  it('has help on every command', async () => {
    const [score, evaluate] = await Promise.all([
      irisgate('pad', 'score', '--help'),
      irisgate('pad', 'eval', '--help'),
    ]);
    expect(score.stdout).toMatch(/Usage: irisgate pad score \[options\] <image\.\.\.>/);
    expect(score.stdout).toMatch(/--jsonl/);
    expect(score.stdout).toMatch(/--threshold/);
    expect(evaluate.stdout).toMatch(/Usage: irisgate pad eval/);
    expect(evaluate.stdout).toMatch(/worst \(highest-APCER\) attack type/);
    expect(evaluate.stdout).toMatch(/rule of three/);
    // `pad --help` lists them: commander prints it from the same definitions.
    expect(evaluate.stdout).toMatch(/--workers <n>/);
  });

  it('exits 2 on bad options', async () => {
    const results = await Promise.all([
      failing('pad', 'score', 'x.png', '--threshold', '1.5'),
      failing('pad', 'eval', '--dir', set, '--workers', '0'),
    ]);
    for (const r of results) expect(r.code).toBe(2);
    expect(results[0]?.stderr).toMatch(/expected a number from 0 to 1/);
    expect(results[1]?.stderr).toMatch(/expected a positive integer/);
  });
});
