/**
 * The one check every model file passes before it is loaded: its sha256 must equal the entry for its file
 * name in the allow-list (models/manifest.json, or another manifest given explicitly). The iris encoder and
 * the PAD model load their .onnx files through here.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { IrisgateError } from '../protocol/errors.ts';

interface ManifestFile {
  models?: Array<{ file?: unknown; sha256?: unknown }>;
}

/** The sha256 (lower-case hex) the manifest lists for `file`; 'model_hash_mismatch' if unreadable or absent. */
async function expectedSha256(manifestPath: string, file: string): Promise<string> {
  let manifest: ManifestFile;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as ManifestFile;
  } catch (cause) {
    throw new IrisgateError('model_hash_mismatch', `cannot read the model manifest ${manifestPath}`, {
      cause,
    });
  }
  const entry = manifest.models?.find((m) => m.file === file);
  if (!entry || typeof entry.sha256 !== 'string') {
    throw new IrisgateError('model_hash_mismatch', `${file} is not listed in ${manifestPath}`);
  }
  return entry.sha256.toLowerCase();
}

/**
 * Reads a model file and checks it against the manifest entry for its file name. Throws IrisgateError
 * 'model_hash_mismatch' when the manifest cannot be read, does not list the file, or lists another hash;
 * a missing model file fails with the file system's error.
 */
export async function readVerifiedModel(
  modelPath: string,
  manifestPath: string,
): Promise<{ bytes: Uint8Array; sha256: string }> {
  const bytes = new Uint8Array(await readFile(modelPath));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const expected = await expectedSha256(manifestPath, basename(modelPath));
  if (sha256 !== expected) {
    throw new IrisgateError(
      'model_hash_mismatch',
      `${modelPath} has sha256 ${sha256}, the manifest lists ${expected}`,
    );
  }
  return { bytes, sha256 };
}
