/**
 * The Semaphore v4 artifacts the project ships (circuits/artifacts/, copied from
 * @zk-kit/semaphore-artifacts@4.13.0, only the depths it uses): the prover's circuit (.wasm), its proving key
 * (.zkey) and the verification key (.json). Each file is checked against the sha256 in
 * circuits/artifacts/manifest.json before it is used, once per process; nothing is ever downloaded.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { IrisgateError } from '../protocol/errors.ts';

/** The tree depth of the group (backend/semaphore-group.ts) and of every proof: up to 2^20 members. */
export const SHIPPED_DEPTH = 20;

export const ARTIFACTS_DIR = fileURLToPath(new URL('./artifacts/', import.meta.url));

/** A Groth16 verification key as snarkjs writes it (decimal strings, projective coordinates). */
export interface VerificationKey {
  protocol: 'groth16';
  curve: 'bn128';
  nPublic: number;
  vk_alpha_1: string[];
  vk_beta_2: string[][];
  vk_gamma_2: string[][];
  vk_delta_2: string[][];
  IC: string[][];
}

export interface SemaphoreArtifacts {
  depth: number;
  wasmPath: string;
  zkeyPath: string;
  verificationKey: VerificationKey;
}

interface Manifest {
  depths: number[];
  files: { file: string; sha256: string }[];
}

const checked = new Map<string, Promise<SemaphoreArtifacts>>();

async function verifiedFile(dir: string, manifest: Manifest, file: string): Promise<Buffer> {
  const expected = manifest.files.find((f) => f.file === file)?.sha256;
  if (!expected) throw new IrisgateError('artifact_hash_mismatch', `${file} is not in the manifest`);
  const bytes = await readFile(`${dir}${file}`);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expected) {
    throw new IrisgateError(
      'artifact_hash_mismatch',
      `${file} has sha256 ${actual}, the manifest lists ${expected}`,
    );
  }
  return bytes;
}

async function load(dir: string, depth: number): Promise<SemaphoreArtifacts> {
  const manifest = JSON.parse(await readFile(`${dir}manifest.json`, 'utf8')) as Manifest;
  if (!manifest.depths.includes(depth)) {
    throw new IrisgateError(
      'invalid_format',
      `no Semaphore artifacts for tree depth ${depth} (${manifest.depths})`,
    );
  }
  const name = `semaphore-${depth}`;
  const [, , key] = await Promise.all([
    verifiedFile(dir, manifest, `${name}.wasm`),
    verifiedFile(dir, manifest, `${name}.zkey`),
    verifiedFile(dir, manifest, `${name}.json`),
  ]);
  return {
    depth,
    wasmPath: `${dir}${name}.wasm`,
    zkeyPath: `${dir}${name}.zkey`,
    verificationKey: JSON.parse(key.toString('utf8')) as VerificationKey,
  };
}

/**
 * The artifacts for a depth, their hashes checked (once per process and folder). Throws
 * artifact_hash_mismatch when a file differs from the manifest, invalid_format for a depth not shipped.
 */
export function semaphoreArtifacts(depth = SHIPPED_DEPTH, dir = ARTIFACTS_DIR): Promise<SemaphoreArtifacts> {
  const key = `${dir}|${depth}`;
  let loaded = checked.get(key);
  if (!loaded) {
    loaded = load(dir, depth);
    checked.set(key, loaded);
    loaded.catch(() => checked.delete(key));
  }
  return loaded;
}

/** The depths the shipped artifacts can prove and verify. */
export const SHIPPED_DEPTHS: readonly number[] = [SHIPPED_DEPTH];
