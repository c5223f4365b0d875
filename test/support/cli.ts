/** The `irisgate` command run as a child process, as a user runs it, for the command-line tests. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const IRISGATE_BIN = fileURLToPath(new URL('../../bin/irisgate.mjs', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `irisgate ...args` in `cwd` (with `env`, default this process's); never rejects. */
export function runIrisgate(
  args: string[],
  { cwd, env }: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', [IRISGATE_BIN, ...args], { cwd, env: env ?? process.env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
