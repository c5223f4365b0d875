/**
 * The device's signup counter: strictly increasing across signups, restarts and crashes (the backend
 * refuses a counter not above the last one it saw from the device: replayed_counter). The next value is
 * max(last + 1, now in ms), so it keeps increasing even when the state file is lost with a re-flashed
 * board; it is written durably (device/durable-file.ts) before it is used.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempFiles, writeDurably } from '../protocol/durable-file.ts';

const FILE = 'counter';

export async function nextCounter(stateDir: string, now = Date.now()): Promise<number> {
  const path = join(stateDir, FILE);
  const last = Number.parseInt(await readFile(path, 'utf8').catch(() => '0'), 10);
  const next = Math.max(Number.isSafeInteger(last) ? last + 1 : 0, Math.floor(now));
  // A write a crash interrupted left its temporary file: it never counted, remove it.
  await removeTempFiles(stateDir, FILE);
  await writeDurably(stateDir, FILE, `${next}\n`);
  return next;
}
