/**
 * The device agent against a real backend over HTTP, with its keys on the SoftHSM token: the synthetic
 * camera films synthetic people (QR code, then the eye under the IR stimulus), the agent signs and queues
 * the signup, and the outbox delivers it.
 *
 * Shown: an enrolment and the same person refused when they come back; a signup queued while the backend
 * is down, delivered exactly once when it is back; a frame whose pixels change after signing refused by
 * the backend; the agent process (`irisgate device run`) killed with SIGKILL after the backend stored its
 * signup but before the answer arrived, then restarted: the signup is delivered once, the person enrolled
 * once. Captures run at 5 fps (26 frames over the 5 s window) to keep the rendering affordable.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Identity } from '@semaphore-protocol/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTBOX_DIR } from '../../device/agent.ts';
import { BackendClient } from '../../device/backend-client.ts';
import type { SessionEvent, SessionResult } from '../../device/capture-session.ts';
import { Outbox, type OutboxEvent } from '../../device/outbox.ts';
import { syntheticVisit } from '../../device/synthetic-visit.ts';
import { decodeGreyImage, encodeGreyPng } from '../../iris/image-input.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';
import { inject, tempDir } from '../support/backend.ts';
import { IRISGATE_BIN } from '../support/cli.ts';
import { type DeviceRig, failure, startDeviceRig } from '../support/device.ts';
import { sharedHsmFixture } from '../support/hsm.ts';

const SEED = 'device-agent-test';
const fixture = sharedHsmFixture();

let rig: DeviceRig;
const events: OutboxEvent[] = [];

const person = (id: number, session = 0) => {
  const identity = identityOf(SEED, id);
  return {
    commitment: new Identity().commitment,
    eye: {
      identity,
      session: sessionOf(SEED, identity, session),
      label: 'live' as const,
      seed: `${SEED}/${id}`,
    },
  };
};

/**
 * A person at the device until the capture is queued: like a real operator, a capture the device itself
 * refuses (quality, or a frame the presentation-attack model doubts) is retried with a new capture, at most
 * three times; what the backend answers is the test's to check.
 */
async function queuedVisit(
  id: number,
  firstSession = 0,
  onEvent?: (event: SessionEvent) => void,
): Promise<SessionResult & { ok: true }> {
  const failures: string[] = [];
  for (let session = firstSession; session < firstSession + 3; session++) {
    const result = await syntheticVisit(rig.agent, rig.camera, person(id, session), onEvent);
    if (result.ok) return result;
    failures.push(failure(result));
  }
  throw new Error(`person ${id}: three captures failed: ${failures.join('; ')}`);
}

async function groupSize(): Promise<number> {
  return (await inject(rig.h.backend, 'GET', '/v1/group/root')).json().size;
}

async function decisions(): Promise<{ outcome: string; reason: string }[]> {
  return rig.h.backend.services.db.query(
    'select outcome, reason from signup_decisions order by decided_at_ms',
  );
}

beforeAll(async () => {
  rig = await startDeviceRig({ token: fixture.softhsm, pin: fixture.softhsm.pin });
  rig.agent.startSending((event) => events.push(event));
}, 120_000);

afterAll(async () => {
  await rig?.close();
});

describe('device agent -> backend over HTTP (SoftHSM keys)', () => {
  it('enrols a person, and refuses them when they come back with another wallet', async () => {
    const first = await queuedVisit(1);
    expect(first.frames).toBeGreaterThanOrEqual(26);
    const accepted = await rig.agent.outcome(first.digest);
    expect(accepted.state, accepted.state === 'rejected' ? accepted.record.message : '').toBe('delivered');
    expect(await groupSize()).toBe(1);

    const again = await queuedVisit(1, 3);
    const refused = await rig.agent.outcome(again.digest);
    expect(refused).toMatchObject({ state: 'rejected', record: { code: 'duplicate_identity' } });
    expect(await groupSize()).toBe(1);
  }, 180_000);

  it('delivers a signup queued while the backend is down exactly once when it is back', async () => {
    let down: Promise<void> | undefined;
    const result = await queuedVisit(2, 0, (event) => {
      // The capture is done and judged; the backend goes away before the signup is signed and queued.
      if (event.state === 'signing') down = rig.h.backend.close();
    });
    await down;
    const retriesBefore = () => events.filter((e) => e.type === 'retry' && e.id === result.digest).length;
    await expect.poll(retriesBefore, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect((await rig.agent.outbox.get(result.digest))?.state).toBe('pending');

    await rig.h.restart();
    await rig.h.backend.listen({ port: rig.port, host: '127.0.0.1' });
    expect((await rig.agent.outcome(result.digest, { timeoutMs: 60_000 })).state).toBe('delivered');
    expect(await groupSize()).toBe(2);
    expect((await decisions()).filter((d) => d.outcome === 'accepted')).toHaveLength(2);
  }, 180_000);

  it('refuses a signup whose evidence frame changed after signing, and accepts the untouched one', async () => {
    // Queue without the agent's sender racing us: capture, then take the record before it is sent.
    const agent = await rig.reopenAgent();
    const result = await queuedVisit(3);
    const record = await rig.agent.outbox.get(result.digest);
    const body = record?.record.body as { evidence: { frames: { sequence: number; png: string }[] } };
    const evidence = body.evidence.frames[0];
    if (!evidence) throw new Error('no evidence frame');
    // One grey pixel flipped, nothing else changed.
    const image = await decodeGreyImage(Buffer.from(evidence.png, 'base64'));
    const middle = (image.width * image.height) / 2;
    image.data[middle] = (image.data[middle] as number) ^ 0x01;
    const tamperedPng = await encodeGreyPng(image);
    const tampered = {
      ...body,
      evidence: { frames: [{ ...evidence, png: tamperedPng.toString('base64') }] },
    };
    const client = new BackendClient({
      baseUrl: rig.url,
      deviceId: agent.context.deviceId,
      attestation: agent.context.keys.attestation,
    });
    expect(await client.submitSignup(tampered)).toMatchObject({
      kind: 'rejected',
      code: 'frame_evidence_mismatch',
    });
    // Still pending in the outbox: the next test kills the agent process delivering it.
    expect(record?.state).toBe('pending');
    await rig.agent.close();
  }, 180_000);

  it('loses and duplicates nothing when the agent process is killed -9 during the submit', async () => {
    const pending = await (await Outbox.open(join(rig.stateDir, OUTBOX_DIR), { readOnly: true })).list(
      'pending',
    );
    expect(pending).toHaveLength(1);
    const id = pending[0]?.id as string;
    // A proxy that forwards to the backend but holds the signup's answer: the backend has stored the
    // signup when the agent dies, and the agent never heard so.
    let hold = true;
    let stored!: () => void;
    const storedByBackend = new Promise<void>((resolve) => {
      stored = resolve;
    });
    const proxy: Server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const upstream = await fetch(`${rig.url}${request.url}`, {
        method: request.method,
        headers: { ...(request.headers as Record<string, string>), host: new URL(rig.url).host },
        body: request.method === 'GET' ? undefined : Buffer.concat(chunks),
      });
      const text = await upstream.text();
      if (request.url === '/v1/signups' && hold) {
        stored();
        return; // never answered: the agent is killed while it waits
      }
      response.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'text/plain',
      });
      response.end(text);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const configFile = join(tempDir('agent-config'), 'irisgate-device.json');
    writeFileSync(
      configFile,
      JSON.stringify({ backendUrl: proxyUrl, deviceDir: rig.deviceDir, stateDir: rig.stateDir, fps: 5 }),
    );
    const runAgent = (): { child: ChildProcess; output: string[] } => {
      const child = spawn(
        process.execPath,
        [IRISGATE_BIN, 'device', 'run', '--config', configFile, '--json'],
        {
          env: { ...process.env, IRISGATE_HSM_PIN: fixture.softhsm.pin },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const output: string[] = [];
      child.stdout?.on('data', (chunk: Buffer) =>
        output.push(...chunk.toString().split('\n').filter(Boolean)),
      );
      return { child, output };
    };
    try {
      const first = runAgent();
      await storedByBackend;
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));
      const accepted = (await decisions()).filter((d) => d.outcome === 'accepted').length;
      expect(accepted).toBe(3); // the backend did store it
      const stillPending = await (await Outbox.open(join(rig.stateDir, OUTBOX_DIR), { readOnly: true })).get(
        id,
      );
      expect(stillPending?.state).toBe('pending');

      hold = false;
      const second = runAgent();
      try {
        await expect
          .poll(
            () => second.output.some((line) => line.includes('"type":"delivered"') && line.includes(id)),
            {
              timeout: 60_000,
              interval: 250,
            },
          )
          .toBe(true);
      } finally {
        second.child.kill('SIGTERM');
        await new Promise((resolve) => second.child.once('exit', resolve));
      }
      const outbox = await Outbox.open(join(rig.stateDir, OUTBOX_DIR), { readOnly: true });
      expect(await outbox.counts()).toMatchObject({ pending: 0 });
      const item = await outbox.get(id);
      expect(item).toMatchObject({ state: 'delivered', record: { reply: { accepted: true } } });
      expect(await groupSize()).toBe(3);
      expect((await decisions()).filter((d) => d.outcome === 'accepted')).toHaveLength(3);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 180_000);
});
