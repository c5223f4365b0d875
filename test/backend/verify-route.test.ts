/**
 * Uniqueness-proof verification over HTTP (POST /v1/verify/:appId), the apps' actions, and the signed root
 * statements, on PGlite and on the PostgreSQL server. Two real proofs are made once for the whole file,
 * against a local group whose members are then added to each backend's group in the same order, so the
 * backend's root is the proofs' root.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { releaseProver } from '../../circuits/prover.ts';
import { fromHex } from '../../protocol/bytes.ts';
import { verifyRootStatement } from '../../protocol/root-statement.ts';
import { SNARK_SCALAR_FIELD } from '../../protocol/signup-envelope.ts';
import type { UniquenessProof } from '../../protocol/uniqueness-proof.ts';
import { inject, startTestBackend, type TestBackend } from '../support/backend.ts';
import { DATABASE_TARGETS } from '../support/databases.ts';
import { type ProofFixture, proofFixture } from '../support/proofs.ts';

const APP = 'app_verify';
const ACTION = 'vote';
const SIGNAL = 'hello';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let fixture: ProofFixture;
/** Proofs by members 0 and 1 for APP, ACTION and SIGNAL, against the group of 3 members. */
let first: UniquenessProof;
let second: UniquenessProof;

beforeAll(async () => {
  fixture = await proofFixture({
    seed: 'verify-route',
    members: 3,
    provers: 2,
    appId: APP,
    action: ACTION,
    signal: SIGNAL,
  });
  [first, second] = fixture.proofs as [UniquenessProof, UniquenessProof];
  await releaseProver();
}, 60_000);

describe.each(DATABASE_TARGETS)('uniqueness-proof verification on %s', (target) => {
  const t0 = 1_800_000_000_000;
  let now = t0;
  let h: TestBackend;

  beforeAll(async () => {
    h = await startTestBackend(target, {}, { clock: () => now });
    for (const identity of fixture.identities) await h.backend.services.group.add(identity.commitment, t0);
  });
  afterAll(() => h?.close());

  const admin = (method: 'GET' | 'POST', appId: string, body?: unknown) =>
    inject(h.backend, method, `/v1/admin/apps/${appId}/actions`, { token: h.adminToken, body });
  const openAction = async (action: string, maxVerifications?: number, appId = APP) => {
    const reply = await admin('POST', appId, { action, maxVerifications });
    expect([200, 201], reply.body).toContain(reply.statusCode);
  };
  const verify = (body: unknown, appId = APP) => inject(h.backend, 'POST', `/v1/verify/${appId}`, { body });
  const request = (proof: unknown, extra: Record<string, unknown> = {}) => ({
    proof,
    action: ACTION,
    signal: SIGNAL,
    ...extra,
  });
  const refusal = async (reply: Promise<{ statusCode: number; json(): { code: string } }>) => {
    const answer = await reply;
    return [answer.statusCode, answer.json().code];
  };
  const spent = async () =>
    Number(
      (await h.backend.services.db.query<{ n: string }>('select count(*) as n from verify_nullifiers'))[0]?.n,
    );

  // Each test starts with nothing spent and ACTION allowing one use.
  beforeEach(async () => {
    await h.backend.services.db.query('delete from verify_nullifiers');
    await openAction(ACTION, 1);
  });

  it('lets the operator open actions (201, then 200 to update them) and list them', async () => {
    const created = await admin('POST', 'app_admin', { action: 'sign-up', description: 'one per person' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({
      appId: 'app_admin',
      action: 'sign-up',
      maxVerifications: 1,
      description: 'one per person',
      createdAtMs: now,
    });
    now += 1000;
    const updated = await admin('POST', 'app_admin', { action: 'sign-up', maxVerifications: 3 });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toEqual({ ...created.json(), maxVerifications: 3, description: null });
    await admin('POST', 'app_admin', { action: 'a-first', maxVerifications: 2 });
    const list = await admin('GET', 'app_admin');
    expect(list.json().map((a: { action: string }) => a.action)).toEqual(['a-first', 'sign-up']);
    expect(list.json()[1]).toEqual(updated.json());
    expect(await refusal(admin('POST', 'bad%20app', { action: 'x' }))).toEqual([400, 'invalid_format']);
    expect(await refusal(admin('POST', 'app_admin', { action: '' }))).toEqual([400, 'invalid_format']);
    expect(await refusal(admin('POST', 'app_admin', { action: 'x', maxVerifications: 0 }))).toEqual([
      400,
      'malformed_request',
    ]);
    const anonymous = inject(h.backend, 'POST', '/v1/admin/apps/app_admin/actions', {
      body: { action: 'x' },
    });
    expect(await refusal(anonymous)).toEqual([401, 'unauthorized']);
  });

  it("holds the proofs' members: the same root, and inclusion proofs with depth and a signed root statement", async () => {
    const { services } = h.backend;
    expect(services.group.root).toBe(fixture.group.root);
    const receiptKey = fromHex((await inject(h.backend, 'GET', '/v1/info')).json().receiptKey.publicKey);
    const commitment = fixture.identities[0]?.commitment;
    const proof = await inject(h.backend, 'GET', `/v1/group/members/${commitment}/proof`);
    expect(proof.statusCode).toBe(200);
    const local = fixture.group.generateMerkleProof(0);
    const body = proof.json();
    expect(body).toMatchObject({
      root: local.root.toString(),
      leaf: local.leaf.toString(),
      index: 0,
      siblings: local.siblings.map(String),
      depth: 20,
    });
    const expected = { root: local.root, size: 3, createdAtMs: t0, supersededAtMs: null, statedAtMs: now };
    expect(await verifyRootStatement(body.rootStatement, receiptKey)).toEqual({ version: 1, ...expected });

    const statement = await inject(h.backend, 'GET', `/v1/group/roots/${first.merkleTreeRoot}/statement`);
    expect(statement.statusCode).toBe(200);
    expect(await verifyRootStatement(statement.json(), receiptKey)).toEqual({ version: 1, ...expected });
    const forged = { ...statement.json(), size: 4 };
    await expect(verifyRootStatement(forged, receiptKey)).rejects.toMatchObject({
      code: 'invalid_root_statement',
    });
    expect(await refusal(inject(h.backend, 'GET', '/v1/group/roots/12345/statement'))).toEqual([
      404,
      'invalid_merkle_root',
    ]);

    expect((await inject(h.backend, 'GET', `/v1/group/roots/${first.merkleTreeRoot}`)).json()).toEqual({
      root: first.merkleTreeRoot,
      status: 'current',
      valid: true,
      createdAtMs: t0,
      supersededAtMs: null,
    });
    expect((await inject(h.backend, 'GET', '/v1/group/roots/12345')).json()).toEqual({
      root: '12345',
      status: 'unknown',
      valid: false,
      createdAtMs: null,
      supersededAtMs: null,
    });
  });

  it('accepts a valid proof once when the action allows one use; another person still may', async () => {
    const reply = await verify(request(first));
    expect(reply.statusCode, reply.body).toBe(200);
    expect(reply.json()).toEqual({
      success: true,
      appId: APP,
      action: ACTION,
      nullifier: first.nullifier,
      merkleRoot: first.merkleTreeRoot,
      uses: 1,
      maxUses: 1,
      createdAtMs: now,
    });
    expect(await refusal(verify(request(first)))).toEqual([400, 'max_verifications_reached']);
    const other = await verify(request(second));
    expect(other.json()).toMatchObject({ success: true, nullifier: second.nullifier, uses: 1 });
    expect(second.nullifier).not.toBe(first.nullifier);
  });

  it('allows exactly maxVerifications uses', async () => {
    await openAction(ACTION, 2);
    const created = now;
    expect((await verify(request(first))).json()).toMatchObject({
      uses: 1,
      maxUses: 2,
      createdAtMs: created,
    });
    now += 1000;
    expect((await verify(request(first))).json()).toMatchObject({
      uses: 2,
      maxUses: 2,
      createdAtMs: created,
    });
    expect(await refusal(verify(request(first)))).toEqual([400, 'max_verifications_reached']);
  });

  it('refuses an action the app has not opened, and a proof made for another action or app', async () => {
    expect(await refusal(verify(request(first, { action: 'unregistered' })))).toEqual([
      400,
      'invalid_action',
    ]);
    await openAction('other-action', 5);
    expect(await refusal(verify(request(first, { action: 'other-action' })))).toEqual([
      400,
      'invalid_action',
    ]);
    await openAction(ACTION, 5, 'app_other');
    expect(await refusal(verify(request(first), 'app_other'))).toEqual([400, 'invalid_action']);
    expect(await spent()).toBe(0);
  });

  it('refuses a proof for another signal, or with a tampered nullifier or points, spending nothing', async () => {
    const p = first.points;
    const tamperedNullifier = {
      ...first,
      nullifier: ((BigInt(first.nullifier) + 1n) % SNARK_SCALAR_FIELD).toString(),
    };
    // A and C swapped: both points on the curve, so only the pairing check can tell.
    const swappedPoints = { ...first, points: [p[6], p[7], ...p.slice(2, 6), p[0], p[1]] };
    for (const body of [
      request(first, { signal: 'another signal' }),
      { proof: first, action: ACTION },
      request(tamperedNullifier),
      request(swappedPoints),
    ]) {
      expect(await refusal(verify(body))).toEqual([400, 'invalid_proof']);
    }
    expect(await spent()).toBe(0);
    expect((await verify(request(first))).json()).toMatchObject({ success: true, uses: 1 });
  });

  it('refuses a root the backend never issued', async () => {
    const unknownRoot = { ...first, merkleTreeRoot: '12345' };
    expect(await refusal(verify(request(unknownRoot)))).toEqual([400, 'invalid_merkle_root']);
  });

  it('answers invalid_format to every malformed request, never malformed_request', async () => {
    const { merkleTreeDepth: _depth, ...noDepth } = first;
    for (const body of [
      {},
      { action: ACTION },
      { proof: 'a proof', action: ACTION },
      request(noDepth),
      request({ ...first, extra: 1 }),
      request({ ...first, merkleTreeDepth: 16 }),
      request({ ...first, points: first.points.slice(1) }),
      request({ ...first, nullifier: '0x12' }),
      request({ ...first, nullifier: SNARK_SCALAR_FIELD.toString() }),
      request(first, { action: '' }),
      request(first, { action: 'line\nbreak' }),
      request(first, { action: 7 }),
      request(first, { signal: 'x'.repeat(4097) }),
      request(first, { maxRootAgeSeconds: -1 }),
      request(first, { maxRootAgeSeconds: '60' }),
      request(first, { extra: true }),
    ]) {
      expect(await refusal(verify(body)), JSON.stringify(body).slice(0, 200)).toEqual([
        400,
        'invalid_format',
      ]);
    }
    expect(await refusal(verify(request(first), 'bad%20app'))).toEqual([400, 'invalid_format']);
    const broken = h.backend.app.inject({
      method: 'POST',
      url: `/v1/verify/${APP}`,
      headers: { 'content-type': 'application/json' },
      payload: '{"proof": ',
    });
    expect(await refusal(broken)).toEqual([400, 'invalid_format']);
    expect(await refusal(verify(undefined))).toEqual([400, 'invalid_format']);
    const text = h.backend.app.inject({
      method: 'POST',
      url: `/v1/verify/${APP}`,
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify(request(first)),
    });
    expect(await refusal(text)).toEqual([400, 'invalid_format']);
    expect(await spent()).toBe(0);
  });

  it('counts one use when two verifications of one nullifier race', async () => {
    const { stats } = h.backend.services.proofs.verifier;
    const proofsBefore = stats.proofs;
    const replies = await Promise.all([verify(request(first)), verify(request(first))]);
    const outcomes = replies.map((r) => (r.statusCode === 200 ? 'ok' : r.json().code)).sort();
    expect(outcomes).toEqual(['max_verifications_reached', 'ok']);
    expect(replies.find((r) => r.statusCode === 200)?.json().uses).toBe(1);
    // Both proofs verified: the refusal came from the one atomic statement that counts uses.
    expect(stats.proofs - proofsBefore).toBe(2);
    // The statement alone, many at once on one nullifier: exactly maxUses of them count.
    const { nullifiers } = h.backend.services;
    const entry = { appId: APP, action: ACTION, nullifier: '77', maxUses: 3, nowMs: now };
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => nullifiers.use(entry)));
    const counted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.uses] : []));
    expect(counted.sort()).toEqual([1, 2, 3]);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect(r.reason).toMatchObject({ code: 'max_verifications_reached' });
    }
  });

  it('verifies concurrent requests in batches and counts each use exactly once', async () => {
    await openAction(ACTION, 16);
    const stats = h.backend.services.proofs.verifier.stats;
    const before = { ...stats };
    const replies = await Promise.all(Array.from({ length: 16 }, () => verify(request(first))));
    expect(replies.map((r) => r.statusCode)).toEqual(Array(16).fill(200));
    const uses = replies.map((r) => r.json().uses as number).sort((a, b) => a - b);
    expect(uses).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(stats.proofs - before.proofs).toBe(16);
    // Fewer batches than proofs: some batch held several of these 16.
    expect(stats.batches - before.batches).toBeLessThan(16);
    const metrics = (await inject(h.backend, 'GET', '/metrics')).body;
    expect(metrics).toMatch(/irisgate_verifications_total\{outcome="success"\} \d+/);
    expect(metrics).toMatch(/irisgate_verifications_total\{outcome="invalid_format"\} \d+/);
    expect(metrics).toContain(`irisgate_proof_batch_largest ${stats.largestBatch}`);
    expect(metrics).toContain(`irisgate_proofs_batched_total ${stats.proofs}`);
    const docs = (await inject(h.backend, 'GET', '/docs/json')).json();
    expect(docs.paths['/v1/verify/{appId}'].post.tags).toEqual(['verify']);
    expect(docs.paths).toHaveProperty(['/v1/group/roots/{root}/statement']);
    expect(docs.paths).toHaveProperty(['/v1/admin/apps/{appId}/actions']);
  });

  // Last: it adds a member, so the proofs' root is no longer current.
  it('refuses a root replaced longer ago than the limit; a request may lower the limit, not raise it', async () => {
    const replacedAt = now + 1000;
    await h.backend.services.group.add(4242n, replacedAt);
    const status = (await inject(h.backend, 'GET', `/v1/group/roots/${first.merkleTreeRoot}`)).json();
    expect(status).toEqual({
      root: first.merkleTreeRoot,
      status: 'valid',
      valid: true,
      createdAtMs: t0,
      supersededAtMs: replacedAt,
    });
    now = replacedAt + 10 * MINUTE;
    expect(await refusal(verify(request(first, { maxRootAgeSeconds: 60 })))).toEqual([400, 'root_too_old']);
    expect((await verify(request(first))).json()).toMatchObject({ success: true, uses: 1 });
    now = replacedAt + HOUR + 1000;
    expect(await refusal(verify(request(second)))).toEqual([400, 'root_too_old']);
    expect(await refusal(verify(request(second, { maxRootAgeSeconds: 1e9 })))).toEqual([400, 'root_too_old']);
    const receiptKey = fromHex((await inject(h.backend, 'GET', '/v1/info')).json().receiptKey.publicKey);
    const statement = await inject(h.backend, 'GET', `/v1/group/roots/${first.merkleTreeRoot}/statement`);
    expect(await verifyRootStatement(statement.json(), receiptKey)).toMatchObject({
      size: 3,
      supersededAtMs: replacedAt,
      statedAtMs: now,
    });
    expect(await spent()).toBe(1);
  });
});
