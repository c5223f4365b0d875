/**
 * PGlite is one process's database: two processes on one data folder corrupt it. A lock file beside the
 * folder (`<folder>.lock`, holding the owner's pid) refuses a second opener (database_in_use) while the
 * first lives; a lock left by a process that died is taken over. The backend's store and the SDK's
 * nullifier store both open their folders through it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { IrisgateError } from './errors.ts';

function processLives(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of `folder`; returns its release. */
export function lockPgliteFolder(folder: string): () => void {
  const path = `${resolve(folder)}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  for (;;) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    if (Number.isInteger(owner) && owner > 0 && processLives(owner)) {
      throw new IrisgateError('database_in_use', `process ${owner} has ${folder} open (lock ${path})`);
    }
    rmSync(path, { force: true });
  }
}
