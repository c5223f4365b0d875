/**
 * The `irisgate` entry: a subcommand's modules load only when it is asked for (each costs startup time), and
 * the top-level help still lists every command.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runIrisgate } from '../support/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'irisgate-main-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const CLI_MODULES = [
  'backend/cli.ts',
  'device/cli.ts',
  'hsm/cli.ts',
  'iris/cli.ts',
  'iris/pad/cli.ts',
  'sdk/cli.ts',
];

// A module hook that writes down every module the process resolves (hooks run on their own thread).
writeFileSync(
  join(work, 'trace-hooks.mjs'),
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.IRISGATE_TRACE, resolved.url + '\\n');
  return resolved;
}
`,
);
writeFileSync(
  join(work, 'trace.mjs'),
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(work, 'trace-hooks.mjs')).href)});\n`,
);

/** Runs `irisgate ...args` and returns its output with the project's command modules it loaded. */
async function traced(args: string[], name: string) {
  const trace = join(work, `${name}.trace`);
  writeFileSync(trace, '');
  const run = await runIrisgate(args, {
    cwd: work,
    env: { ...process.env, IRISGATE_TRACE: trace, NODE_OPTIONS: `--import ${join(work, 'trace.mjs')}` },
  });
  const urls = readFileSync(trace, 'utf8');
  return { ...run, loaded: CLI_MODULES.filter((path) => urls.includes(`/${path}\n`)) };
}

describe('irisgate', () => {
  it("loads only the asked command's modules", async () => {
    const hsm = await traced(['hsm', '--help'], 'hsm');
    expect(hsm.code).toBe(0);
    expect(hsm.stdout).toMatch(/^Usage: irisgate hsm /);
    expect(hsm.loaded).toEqual(['hsm/cli.ts']);

    const pad = await traced(['pad', 'score', '--help'], 'pad');
    expect(pad.stdout).toMatch(/^Usage: irisgate pad score /);
    expect(pad.loaded).toEqual(['iris/pad/cli.ts']);
  });

  it('lists every command in its help, and suggests one for a typo', async () => {
    const top = await traced(['--help'], 'top');
    expect(top.code).toBe(0);
    for (const name of ['backend', 'device', 'hsm', 'iris', 'pad', 'proof'])
      expect(top.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(top.loaded).toEqual(CLI_MODULES);

    const typo = await traced(['devise', 'status'], 'typo');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown command 'devise'.*Did you mean device\?/s);
  });
});
