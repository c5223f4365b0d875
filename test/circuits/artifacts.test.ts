/** The shipped artifacts are checked against their manifest before any use. */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARTIFACTS_DIR, SHIPPED_DEPTH, semaphoreArtifacts } from '../../circuits/artifacts.ts';
import { tempDir } from '../support/backend.ts';

const copy = () => {
  const dir = `${tempDir('artifacts')}/`;
  cpSync(ARTIFACTS_DIR, dir, { recursive: true });
  return dir;
};

describe('Semaphore artifacts', () => {
  it('loads the shipped depth with its verification key', async () => {
    const artifacts = await semaphoreArtifacts();
    expect(artifacts.depth).toBe(SHIPPED_DEPTH);
    expect(artifacts.verificationKey).toMatchObject({ protocol: 'groth16', curve: 'bn128', nPublic: 4 });
    expect(artifacts.verificationKey.IC).toHaveLength(5);
    const manifest = JSON.parse(readFileSync(join(ARTIFACTS_DIR, 'manifest.json'), 'utf8'));
    expect(manifest.source).toMatchObject({ package: '@zk-kit/semaphore-artifacts', version: '4.13.0' });
    expect(manifest.files.map((f: { file: string }) => f.file).sort()).toEqual([
      'semaphore-20.json',
      'semaphore-20.wasm',
      'semaphore-20.zkey',
    ]);
  });

  it.each(['semaphore-20.zkey', 'semaphore-20.wasm', 'semaphore-20.json'])(
    'refuses %s when one byte differs from the manifest',
    async (file) => {
      const dir = copy();
      const bytes = readFileSync(join(dir, file));
      bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 1, bytes.length >> 1);
      writeFileSync(join(dir, file), bytes);
      await expect(semaphoreArtifacts(SHIPPED_DEPTH, dir)).rejects.toMatchObject({
        code: 'artifact_hash_mismatch',
        message: expect.stringContaining(file),
      });
    },
  );

  it('refuses a file the manifest does not list, and a depth that is not shipped', async () => {
    const dir = copy();
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.files = manifest.files.filter((f: { file: string }) => f.file !== 'semaphore-20.wasm');
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await expect(semaphoreArtifacts(SHIPPED_DEPTH, dir)).rejects.toMatchObject({
      code: 'artifact_hash_mismatch',
    });
    await expect(semaphoreArtifacts(16)).rejects.toMatchObject({ code: 'invalid_format' });
  });
});
