/**
 * What the agent measures when it starts: the SHA-256 of every file of its software (the TypeScript of
 * device/, iris/, protocol/, hsm/ and models/, package.json and package-lock.json) and of every model it
 * runs (models/manifest.json's .onnx files, checked against the manifest). The combined measurement
 * (protocol/tpm-attestation.ts measurementOfFileDigests: software first, then models, each sorted by path)
 * extends the TPM's PCR 16 when the device's keys live in a TPM, so a quote shows what software signs.
 * The models' digests also go into every signup envelope.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256File } from '../hsm/tpm-attestation.ts';
import { fromHex, toHex } from '../protocol/bytes.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { measurementOfFileDigests } from '../protocol/tpm-attestation.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOFTWARE_DIRS = ['device', 'iris', 'protocol', 'hsm', 'models'];
const SOFTWARE_FILE = /\.(ts|mjs|sh)$/;

export interface SoftwareMeasurement {
  /** Paths relative to the project root, with their sha256 (hex): software, then models. */
  files: { path: string; sha256: string }[];
  /** The models as a signup envelope lists them (name = file name without .onnx). */
  models: { name: string; sha256: Uint8Array }[];
  /** SHA-256 over the files' digests in `files` order: what PCR 16 is extended with. */
  measurement: Uint8Array;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && SOFTWARE_FILE.test(entry.name))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

export async function measureDeviceSoftware(): Promise<SoftwareMeasurement> {
  const software = [
    'package.json',
    'package-lock.json',
    ...(await Promise.all(SOFTWARE_DIRS.map(sourceFiles))).flat(),
  ].sort();
  const manifest = JSON.parse(await readFile(join(ROOT, 'models/manifest.json'), 'utf8')) as {
    models: { file: string; sha256: string }[];
  };
  const modelFiles = manifest.models.map((m) => `models/${m.file}`).sort();
  const paths = [...software, ...modelFiles];
  const digests = await Promise.all(paths.map((path) => sha256File(join(ROOT, path))));
  const files = paths.map((path, i) => ({ path, sha256: toHex(digests[i] as Uint8Array) }));
  const models = manifest.models.map((listed) => {
    const measured = files.find((f) => f.path === `models/${listed.file}`)?.sha256;
    if (measured !== listed.sha256) {
      throw new IrisgateError(
        'model_hash_mismatch',
        `models/${listed.file} is not the file the manifest lists`,
      );
    }
    return { name: listed.file.replace(/\.onnx$/, ''), sha256: fromHex(measured) };
  });
  return { files, models, measurement: measurementOfFileDigests(digests) };
}
