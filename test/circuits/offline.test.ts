/** Proving and verifying need no network: run them in a namespace with only loopback (`unshare -rn`). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

it('proves and verifies with the network cut off', async () => {
  const { stdout } = await promisify(execFile)(
    'unshare',
    ['-rn', 'sh', '-c', 'ip link set lo up && exec node --import tsx test/circuits/offline-proof.ts'],
    { cwd: ROOT },
  );
  expect(JSON.parse(stdout.trim())).toEqual({ networkCut: true, ours: true, official: true });
}, 120_000);
