/**
 * Brings up the development trusted hardware (SoftHSM token and software TPM) once for the whole test run
 * and stops its daemons afterwards. Tests find it through inject('hsmFixtureDir').
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { FIXTURE_SCRIPT } from '../hsm/fixture/fixture.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    hsmFixtureDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'irisgate-hsm-'));
  execFileSync('bash', [FIXTURE_SCRIPT, 'up', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  project.provide('hsmFixtureDir', dir);
  return () => {
    // Quiet: vitest's closing summary should stay the last thing printed. A failure still throws with its stderr.
    execFileSync('bash', [FIXTURE_SCRIPT, 'down', dir], { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  };
}
