import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Identity } from '@semaphore-protocol/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../protocol/bytes.ts';
import {
  fetchBackendInfo,
  fetchInclusionProof,
  type NullifierStore,
  offlineRoots,
  openUniquenessVerifier,
  type Presentation,
  verifyRootStatement,
  writeIdentityFile,
} from '../../sdk/index.ts';
import { startTestBackend, type TestBackend, tempDir } from '../support/backend.ts';
import { type Run, runIrisgate } from '../support/cli.ts';

const work = tempDir('proof-e2e');
const APP = 'app_e2e';
const ACTION = 'join-dao';
const SIGNAL = '0x00000000000000000000000000000000000000e2';

const irisgate = (args: string[]) => runIrisgate(['proof', ...args], { cwd: work });

/** Spent nullifiers in memory: enough for the in-process checks here (the SQL store is tested elsewhere). */
function memoryStore(): NullifierStore {
  const uses = new Map<string, { uses: number; createdAtMs: number }>();
  return {
    async use({ appId, action, nullifier, maxUses, nowMs }) {
      const key = JSON.stringify([appId, action, nullifier]);
      const known = uses.get(key) ?? { uses: 0, createdAtMs: nowMs };
      if (known.uses >= maxUses) {
        throw Object.assign(new Error('used'), { code: 'max_verifications_reached' });
      }
      uses.set(key, { ...known, uses: known.uses + 1 });
      return { uses: known.uses + 1, createdAtMs: known.createdAtMs };
    },
  };
}

const wallet = new Identity('sdk-e2e/wallet');
const others = [1, 2].map((i) => new Identity(`sdk-e2e/${i}`));
let h: TestBackend;
let url: string;
let create: Run;
let verify: Run;
let again: Run;

beforeAll(async () => {
  h = await startTestBackend('pglite');
  const now = Date.now();
  for (const identity of [others[0], wallet, others[1]] as Identity[]) {
    await h.backend.services.group.add(identity.commitment, now);
  }
  url = await h.backend.listen({ port: 0 });
  await writeIdentityFile(join(work, 'wallet.json'), wallet);
  create = await irisgate([
    ...['create', '--identity', 'wallet.json', '--app', APP, '--action', ACTION, '--signal', SIGNAL],
    ...['--backend', url, '--out', 'presentation.json', '--json'],
  ]);
  const check = ['verify', 'presentation.json', '--app', APP, '--action', ACTION];
  verify = await irisgate([...check, '--backend', url, '--signal', SIGNAL, '--json']);
  // Offline this time, with the same nullifier database (the default folder): used already.
  const key = toHex((await fetchBackendInfo(url)).receiptKey.publicKey);
  again = await irisgate([...check, '--offline', '--backend-key', key, '--json']);
}, 120_000);

afterAll(() => h?.close());

describe('a wallet proving to an app through the backend', () => {
  it('creates a presentation with `irisgate proof create`', () => {
    expect(create.code, create.stderr).toBe(0);
    expect(create.stderr).toMatch(/fetching the inclusion proof/);
    expect(create.stderr).toMatch(/proved in \d+\.\d s/);
    const summary = JSON.parse(create.stdout);
    expect(summary).toMatchObject({
      appId: APP,
      action: ACTION,
      merkleRoot: h.backend.services.group.root.toString(),
    });
    const presentation = JSON.parse(readFileSync(join(work, 'presentation.json'), 'utf8')) as Presentation;
    expect(presentation).toMatchObject({ version: 1, appId: APP, action: ACTION, signal: SIGNAL });
    expect(presentation.proof.nullifier).toBe(summary.nullifier);
    expect(presentation.rootStatement.root).toBe(presentation.proof.merkleTreeRoot);
  });

  it('verifies it against the backend once with `irisgate proof verify`, then refuses it offline as used', () => {
    expect(verify.code, verify.stderr).toBe(0);
    const presentation = JSON.parse(readFileSync(join(work, 'presentation.json'), 'utf8')) as Presentation;
    expect(JSON.parse(verify.stdout)).toEqual({
      verified: true,
      appId: APP,
      action: ACTION,
      nullifier: presentation.proof.nullifier,
      merkleRoot: presentation.proof.merkleTreeRoot,
      uses: 1,
      maxUses: 1,
      createdAtMs: expect.any(Number),
    });
    expect(existsSync(join(work, 'irisgate-nullifiers'))).toBe(true);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toEqual({
      error: { code: 'max_verifications_reached', message: expect.any(String) },
    });
  });

  it('verifies the same presentation offline with the receipt key from /v1/info', async () => {
    const info = await fetchBackendInfo(url);
    const presentation = JSON.parse(readFileSync(join(work, 'presentation.json'), 'utf8')) as Presentation;
    await verifyRootStatement(presentation.rootStatement, info.receiptKey.publicKey);
    const verifier = await openUniquenessVerifier({
      roots: await offlineRoots([presentation.rootStatement], info.receiptKey.publicKey),
      nullifiers: memoryStore(),
    });
    const verdict = await verifier.verifyUniquenessProof({ ...presentation, appId: APP, action: ACTION });
    expect(verdict).toMatchObject({ uses: 1, nullifier: presentation.proof.nullifier });
  });

  it("reads members' inclusion proofs and refuses strangers", async () => {
    const info = await fetchBackendInfo(url);
    const reply = await fetchInclusionProof(url, wallet.commitment, {
      backendPublicKey: info.receiptKey.publicKey,
    });
    expect(reply.inclusion.leaf).toBe(wallet.commitment);
    expect(reply.inclusion.index).toBe(1);
    expect(reply.inclusion.root).toBe(h.backend.services.group.root);
    expect(reply.depth).toBe(info.treeDepth);
    await expect(fetchInclusionProof(url, new Identity('sdk-e2e/stranger').commitment)).rejects.toThrowError(
      expect.objectContaining({ code: 'not_a_member' }),
    );
  });
});
