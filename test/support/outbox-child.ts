/**
 * A device agent's outbox in a process of its own, for test/device/outbox.test.ts to kill with SIGKILL:
 *
 *   node --import tsx test/support/outbox-child.ts <dir> <url>          send until nothing is pending, exit 0
 *   node --import tsx test/support/outbox-child.ts <dir> put <id>...    put each id's signup, exit 0
 *
 * Prints one line per step on stdout: `ready` once the outbox is open, `put <id>` once a put has resolved
 * (so it is durable), the sender's events as JSON, and `drained` at the end of sending.
 *
 * Sending POSTs the record's body as JSON to <url>: 200 is delivered (its JSON is the reply), 409 rejected
 * (`{code, message}`), anything else or no answer is retried.
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { type DeliveryOutcome, Outbox, type PendingRecord } from '../../device/outbox.ts';

/** The signup stored under `id`: deterministic, about sizeBytes of JSON, so a test can check it whole. */
export function signupBodyFor(id: string, sizeBytes = 200_000): { envelope: unknown; signature: string } {
  const blocks: string[] = [];
  let block = createHash('sha256').update(id).digest();
  for (let length = 0; length < (sizeBytes * 3) / 4; length += block.length) {
    blocks.push(block.toString('hex'));
    block = createHash('sha256').update(block).digest();
  }
  const evidence = Buffer.from(blocks.join(''), 'hex').toString('base64');
  return {
    envelope: { digest: id, evidence },
    signature: createHash('sha256').update(evidence).digest('hex'),
  };
}

async function deliverOverHttp(url: string, record: PendingRecord): Promise<DeliveryOutcome> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(record.body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status === 200) return { kind: 'delivered', reply: JSON.parse(text) };
  if (response.status === 409) {
    const { code, message } = JSON.parse(text) as { code: string; message: string };
    return { kind: 'rejected', code, message };
  }
  return { kind: 'retry', reason: `HTTP ${response.status}` };
}

async function main(args: string[]): Promise<void> {
  const [dir, mode, ...ids] = args;
  if (dir === undefined || mode === undefined)
    throw new Error('usage: outbox-child.ts <dir> <url> | put <id>...');
  const outbox = await Outbox.open(dir);
  process.stdout.write('ready\n');
  if (mode === 'put') {
    for (const id of ids) {
      await outbox.put(id, signupBodyFor(id));
      process.stdout.write(`put ${id}\n`);
    }
    return;
  }
  await outbox.flush({
    deliver: (record) => deliverOverHttp(mode, record),
    backoff: { initialMs: 50, maxMs: 200 },
    onEvent: (event) => process.stdout.write(`${JSON.stringify(event)}\n`),
  });
  process.stdout.write('drained\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
