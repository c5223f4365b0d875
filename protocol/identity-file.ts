/**
 * A wallet's Semaphore identity as a file:
 *
 *   {"version": 1, "kind": "irisgate-semaphore-identity", "privateKey": "<base64>", "commitment": "<decimal>"}
 *
 * The private key is Identity.export()'s base64; the commitment is stored beside it so that a damaged or
 * edited file is noticed on import (the commitment is what the backend enrolled: a different key is a
 * different person to it). The file is secret: written 0600 and durably (protocol/durable-file.ts), never
 * over an existing file unless asked. Wallets (`irisgate proof`, the SDK) keep their identity in it, and the
 * device's `enroll` the wallets of synthetic people.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Identity } from '@semaphore-protocol/core';
import { writeDurably } from './durable-file.ts';
import { IrisgateError } from './errors.ts';

export const IDENTITY_FILE_KIND = 'irisgate-semaphore-identity';

export interface IdentityFileJson {
  version: 1;
  kind: typeof IDENTITY_FILE_KIND;
  /** Identity.export(): the private key as base64. */
  privateKey: string;
  /** The identity commitment, decimal. */
  commitment: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const invalid = (message: string) => new IrisgateError('invalid_argument', message);

export function identityFileJson(identity: Identity): IdentityFileJson {
  return {
    version: 1,
    kind: IDENTITY_FILE_KIND,
    privateKey: identity.export(),
    commitment: identity.commitment.toString(),
  };
}

/** The identity an identity file's JSON holds, once its commitment matches its key; invalid_argument otherwise. */
export function parseIdentityFile(json: unknown, source = 'the identity file'): Identity {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid(`${source} is not a JSON object`);
  }
  const j = json as Record<string, unknown>;
  if (j.kind !== IDENTITY_FILE_KIND) throw invalid(`${source} is not an ${IDENTITY_FILE_KIND} file`);
  if (j.version !== 1) throw invalid(`${source} has version ${String(j.version)}; this software reads 1`);
  if (typeof j.privateKey !== 'string' || j.privateKey.length === 0 || !BASE64.test(j.privateKey)) {
    throw invalid(`${source}: privateKey must be base64 (Identity.export())`);
  }
  if (typeof j.commitment !== 'string' || !/^[1-9][0-9]{0,76}$/.test(j.commitment)) {
    throw invalid(`${source}: commitment must be a decimal number`);
  }
  const identity = Identity.import(j.privateKey);
  if (identity.commitment.toString() !== j.commitment) {
    throw invalid(
      `${source}: its commitment ${j.commitment} is not the commitment of its private key ` +
        `(${identity.commitment}); the file is damaged or was edited`,
    );
  }
  return identity;
}

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
