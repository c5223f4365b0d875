/**
 * The README's first command, the demo, in a network namespace with only the loopback interface up
 * (`unshare -rn`): it must enrol through the device agent into its embedded backend, refuse the returning
 * person, have the first person prove uniqueness to an app once (proving and verifying offline) and be
 * refused the second time, and print its JSON summary, without any network.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

it('runs the demo with the network cut off: 2 enrolled, the returning person refused, one proof per action', async () => {
  const { stdout } = await promisify(execFile)(
    'unshare',
    ['-rn', 'sh', '-c', 'ip link set lo up && exec node --import tsx scripts/demo.ts --json --people 2'],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
  );
  const summary = JSON.parse(stdout.trim().split('\n').at(-1) as string);
  expect(summary).toMatchObject({
    enrolled: 2,
    duplicatesRejected: 1,
    otherRejections: 0,
    people: 2,
    groupSize: 2,
  });
  expect(summary.proof).toMatchObject({ verified: true, uses: 1, secondUse: 'max_verifications_reached' });
  expect(summary.signer).toBe('softhsm');
  expect(summary.backendMode).toBe('production');
}, 300_000);
