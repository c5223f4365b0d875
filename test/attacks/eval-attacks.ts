/**
 * `npm run eval:attacks [-- --json] [--workers N] [--pad-identities N] [--sybil N] [--lens N]
 * [--white-box N] [--impersonation N] [--impersonation-white-box N] [--budget N] [--first-person K] [--pad-only]
 * [--skip-loo]`: the robustness suite at full size (suite.ts FULL_SIZE): PAD on 300 held-out presentations
 * per attack type with leave-one-type-out, Sybil and impersonation by patch at every area (300 random or
 * victim-texture and 300 white-box trials each), and Sybil by textured lens (area 100%: the lens lies over
 * the whole iris ring). A white-box trial takes about 30 s of one core, so the full run takes about a day on
 * 2 cores; --first-person K with smaller counts runs a shard of it (persons K on), e.g. on several machines.
 * Prints the figures as Markdown tables (or one JSON object with --json) and writes both to
 * .irisgate/eval-attacks/. Renders and measurements of the held-out and training sets are cached there too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FULL_SIZE, runSuite, type SuiteReport } from './suite.ts';

const OUT = fileURLToPath(new URL('../../.irisgate/eval-attacks/', import.meta.url));
const pct = (k: number, n: number) => (n === 0 ? '-' : `${((100 * k) / n).toFixed(2)}% (${k}/${n})`);
const upper = (k: number, n: number) =>
  k === 0 && n > 0 ? ` (95% upper bound ${((100 * 3) / n).toFixed(2)}%)` : '';

export function markdownReport(r: SuiteReport): string {
  const lines: string[] = [];
  lines.push(
    `## PAD, held out (threshold ${r.pad.threshold.toFixed(4)})`,
    '',
    '| type | APCER |',
    '|---|---|',
  );
  for (const a of r.pad.apcer) {
    lines.push(`| ${a.type} | ${pct(a.accepted, a.presentations)}${upper(a.accepted, a.presentations)} |`);
  }
  const b = r.pad.bpcer;
  lines.push(`| **BPCER** (live) | ${pct(b.rejected, b.presentations)} |`);
  const at = (x: typeof r.pad.bpcer20) =>
    x.bpcer === null
      ? '-'
      : `${(100 * x.bpcer).toFixed(2)}% (threshold ${x.threshold?.toFixed(4)}, worst ${x.worstType})`;
  lines.push(`| BPCER20 | ${at(r.pad.bpcer20)} |`, `| BPCER100 | ${at(r.pad.bpcer100)} |`, '');
  lines.push(`Frames the pipeline refused (scored 0): ${JSON.stringify(r.padFailures)}`, '');
  const c = r.capturePad;
  lines.push(
    '## PAD of the whole capture: frame models, texture motion, pupil reflex',
    '',
    '| type | APCER, frame alone | APCER, whole capture |',
    '|---|---|---|',
  );
  for (const a of c.apcer) {
    const frame = r.pad.apcer.find((x) => x.type === a.type);
    const alone = frame ? pct(frame.accepted, frame.presentations) : '-';
    lines.push(
      `| ${a.type} | ${alone} | ${pct(a.accepted, a.presentations)}${upper(a.accepted, a.presentations)} |`,
    );
  }
  lines.push(
    `| **BPCER** (live) | ${pct(b.rejected, b.presentations)} | ${pct(c.bpcer.rejected, c.bpcer.presentations)} |`,
    `| BPCER20 / BPCER100 | | ${at(c.bpcer20)} / ${at(c.bpcer100)} |`,
    '',
    `Refused by the two-frame checks (texture motion, limbus anchor): ${JSON.stringify(r.refusedByMotion)}; by the pupil reflex (or no pair measured): ${JSON.stringify(r.refusedByReflex)}`,
    '',
  );
  if (r.leaveOneOut) {
    lines.push('## Leave one attack type out', '', '| left out | its APCER | threshold |', '|---|---|---|');
    for (const l of r.leaveOneOut) {
      lines.push(`| ${l.type} | ${pct(l.accepted, l.presentations)} | ${l.threshold.toFixed(4)} |`);
    }
    lines.push('');
  }
  lines.push(
    '## Patch and lens attacks',
    '',
    '| attack | mode | area | trials | successes | refused by PAD | of which texture motion | of which limbus anchor | of which pupil reflex | refused by pipeline | matched | live, caught by parts only | whole only | masked |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const s of r.patches) {
    lines.push(
      `| ${s.type} | ${s.mode} | ${(100 * s.area).toFixed(0)}% | ${s.trials} | ${pct(s.successes, s.trials)}${upper(s.successes, s.trials)} | ${s.refusedByDetector} | ${s.refusedByMotion} | ${s.refusedByLimbus} | ${s.refusedByReflex} | ${s.refusedByPipeline} | ${s.matched} | ${s.caughtByPartsOnly} | ${s.wholeOnly} | ${(100 * s.meanMaskedFraction).toFixed(1)}% |`,
    );
  }
  if (r.patchSuccesses.length > 0) {
    lines.push(
      '',
      '### Successful patch and lens attacks',
      '',
      '| attack | mode | area | person | victim | rendered area | PAD score | masked | fixed share | fixed piece | whole HD | part HD |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    const f = (x: number | undefined, digits = 3) => (x === undefined ? '-' : x.toFixed(digits));
    for (const o of r.patchSuccesses) {
      lines.push(
        `| ${o.type} | ${o.mode} | ${(100 * o.area).toFixed(0)}% | ${o.person} | ${o.victim ?? '-'} | ${(100 * o.renderedArea).toFixed(1)}% | ${f(o.padScore)} | ${(100 * o.maskedFraction).toFixed(1)}% | ${f(o.fixedShare)} | ${o.fixedPiece} | ${f(o.wholeHd)} | ${f(o.partHd)} |`,
      );
    }
  }
  lines.push('', `Enrolments refused: ${r.enrolFailures}. Run time: ${r.seconds} s.`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      workers: { type: 'string' },
      'pad-identities': { type: 'string' },
      sybil: { type: 'string' },
      lens: { type: 'string' },
      'white-box': { type: 'string' },
      'impersonation-white-box': { type: 'string' },
      impersonation: { type: 'string' },
      budget: { type: 'string' },
      'first-person': { type: 'string' },
      'pad-only': { type: 'boolean', default: false },
      'skip-loo': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run eval:attacks [-- --json] [--workers N] [--pad-identities N] [--sybil N] [--lens N]\n' +
        '         [--white-box N] [--impersonation N] [--impersonation-white-box N] [--budget N]\n' +
        '         [--first-person K] [--pad-only] [--skip-loo]\n' +
        'The robustness suite at full size (about a day on 2 cores); see test/attacks/suite.ts.\n' +
        '--white-box N: white-box Sybil and impersonation trials per area (--impersonation-white-box sets the latter).\n' +
        '--first-person K: patch and lens trials for persons K on (a shard: K=0 --white-box 40 and K=40\n' +
        '  --white-box 60 are the trials of one run with --white-box 100).\n' +
        '--pad-only: the held-out PAD figures alone (no leave-one-type-out, no patch trials).\n' +
        '--skip-loo: no leave-one-type-out (it renders and measures the whole training set).\n',
    );
    return;
  }
  const num = (v: string | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      process.stderr.write(`eval:attacks: expected a whole number >= 0, got '${v}' (--help)\n`);
      process.exit(2);
    }
    return n;
  };
  const padOnly = values['pad-only'];
  const size = {
    ...FULL_SIZE,
    padIdentities: num(values['pad-identities'], FULL_SIZE.padIdentities),
    sybilRandom: num(values.sybil, FULL_SIZE.sybilRandom),
    sybilLens: num(values.lens, FULL_SIZE.sybilLens),
    sybilWhiteBox: num(values['white-box'], FULL_SIZE.sybilWhiteBox),
    impersonationWhiteBox: num(
      values['impersonation-white-box'] ?? values['white-box'],
      FULL_SIZE.impersonationWhiteBox,
    ),
    impersonation: num(values.impersonation, FULL_SIZE.impersonation),
    whiteBoxBudget: num(values.budget, FULL_SIZE.whiteBoxBudget),
    firstPerson: num(values['first-person'], FULL_SIZE.firstPerson),
    ...(padOnly || values['skip-loo'] ? { looTraining: null } : {}),
    ...(padOnly
      ? { sybilRandom: 0, sybilLens: 0, sybilWhiteBox: 0, impersonation: 0, impersonationWhiteBox: 0 }
      : {}),
  };
  const report = await runSuite(size, {
    cache: true,
    ...(values.workers ? { workers: Number(values.workers) } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  mkdirSync(OUT, { recursive: true });
  const markdown = markdownReport(report);
  writeFileSync(`${OUT}report.json`, `${JSON.stringify({ size, ...report }, null, 1)}\n`);
  writeFileSync(`${OUT}report.md`, `${markdown}\n`);
  process.stdout.write(values.json ? `${JSON.stringify({ size, ...report })}\n` : `${markdown}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
