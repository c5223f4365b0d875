/**
 * `npm run build:models`: rebuilds the constructed models and records their sha256 in models/manifest.json,
 * the allow-list the encoder (and the device and backend) check a model file against before loading it.
 * Builds are deterministic: rebuilding from a clean checkout reproduces the committed bytes.
 *
 * `npm run build:models -- --check` writes nothing and fails if a committed file differs from a fresh build.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildIrisCodeModel, IRIS_CODE_MODEL_FILE } from './iris-code/build-onnx.ts';

export interface ManifestEntry {
  /** File name inside models/. */
  file: string;
  /** Lower-case hex sha256 of the file's bytes. */
  sha256: string;
  bytes: number;
  /** The model card beside it. */
  card: string;
}

export interface ModelManifest {
  models: ManifestEntry[];
}

export const MODELS_DIR = fileURLToPath(new URL('.', import.meta.url));
export const MANIFEST_PATH = fileURLToPath(new URL('./manifest.json', import.meta.url));

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every model this script builds: file name -> builder. */
export const BUILDERS: ReadonlyArray<{ file: string; card: string; build: () => Uint8Array }> = [
  { file: IRIS_CODE_MODEL_FILE, card: 'iris-code.card.md', build: buildIrisCodeModel },
];

export function serializeManifest(manifest: ModelManifest): string {
  const models = [...manifest.models].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return `${JSON.stringify({ models }, null, 2)}\n`;
}

function readManifest(): ModelManifest {
  if (!existsSync(MANIFEST_PATH)) return { models: [] };
  return JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as ModelManifest;
}

function main(check: boolean): void {
  const manifest = readManifest();
  let stale = 0;
  for (const { file, card, build } of BUILDERS) {
    const bytes = build();
    const entry: ManifestEntry = { file, sha256: sha256Hex(bytes), bytes: bytes.length, card };
    const path = `${MODELS_DIR}${file}`;
    const current = existsSync(path) ? sha256Hex(readFileSync(path)) : undefined;
    if (check) {
      const listed = manifest.models.find((m) => m.file === file)?.sha256;
      if (current !== entry.sha256 || listed !== entry.sha256) {
        console.error(`${file}: fresh build ${entry.sha256}, file ${current}, manifest ${listed}`);
        stale++;
      }
    } else {
      writeFileSync(path, bytes);
      console.log(`${file}: ${bytes.length} bytes, sha256 ${entry.sha256}`);
    }
    manifest.models = [...manifest.models.filter((m) => m.file !== file), entry];
  }
  if (check) {
    if (stale > 0) process.exit(1);
    console.log('models are up to date');
  } else {
    writeFileSync(MANIFEST_PATH, serializeManifest(manifest));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.includes('--check'));
}
