/**
 * The one command-line entry. Each subcommand lives in its own folder and is mounted here.
 * Usage errors exit 2. Other errors print as `error [code]: message` (or as JSON under --json) and exit 1; IRISGATE_DEBUG=1 adds the stack.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { backendCommand } from '../backend/cli.ts';
import { deviceCommand } from '../device/cli.ts';
import { hsmCommand } from '../hsm/cli.ts';
import { irisCommand } from '../iris/cli.ts';
import { padCommand } from '../iris/pad/cli.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { proofCommand } from '../sdk/cli.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('irisgate')
  .description('Irisgate: signed iris capture, uniqueness backend and zero-knowledge uniqueness proofs')
  .version(version)
  .addCommand(backendCommand())
  .addCommand(deviceCommand())
  .addCommand(hsmCommand())
  .addCommand(irisCommand())
  .addCommand(padCommand())
  .addCommand(proofCommand());

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
