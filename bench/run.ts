/**
 * Runs Irisgate's benchmarks.
 *
 *   npm run bench                     every benchmark
 *   npm run bench -- hsm [name...]    the named ones, in that order
 *   npm run -s bench -- hsm --json    one JSON object per benchmark on stdout instead of a table
 *                                     (-s keeps npm's own "> irisgate bench" banner off stdout)
 *   npm run bench -- --help
 *
 * Results go to stdout, progress to stderr.
 */
import { parseArgs } from 'node:util';

interface Benchmark {
  run(options: { json: boolean }): Promise<void>;
}

/** Loaded on demand, so one benchmark's dependencies never slow down another's start. */
const BENCHMARKS = new Map<string, () => Promise<Benchmark>>([
  ['hsm', () => import('./hsm.ts')],
  ['match', () => import('./match.ts')],
  ['iris', () => import('./iris.ts')],
  ['backend', () => import('./backend.ts')],
  ['device', () => import('./device.ts')],
  ['proof', () => import('./proof.ts')],
]);

const USAGE = `usage: npm run bench -- [--json] [name...]
  name     one of: ${[...BENCHMARKS.keys()].join(', ')} (default: all)
  --json   print one JSON object per benchmark instead of a table`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function parseCommandLine(): { names: string[]; json: boolean; help: boolean } {
  try {
    const { values, positionals } = parseArgs({
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
    return { names: positionals, json: values.json ?? false, help: values.help ?? false };
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

const { names, json, help } = parseCommandLine();
if (help) {
  console.log(USAGE);
  process.exit(0);
}
const selected = names.length > 0 ? names : [...BENCHMARKS.keys()];
const loaders = selected.map((name) => BENCHMARKS.get(name) ?? fail(`unknown benchmark "${name}"`));
for (const load of loaders) await (await load()).run({ json });
