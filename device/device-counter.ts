/**
 * The device's signup counter: strictly increasing across signups, restarts and crashes (the backend
 * refuses a counter not above the last one it saw from the device: replayed_counter). The next value is
 * max(last + 1, now in ms), so it keeps increasing even when the state file is lost with a re-flashed
 * board; it is written durably (temporary file, fsync, rename, fsync of the folder) before it is used.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

const FILE = 'counter';

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function nextCounter(stateDir: string, now = Date.now()): Promise<number> {
  const path = join(stateDir, FILE);
  const last = Number.parseInt(await readFile(path, 'utf8').catch(() => '0'), 10);
  const next = Math.max(Number.isSafeInteger(last) ? last + 1 : 0, Math.floor(now));
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(`${next}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await syncDir(stateDir);
  return next;
}
