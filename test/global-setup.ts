/**
 * Brings up the development trusted hardware (SoftHSM token and software TPM) once for the whole test run
 * and stops its daemons afterwards. Tests find it through inject('hsmFixtureDir').
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startHsmFixture, stopHsmFixture } from '../hsm/fixture/fixture.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    hsmFixtureDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'irisgate-hsm-'));
  await startHsmFixture(dir);
  project.provide('hsmFixtureDir', dir);
  return async () => {
    await stopHsmFixture(dir);
    await rm(dir, { recursive: true, force: true });
  };
}
