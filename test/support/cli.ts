/** The `irisgate` command run as a child process, as a user runs it, for the command-line tests. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const IRISGATE_BIN = fileURLToPath(new URL('../../bin/irisgate.mjs', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Working folder (default: this process's). */
  cwd?: string;
  /** Environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** Runs `irisgate ...args`; never rejects: the exit code is in the result. */
export function runIrisgate(args: string[], { cwd, env }: RunOptions = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'node',
      [IRISGATE_BIN, ...args],
      { cwd, env: env ?? process.env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs `irisgate ...args` where it must succeed: rejects with its exit code and stderr otherwise. */
export async function irisgateOk(args: string[], options: RunOptions = {}): Promise<Run> {
  const run = await runIrisgate(args, options);
  if (run.code !== 0) throw new Error(`irisgate ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run;
}
