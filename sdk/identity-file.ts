/**
 * Identity files (protocol/identity-file.ts) on disk: read and checked, written 0600 and durably, never over
 * an existing file unless asked.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Identity } from '@semaphore-protocol/core';
import { writeDurably } from '../protocol/durable-file.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { identityFileJson, parseIdentityFile } from '../protocol/identity-file.ts';

/** Reads and checks an identity file (invalid_argument when it is missing or not a valid identity file). */
export async function readIdentityFile(path: string): Promise<Identity> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
    throw new IrisgateError('invalid_argument', `the identity file ${path} ${why}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `the identity file ${path} is not JSON`, { cause });
  }
  return parseIdentityFile(json, `the identity file ${path}`);
}

/**
 * Writes `identity` to `path` (mode 0600, durably); refuses (invalid_argument) when the file exists, unless
 * `force`. Creates the folder (0700) when it does not exist.
 */
export async function writeIdentityFile(
  path: string,
  identity: Identity,
  { force = false }: { force?: boolean } = {},
): Promise<void> {
  const target = resolve(path);
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  const json = `${JSON.stringify(identityFileJson(identity), null, 2)}\n`;
  try {
    await writeDurably(dirname(target), basename(target), json, { replace: force });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new IrisgateError('invalid_argument', `${path} exists already (replace it with --force)`);
    }
    throw error;
  }
}

/** A new random identity, written to `path` as writeIdentityFile does. */
export async function createIdentityFile(path: string, options: { force?: boolean } = {}): Promise<Identity> {
  const identity = new Identity();
  await writeIdentityFile(path, identity, options);
  return identity;
}
