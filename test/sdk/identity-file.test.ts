/**
 * The wallet's identity file: a round trip, its mode, durability's temporary files cleaned up, no overwrite
 * unless forced, and every file that does not hold a consistent identity refused with invalid_argument.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity } from '@semaphore-protocol/core';
import { describe, expect, it } from 'vitest';
import {
  createIdentityFile,
  IDENTITY_FILE_KIND,
  identityFileJson,
  parseIdentityFile,
  readIdentityFile,
  writeIdentityFile,
} from '../../sdk/index.ts';

const work = mkdtempSync(join(tmpdir(), 'irisgate-sdk-identity-'));
const invalidArgument = (message: RegExp) =>
  expect.objectContaining({ code: 'invalid_argument', message: expect.stringMatching(message) });

describe('identity file', () => {
  it('round-trips a new identity, 0600, with no temporary file left', async () => {
    const folder = join(work, 'new', 'nested');
    const file = join(folder, 'me.json');
    const identity = await createIdentityFile(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(folder)).toEqual(['me.json']);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json).toEqual({
      version: 1,
      kind: IDENTITY_FILE_KIND,
      privateKey: identity.export(),
      commitment: identity.commitment.toString(),
    });
    const read = await readIdentityFile(file);
    expect(read.commitment).toBe(identity.commitment);
    expect(read.export()).toBe(identity.export());
    // An identity from a string key (Identity('seed')) round-trips too.
    const seeded = new Identity('seeded wallet');
    expect(parseIdentityFile(identityFileJson(seeded)).commitment).toBe(seeded.commitment);
  });

  it('never replaces a file unless forced', async () => {
    const file = join(work, 'exists.json');
    writeFileSync(file, 'precious');
    await expect(createIdentityFile(file)).rejects.toThrowError(invalidArgument(/exists already/));
    expect(readFileSync(file, 'utf8')).toBe('precious');
    expect(readdirSync(work).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const identity = new Identity();
    await writeIdentityFile(file, identity, { force: true });
    expect((await readIdentityFile(file)).commitment).toBe(identity.commitment);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a file whose commitment is not its key', async () => {
    const json = identityFileJson(new Identity());
    const other = new Identity();
    const file = join(work, 'edited.json');
    writeFileSync(file, JSON.stringify({ ...json, commitment: other.commitment.toString() }));
    await expect(readIdentityFile(file)).rejects.toThrowError(
      invalidArgument(/is not the commitment of its private key .*damaged or was edited/),
    );
    expect(() => parseIdentityFile({ ...json, privateKey: other.export() })).toThrowError(
      invalidArgument(/not the commitment of its private key/),
    );
  });

  it('refuses every other malformed file', async () => {
    const json = identityFileJson(new Identity());
    const cases: [unknown, RegExp][] = [
      [null, /not a JSON object/],
      [[json], /not a JSON object/],
      [{ ...json, kind: 'something-else' }, /is not an irisgate-semaphore-identity file/],
      [{ ...json, version: 2 }, /version 2/],
      [{ ...json, privateKey: '' }, /privateKey must be base64/],
      [{ ...json, privateKey: 'not base64!' }, /privateKey must be base64/],
      [{ ...json, privateKey: 42 }, /privateKey must be base64/],
      [{ ...json, commitment: '0x12' }, /commitment must be a decimal/],
      [{ ...json, commitment: Number(json.commitment) }, /commitment must be a decimal/],
    ];
    for (const [value, message] of cases) {
      expect(() => parseIdentityFile(value), JSON.stringify(value)).toThrowError(invalidArgument(message));
    }
    const notJson = join(work, 'not.json');
    writeFileSync(notJson, '{"version": 1,');
    await expect(readIdentityFile(notJson)).rejects.toThrowError(invalidArgument(/is not JSON/));
    await expect(readIdentityFile(join(work, 'missing.json'))).rejects.toThrowError(
      invalidArgument(/does not exist/),
    );
  });
});
