/**
 * `irisgate pad`: presentation-attack detection.
 *
 *   irisgate pad synth --out pad --identities 50 --sessions 2 --attacks print,screen,patch-random --seed 1
 *   irisgate pad score eye.png [more.png ...] [--jsonl] [--threshold 0.5]
 *   irisgate pad eval --dir pad [--json] [--workers 8]
 *
 * `pad synth` writes a live + attack data set (PNGs and manifest.json), deterministic by seed; `pad score`
 * runs the PAD detector on images; `pad eval` scores a `pad synth` set and reports the ISO/IEC 30107-3
 * figures (iris/pad/metrics.ts).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type ErrorCode, IrisgateError } from '../../protocol/errors.ts';
import { countByLabel, generatePadSet } from '../attacks/pad-set.ts';
import { ATTACK_KINDS, type AttackKind, isAttackKind } from '../attacks/render-attack.ts';
import { type Progress, startProgress } from '../progress.ts';
import { createPadDetector } from './detector.ts';
import { evaluatePadSet, type PadEvaluationReport, scoreImageFile } from './evaluate.ts';
import type { BpcerAtApcer, ScoreQuantiles } from './metrics.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function unitInterval(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

function attackList(value: string): AttackKind[] {
  if (value.trim() === 'all') return [...ATTACK_KINDS];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.filter((n) => !isAttackKind(n));
  if (unknown.length > 0)
    throw new InvalidArgumentError(
      `unknown attack kind ${unknown.join(', ')} (known: ${ATTACK_KINDS.join(', ')})`,
    );
  return [...new Set(names as AttackKind[])];
}

interface PadSynthOptions {
  out: string;
  identities: number;
  sessions: number;
  attacks: AttackKind[];
  seed: string;
  labels: boolean;
  json: boolean;
}

function synthCommand(): Command {
  return new Command('synth')
    .description(
      'Generate live and presentation-attack NIR eye images with ground truth (deterministic by seed): ' +
        'per identity and session the live capture and one capture per attack kind',
    )
    .requiredOption('--out <dir>', 'output directory')
    .option('--identities <n>', 'number of identities', positiveInt, 50)
    .option('--sessions <n>', 'captures per identity', positiveInt, 2)
    .addOption(
      new Option('--attacks <kinds>', `comma-separated attack kinds, or all: ${ATTACK_KINDS.join(', ')}`)
        .argParser(attackList)
        .default([...ATTACK_KINDS], 'all'),
    )
    .option(
      '--seed <seed>',
      'seed (an integer or any text); the same as `iris synth` gives the same live images',
      '1',
    )
    .option('--labels', 'also write per-pixel label PNGs (6 = patch)', false)
    .option('--json', 'print the summary as JSON', false)
    .action(async (options: PadSynthOptions) => {
      const seed =
        /^\d+$/.test(options.seed) && Number(options.seed) < 2 ** 32 ? Number(options.seed) : options.seed;
      const out = resolve(options.out);
      const started = performance.now();
      const progress = startProgress(
        'pad synth',
        options.identities * options.sessions * (1 + options.attacks.length),
      );
      const manifest = await generatePadSet({
        out,
        identities: options.identities,
        sessions: options.sessions,
        attacks: options.attacks,
        seed,
        labels: options.labels,
        onProgress: (done) => progress.update(done),
      });
      progress.stop();
      const seconds = Math.round(((performance.now() - started) / 1000) * 10) / 10;
      const summary = {
        out,
        images: manifest.entries.length,
        byLabel: countByLabel(manifest.entries),
        seed,
        seconds,
      };
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else
        process.stderr.write(
          `wrote ${summary.images} images (${Object.entries(summary.byLabel)
            .map(([label, n]) => `${n} ${label}`)
            .join(', ')}) and manifest.json to ${out} in ${seconds} s\n`,
        );
    });
}

/** One `pad score` result, with the field names programs read. */
interface PadScoreLine {
  file: string;
  live: boolean;
  score: number;
  reasons: string[];
  /** Only when the image could not be read: why (its code is the one reason). */
  error?: string;
}

function scoreTable(lines: readonly PadScoreLine[]): string {
  const width = Math.max(4, ...lines.map((l) => l.file.length));
  const rows = lines.map((l) =>
    `${l.file.padEnd(width)}  ${(l.live ? 'yes' : 'no').padEnd(4)}  ${l.score.toFixed(4)}  ${[
      ...l.reasons,
      ...(l.error ? [`(${l.error})`] : []),
    ].join(' ')}`.trimEnd(),
  );
  return [`${'file'.padEnd(width)}  live  score   reasons`, ...rows].join('\n');
}

function scoreCommand(): Command {
  return new Command('score')
    .description(
      'presentation-attack detection on near-infrared eye images (640x480 PNG/JPEG): per image whether it ' +
        'is accepted as live, its score in [0, 1] (higher = more likely live) and the reasons',
    )
    .argument('<image...>', 'image files')
    .option(
      '--jsonl',
      'one JSON object per line: {"file","live","score","reasons"}, plus "error" for an image that cannot be read',
      false,
    )
    .option(
      '--threshold <t>',
      "live when score >= t, from 0 to 1 (default: the detector's operating threshold)",
      unitInterval,
    )
    .addHelpText(
      'after',
      '\nAn image that cannot be read is listed as not live with score 0 and its error code as the reason;' +
        '\nthe other images are still scored, and the command then exits 1.',
    )
    .action(async (files: string[], options: { jsonl: boolean; threshold?: number }) => {
      const detector = await createPadDetector(
        options.threshold === undefined ? {} : { threshold: options.threshold },
      );
      const lines: PadScoreLine[] = [];
      const failed: { file: string; code: ErrorCode }[] = [];
      try {
        for (const file of files) {
          const outcome = await scoreImageFile(detector, file);
          const line: PadScoreLine = outcome.ok
            ? { file, live: outcome.live, score: outcome.score, reasons: outcome.reasons }
            : { file, live: false, score: 0, reasons: [outcome.error.code], error: outcome.error.message };
          if (!outcome.ok) failed.push({ file, code: outcome.error.code });
          if (options.jsonl) process.stdout.write(`${JSON.stringify(line)}\n`);
          else lines.push(line);
        }
      } finally {
        await detector.release();
      }
      if (!options.jsonl) process.stdout.write(`${scoreTable(lines)}\n`);
      const [first] = failed;
      if (first) {
        throw new IrisgateError(
          failed.every((f) => f.code === first.code) ? first.code : 'unreadable_image',
          `${failed.length} of ${files.length} images could not be read: ${failed.map((f) => f.file).join(', ')}`,
        );
      }
    });
}

const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(2)}%`);
const fixed = (v: number | null) => (v === null ? 'n/a' : v.toFixed(4));

function formatBpcerAt(name: string, r: BpcerAtApcer, highestScore: number): string {
  const target = `${name} (APCER <= ${pct(r.apcerTarget)} on the worst attack type)`;
  if (r.threshold === null) return `${target}: n/a (no attack presentations)`;
  const worst = r.worstType === null ? '' : `, worst type ${r.worstType} APCER ${pct(r.worstApcer)}`;
  const few = r.sufficientPresentations
    ? ''
    : `; fewer than ${Math.ceil(3 / r.apcerTarget)} presentations of some type: the threshold fits this sample only`;
  // Past the highest score (every presentation rejected) the threshold is the next double above it.
  const at =
    r.threshold > highestScore ? `just above ${fixed(highestScore)}, the highest score` : fixed(r.threshold);
  return `${target}: ${pct(r.bpcer)} at threshold ${at}${worst}${few}`;
}

function formatEvaluation(r: PadEvaluationReport): string {
  const thresholdNote =
    r.threshold === r.detectorThreshold
      ? "the detector's operating threshold"
      : `asked for; the detector's is ${fixed(r.detectorThreshold)}`;
  const typeWidth = Math.max(
    11,
    ...r.apcer.map((a) => a.type.length),
    ...Object.keys(r.scores).map((l) => l.length),
  );
  const upper = (u: number | null, n: number) => (u === null ? '' : `< ${pct(u)} (3/${n}, 0 errors)`);
  const row = (cells: string[], widths: number[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const widths = [typeWidth, 6, 9, 8, 0];
  const quantileCells = (q: ScoreQuantiles) =>
    [q.min, q.p05, q.p25, q.p50, q.p75, q.p95, q.max].map((v) => v.toFixed(4));
  const qWidths = [typeWidth, 6, 6, 6, 6, 6, 6, 6, 6];
  const { bpcer } = r;
  const highestScore = Math.max(...Object.values(r.scores).map((q) => q.max));
  return [
    `pad set ${r.dir} (seed ${JSON.stringify(r.seed)}): ${r.images} images, ${r.workers} workers, ${r.seconds} s; ` +
      `model sha256 ${r.modelSha256}`,
    `at threshold ${fixed(r.threshold)} (${thresholdNote}; live when score >= threshold):`,
    row(['attack type', 'n', 'accepted', 'APCER', '95% upper bound'], widths),
    ...r.apcer.map((a) =>
      row(
        [a.type, `${a.presentations}`, `${a.accepted}`, pct(a.apcer), upper(a.upper95, a.presentations)],
        widths,
      ),
    ),
    r.worstApcer === null
      ? 'worst attack type: n/a (no attack presentations)'
      : `worst attack type: ${r.worstApcer.type}, APCER ${pct(r.worstApcer.apcer)}`,
    row(['bona fide', 'n', 'rejected', 'BPCER', '95% upper bound'], widths),
    row(
      [
        'live',
        `${bpcer.presentations}`,
        `${bpcer.rejected}`,
        pct(bpcer.bpcer),
        upper(bpcer.upper95, bpcer.presentations),
      ],
      widths,
    ),
    formatBpcerAt('BPCER20', r.bpcer20, highestScore),
    formatBpcerAt('BPCER100', r.bpcer100, highestScore),
    'scores (higher = more likely live):',
    row(['label', 'n', 'min', 'p05', 'p25', 'p50', 'p75', 'p95', 'max'], qWidths),
    ...Object.entries(r.scores).map(([label, q]) => row([label, `${q.count}`, ...quantileCells(q)], qWidths)),
  ].join('\n');
}

function evalCommand(): Command {
  return new Command('eval')
    .description(
      'evaluate the PAD detector on a `pad synth` set (ISO/IEC 30107-3): APCER per attack type and BPCER at ' +
        'the operating threshold, BPCER20 and BPCER100 with the threshold set on the worst attack type, ' +
        'presentations per type, rule-of-three bounds and score quantiles',
    )
    .requiredOption(
      '--dir <dir>',
      'a set written by `irisgate pad synth` (DIR/manifest.json: entries with file and label)',
    )
    .option('--json', 'print the report as one JSON object', false)
    .addOption(
      new Option('--workers <n>', 'worker threads, each with its own detector (at most one per image)')
        .argParser(positiveInt)
        .default(availableParallelism(), 'os.availableParallelism()'),
    )
    .option(
      '--threshold <t>',
      "the threshold APCER and BPCER are measured at, from 0 to 1 (default: the detector's operating threshold)",
      unitInterval,
    )
    .addHelpText(
      'after',
      [
        '',
        'A presentation is accepted as live when its score >= threshold.',
        '  APCER      per attack type: the share of its presentations accepted as live',
        '  BPCER      the share of live (bona fide) presentations rejected',
        '  BPCER20    BPCER at the lowest threshold where APCER <= 5% for EVERY attack type: the threshold is',
        '             set on the worst (highest-APCER) attack type',
        '  BPCER100   the same with APCER <= 1%',
        'A type with 0 errors in n presentations is bounded by the rule of three: rate < 3/n (95%); claiming',
        'APCER < 1% takes at least 300 presentations of that type. An image that cannot be read fails the run.',
      ].join('\n'),
    )
    .action(async (options: { dir: string; json: boolean; workers: number; threshold?: number }) => {
      let progress: Progress | undefined;
      const report = await evaluatePadSet(resolve(options.dir), {
        workers: options.workers,
        ...(options.threshold === undefined ? {} : { threshold: options.threshold }),
        onProgress(done, total) {
          progress ??= startProgress('pad eval', total);
          progress.update(done);
          if (done === total) progress.stop();
        },
      });
      process.stdout.write(`${options.json ? JSON.stringify(report) : formatEvaluation(report)}\n`);
    });
}

export function padCommand(): Command {
  return new Command('pad')
    .description(
      'presentation-attack detection: synthetic live and attack captures, scoring images, ISO/IEC 30107-3 evaluation',
    )
    .addCommand(synthCommand())
    .addCommand(scoreCommand())
    .addCommand(evalCommand());
}
