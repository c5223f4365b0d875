/**
 * The SDK's HTTP side against a stand-in backend (node:http, the route shapes of backend/http/group-routes.ts):
 * fetchInclusionProof and backendRoots read the replies, carry the backend's refusals, and give
 * backend_unreachable when nothing or something else answers. And createUniquenessProof's refusals that
 * come before proving (no proof is made here).
 */
import { createServer, type Server } from 'node:http';
import { Group, Identity } from '@semaphore-protocol/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROOF_LIMITS } from '../../protocol/uniqueness-proof.ts';
import { backendRoots, createUniquenessProof, fetchInclusionProof } from '../../sdk/index.ts';
import { closedPort } from '../support/network.ts';
import { receiptKey } from './support.ts';

const identities = [0, 1, 2].map((i) => new Identity(`sdk-http/${i}`));
const group = new Group(identities.map((identity) => identity.commitment));
const key = receiptKey();
const NOW = Date.now();
const statement = key.signStatement({
  root: group.root,
  size: group.size,
  createdAtMs: NOW - 60_000,
  supersededAtMs: null,
  statedAtMs: NOW,
});
const member = identities[1] as Identity;
const stranger = new Identity('sdk-http/stranger');
/** Commitments the stand-in answers oddly for. */
const GARBAGE = 11n;
const OTHER_LEAF = 12n;
const STATUS: Record<string, unknown> = {
  '1': { status: 'current', createdAtMs: 1000, supersededAtMs: null },
  '2': { status: 'valid', createdAtMs: 1000, supersededAtMs: 5000 },
  '3': { status: 'expired', createdAtMs: 1000, supersededAtMs: 2000 },
  '4': { status: 'expired', createdAtMs: null, supersededAtMs: null },
  '5': { status: 'unknown', createdAtMs: null, supersededAtMs: null },
  '6': { status: 'weird' },
};

let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const proof = /^\/v1\/group\/members\/(\d+)\/proof$/.exec(request.url ?? '');
    const root = /^\/v1\/group\/roots\/(\d+)$/.exec(request.url ?? '');
    if (proof) {
      const commitment = BigInt(proof[1] as string);
      if (commitment === GARBAGE) return send(200, '<html>a proxy</html>');
      const index = group.indexOf(commitment === OTHER_LEAF ? member.commitment : commitment);
      if (index < 0) return send(404, { code: 'not_a_member', message: 'not a member' });
      const inclusion = group.generateMerkleProof(index);
      return send(200, {
        root: inclusion.root.toString(),
        leaf: inclusion.leaf.toString(),
        index: inclusion.index,
        siblings: inclusion.siblings.map(String),
        depth: 20,
        rootStatement: statement,
      });
    }
    if (root) {
      const reply = STATUS[root[1] as string];
      return reply ? send(200, { root: root[1], valid: false, ...reply }) : send(500, 'oops');
    }
    send(404, { code: 'not_found', message: 'no such route' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('fetchInclusionProof', () => {
  it("reads a member's inclusion proof and root statement", async () => {
    const reply = await fetchInclusionProof(url, member.commitment, { backendPublicKey: key.publicKey });
    expect(reply.inclusion).toEqual(group.generateMerkleProof(1));
    expect(reply.depth).toBe(20);
    expect(reply.rootStatement).toEqual(statement);
  });

  it("carries the backend's refusal and refuses replies that are not the backend's", async () => {
    await expect(fetchInclusionProof(url, stranger.commitment)).rejects.toThrowError(
      expect.objectContaining({ code: 'not_a_member' }),
    );
    await expect(fetchInclusionProof(url, GARBAGE)).rejects.toThrowError(
      expect.objectContaining({ code: 'backend_unreachable' }),
    );
    await expect(fetchInclusionProof(url, OTHER_LEAF)).rejects.toThrowError(
      expect.objectContaining({
        code: 'backend_unreachable',
        message: expect.stringMatching(/another commitment/),
      }),
    );
    await expect(
      fetchInclusionProof(url, member.commitment, { backendPublicKey: receiptKey().publicKey }),
    ).rejects.toThrowError(expect.objectContaining({ code: 'invalid_root_statement' }));
    const closed = `http://127.0.0.1:${await closedPort()}`;
    await expect(fetchInclusionProof(closed, member.commitment)).rejects.toThrowError(
      expect.objectContaining({ code: 'backend_unreachable' }),
    );
    await expect(fetchInclusionProof('ftp://example', member.commitment)).rejects.toThrowError(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });
});

describe('backendRoots', () => {
  it("maps the backend's root status to root records", async () => {
    const roots = backendRoots(url);
    expect(await roots.lookup(1n)).toEqual({ createdAtMs: 1000, supersededAtMs: null });
    expect(await roots.lookup(2n)).toEqual({ createdAtMs: 1000, supersededAtMs: 5000 });
    expect(await roots.lookup(3n)).toEqual({ createdAtMs: 1000, supersededAtMs: 2000 });
    // Expired without a time: replaced at 0, too old for any verifier.
    expect(await roots.lookup(4n)).toEqual({ createdAtMs: 0, supersededAtMs: 0 });
    expect(await roots.lookup(5n)).toBeUndefined();
  });

  it('gives backend_unreachable when nothing, or something else, answers', async () => {
    await expect(backendRoots(url).lookup(6n)).rejects.toThrowError(
      expect.objectContaining({ code: 'backend_unreachable' }),
    );
    await expect(backendRoots(url).lookup(7n)).rejects.toThrowError(
      expect.objectContaining({ code: 'backend_unreachable' }),
    );
    const closed = backendRoots(`http://127.0.0.1:${await closedPort()}`);
    await expect(closed.lookup(1n)).rejects.toThrowError(
      expect.objectContaining({ code: 'backend_unreachable' }),
    );
  });
});

describe('createUniquenessProof refusals before proving', () => {
  const inclusion = group.generateMerkleProof(1);
  const request = { identity: member, inclusion, appId: 'app_sdk', action: 'vote', signal: '' };

  it('refuses what every verifier would refuse, and an inclusion proof of someone else', async () => {
    const refusals: [Partial<typeof request>, string][] = [
      [{ appId: 'app with spaces' }, 'invalid_format'],
      [{ appId: '' }, 'invalid_format'],
      [{ action: '' }, 'invalid_format'],
      [{ action: 'a\nb' }, 'invalid_format'],
      [{ signal: 'x'.repeat(PROOF_LIMITS.maxSignalLength + 1) }, 'invalid_format'],
      [{ identity: stranger }, 'invalid_argument'],
      [{ inclusion: { ...inclusion, siblings: new Array(21).fill(1n) } }, 'invalid_argument'],
    ];
    for (const [change, code] of refusals) {
      await expect(
        createUniquenessProof({ ...request, ...change }),
        JSON.stringify(Object.keys(change)),
      ).rejects.toThrowError(expect.objectContaining({ code }));
    }
  });
});
