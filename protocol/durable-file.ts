/**
 * Crash-safe file writes (the device's outbox records and signup counter, wallets' identity files): a file
 * is written to a temporary name in its folder, fsynced, renamed over the old one (or linked in place when
 * it must not replace one), and the folder fsynced, so a crash at any moment leaves the old version or the
 * whole new one, never a torn file. Temporary files are named
 * `.<name>.<pid>-<random>.tmp`; whoever owns the folder removes leftovers of a crash.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const TEMP_FILE = /^\..+\.tmp$/;

/** Removes the temporary files crashed writes left in `folder` (of file `name` only, when given). */
export async function removeTempFiles(folder: string, name?: string): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(folder)) {
    if (!TEMP_FILE.test(entry) || (name !== undefined && !entry.startsWith(`.${name}.`))) continue;
    await unlink(join(folder, entry)).catch(() => {});
    removed.push(entry);
  }
  return removed;
}

/** fsync a directory, so that the names created, renamed or removed in it are durable. */
export async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `folder/name` so that a crash leaves the old version or the whole new one, then makes it durable.
 * With `replace: false` an existing file is left alone and the write fails with EEXIST (link(2), so a file
 * created meanwhile is not replaced either).
 */
export async function writeDurably(
  folder: string,
  name: string,
  data: string,
  { replace = true }: { replace?: boolean } = {},
): Promise<void> {
  const temp = join(folder, `.${name}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (replace) await rename(temp, join(folder, name));
    else {
      await link(temp, join(folder, name));
      await unlink(temp);
    }
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDir(folder);
}
