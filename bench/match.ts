/**
 * 1:N iris search throughput: gallery templates per second, raw fractional Hamming distance over the 31
 * shifts (-15..+15 columns) with masks, on one core, for
 *   - the WebAssembly SIMD gallery engine (the fast path),
 *   - the same gallery searched by its TypeScript SWAR engine,
 *   - the naive TypeScript matcher (matchIrisCodesNaive, one template at a time) as the baseline,
 * and 1:1 matchPacked (open-iris's full normalised score with halves) in pairs per second. All run in this
 * process on one seeded random gallery with open-iris-like masks (about 70% of bits usable, an occluded
 * block per template) and a few planted genuine templates. Before timing, the engines must agree on every
 * template and the naive matcher on a sample.
 *
 *   npm run bench -- match             table on stdout, progress on stderr
 *   npm run -s bench -- match --json   one JSON object on stdout instead
 */

import {
  IrisGallery,
  type MatchResult,
  matchIrisCodesNaive,
  matchPacked,
  PACKED_WORDS,
  type PackedIrisCode,
  rotatePacked,
  type SearchHit,
  unpackIrisCode,
  wasmSimdSupported,
} from '../iris/matcher.ts';
import { seededUint32 } from '../iris/seeded-random.ts';
import { type Column, table } from './report.ts';

const GALLERY_TEMPLATES = 20_000;
/** The naive matcher's sample: the first templates of the same gallery. */
const NAIVE_TEMPLATES = 100;
/** One genuine template (the probe rolled and 15% of its bits flipped) every this many. */
const GENUINE_EVERY = 2_500;
/** ... starting here, inside the naive sample. */
const GENUINE_OFFSET = 7;
const THRESHOLD = 0.345;
/** Each case runs for at least this long and at least MIN_RUNS times, after one warm-up run. */
const TIME_BUDGET_MS = 2_000;
const MIN_RUNS = 3;

interface Result {
  engine: string;
  mode: string;
  templates: number;
  runs: number;
  msPerRun: number;
  templatesPerSecond: number;
  /** templatesPerSecond over the naive matcher's. */
  vsNaive: number;
}

export async function run({ json }: { json: boolean }): Promise<void> {
  progress(`building a gallery of ${GALLERY_TEMPLATES} random templates`);
  const random = seededUint32(0x1415_9265); // the same gallery on every run
  const probe = randomTemplate(random);
  const templates: PackedIrisCode[] = [];
  for (let i = 0; i < GALLERY_TEMPLATES; i++) {
    templates.push(i % GENUINE_EVERY === GENUINE_OFFSET ? genuine(probe, random) : randomTemplate(random));
  }
  const engines = wasmSimdSupported() ? (['wasm', 'js'] as const) : (['js'] as const);
  const galleries = engines.map((engine) => {
    const gallery = new IrisGallery({ engine, capacity: GALLERY_TEMPLATES });
    for (const template of templates) gallery.add(template);
    return gallery;
  });

  progress('checking that the engines and the naive matcher agree');
  const naiveSample = templates.slice(0, NAIVE_TEMPLATES).map(unpackIrisCode);
  const unpackedProbe = unpackIrisCode(probe);
  const naiveResults = naiveSample.map((template) => matchIrisCodesNaive(unpackedProbe, template));
  const verified = verify(
    galleries.map((gallery) => gallery.search(probe)),
    naiveResults,
    templates,
    probe,
  );

  const results: Omit<Result, 'vsNaive'>[] = [];
  for (const gallery of galleries) {
    progress(`timing the ${gallery.engine} engine`);
    const label = gallery.engine === 'wasm' ? 'wasm SIMD gallery' : 'TS SWAR gallery';
    results.push(
      measure(label, '1:N raw', GALLERY_TEMPLATES, () => gallery.search(probe, { threshold: THRESHOLD })),
    );
  }
  progress('timing matchPacked 1:1');
  const pairSample = templates.slice(0, 1000);
  results.push(
    measure('TS SWAR matchPacked', '1:1 full', pairSample.length, () => {
      for (const template of pairSample) matchPacked(probe, template);
    }),
  );
  progress('timing the naive matcher');
  results.push(
    measure('naive TS', '1:1 full', NAIVE_TEMPLATES, () => {
      for (const template of naiveSample) matchIrisCodesNaive(unpackedProbe, template);
    }),
  );
  const naive = results.at(-1)?.templatesPerSecond ?? Number.NaN;
  const withRatio = results.map((result) => ({ ...result, vsNaive: result.templatesPerSecond / naive }));

  if (json) {
    console.log(
      JSON.stringify({
        benchmark: 'match',
        galleryTemplates: GALLERY_TEMPLATES,
        rotations: 31,
        threshold: THRESHOLD,
        verified,
        results: withRatio,
      }),
    );
  } else {
    console.log(
      `1:N search, ${GALLERY_TEMPLATES} templates, raw HD over 31 shifts with masks, one core; ` +
        `genuine found below ${THRESHOLD}: ${verified.genuineFound}/${verified.genuinePlanted}; ` +
        `engines agree on all ${verified.templatesCompared}, naive on ${verified.naiveCompared}\n`,
    );
    console.log(table(COLUMNS, withRatio));
  }
}

/** Throws unless every engine gives the same hits, the naive matcher the same best shifts, and every
 * planted genuine template is found below the threshold. */
function verify(
  hitsPerEngine: SearchHit[][],
  naive: MatchResult[],
  templates: PackedIrisCode[],
  probe: PackedIrisCode,
) {
  const [reference, ...others] = hitsPerEngine;
  if (reference === undefined) throw new Error('no engine to verify');
  for (const hits of others) {
    if (JSON.stringify(hits) !== JSON.stringify(reference)) throw new Error('the search engines disagree');
  }
  const byIndex = new Map(reference.map((hit) => [hit.index, hit]));
  naive.forEach((expected, index) => {
    const hit = byIndex.get(index);
    const same =
      hit === undefined
        ? expected.hdRaw === 1
        : hit.hdRaw === expected.hdRaw &&
          hit.rotation === expected.rotation &&
          hit.commonBits === expected.commonBits;
    if (!same)
      throw new Error(`template ${index}: search ${JSON.stringify(hit)}, naive ${JSON.stringify(expected)}`);
    const packed = matchPacked(probe, templates[index] as PackedIrisCode);
    if (JSON.stringify(packed) !== JSON.stringify(expected))
      throw new Error(`template ${index}: matchPacked differs`);
  });
  const planted = templates.length / GENUINE_EVERY;
  const found = reference.filter(
    (hit) => hit.hdRaw < THRESHOLD && hit.index % GENUINE_EVERY === GENUINE_OFFSET,
  ).length;
  const falseMatches = reference.filter((hit) => hit.hdRaw < THRESHOLD).length - found;
  if (found !== planted || falseMatches !== 0) {
    throw new Error(`found ${found} of ${planted} genuine templates and ${falseMatches} false matches`);
  }
  return {
    engines: hitsPerEngine.length,
    templatesCompared: reference.length,
    naiveCompared: naive.length,
    genuinePlanted: planted,
    genuineFound: found,
  };
}

function measure(engine: string, mode: string, templates: number, body: () => void): Omit<Result, 'vsNaive'> {
  body();
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsedMs = 0;
  while (elapsedMs < TIME_BUDGET_MS || runs < MIN_RUNS) {
    body();
    runs++;
    elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return {
    engine,
    mode,
    templates,
    runs,
    msPerRun: elapsedMs / runs,
    templatesPerSecond: (templates * runs * 1000) / elapsedMs,
  };
}

/**
 * Random code bits; mask bits set with probability 3/4, then an eyelid-like block cleared: 64 columns
 * (8 words) of the first 1-6 rows.
 */
function randomTemplate(random: () => number): PackedIrisCode {
  const packed = new Uint32Array(PACKED_WORDS);
  const half = PACKED_WORDS / 2;
  for (let w = 0; w < half; w++) {
    packed[w] = random();
    packed[half + w] = random() | random();
  }
  const firstWord = random() % 32;
  const rows = 1 + (random() % 6);
  for (let row = 0; row < rows; row++) {
    for (let w = 0; w < 8; w++) packed[half + row * 32 + ((firstWord + w) % 32)] = 0;
  }
  return packed;
}

/** The probe rolled by a random shift in -15..+15 with 15% of its code bits flipped. */
function genuine(probe: PackedIrisCode, random: () => number): PackedIrisCode {
  const rolled = rotatePacked(probe, (random() % 31) - 15);
  for (let w = 0; w < PACKED_WORDS / 2; w++) {
    let flips = 0;
    for (let bit = 0; bit < 32; bit++) if (random() % 100 < 15) flips |= 1 << bit;
    rolled[w] = (rolled[w] as number) ^ flips;
  }
  return rolled;
}

const COLUMNS: Column<Result>[] = [
  { title: 'matcher', width: 19, alignLeft: true, cell: (r) => r.engine },
  { title: 'mode', width: 8, alignLeft: true, cell: (r) => r.mode },
  { title: 'templates', width: 9, cell: (r) => String(r.templates) },
  { title: 'runs', width: 5, cell: (r) => String(r.runs) },
  { title: 'ms/run', width: 9, cell: (r) => r.msPerRun.toFixed(1) },
  { title: 'templates/s', width: 11, cell: (r) => Math.round(r.templatesPerSecond).toLocaleString('en-US') },
  { title: 'vs naive', width: 8, cell: (r) => `${r.vsNaive.toPrecision(3)}x` },
];

function progress(message: string): void {
  console.error(`match: ${message}`);
}
