/**
 * The one command-line entry. Each subcommand lives in its own folder and is mounted here.
 * Usage errors exit 2. Other errors print as `error [code]: message` (or as JSON under --json) and exit 1; IRISGATE_DEBUG=1 adds the stack.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { IrisgateError } from '../protocol/errors.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * The subcommands, each loaded only when asked for: their modules pull in onnxruntime, fastify, Semaphore and
 * PKCS#11, and loading them all cost every call about a second. Anything else (the top-level help,
 * --version, an unknown command, which gets a suggestion) loads them all.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  backend: async () => (await import('../backend/cli.ts')).backendCommand(),
  device: async () => (await import('../device/cli.ts')).deviceCommand(),
  hsm: async () => (await import('../hsm/cli.ts')).hsmCommand(),
  iris: async () => (await import('../iris/cli.ts')).irisCommand(),
  pad: async () => (await import('../iris/pad/cli.ts')).padCommand(),
  proof: async () => (await import('../sdk/cli.ts')).proofCommand(),
};

const program = new Command('irisgate')
  .description('Irisgate: signed iris capture, uniqueness backend and zero-knowledge uniqueness proofs')
  .version(version);
const asked = Object.entries(COMMANDS).filter(([name]) => name === process.argv[2]);
const loading = (asked.length > 0 ? asked : Object.entries(COMMANDS)).map(([, load]) => load());
for (const command of await Promise.all(loading)) program.addCommand(command);

/** Settings a command passes to its children only when they are made with .command(), not addCommand(). */
function throwUsageErrors(command: Command): void {
  command.showHelpAfterError().exitOverride();
  for (const child of command.commands) throwUsageErrors(child);
}
throwUsageErrors(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    const known =
      error instanceof IrisgateError
        ? error
        : new IrisgateError('internal_error', error instanceof Error ? error.message : String(error));
    if (process.argv.includes('--json'))
      process.stdout.write(`${JSON.stringify({ error: known.toJSON() })}\n`);
    else process.stderr.write(`error [${known.code}]: ${known.message}\n`);
    if (process.env.IRISGATE_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  }
}
