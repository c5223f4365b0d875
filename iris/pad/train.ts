/**
 * `npm run train:pad [-- --identities N --sessions S --seed SEED --workers W]`: renders a synthetic
 * training set of live and attack presentations (iris/attacks), measures every frame (training-task.ts),
 * trains the patch detector's block model and the frame model (train-models.ts), and writes
 * models/patch-mask.onnx, models/pad.onnx (its operating threshold in the graph's metadata), their
 * manifest entries and models/pad.card.md. Deterministic by seed; the held-out evaluation is
 * `npm run eval:attacks`, on seeds this never uses.
 *
 * The measured frames are cached under .irisgate/ (keyed by the set's parameters), so retraining after a
 * change to the training code alone skips the rendering.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import {
  MANIFEST_PATH,
  MODELS_DIR,
  type ModelManifest,
  serializeManifest,
  sha256Hex,
} from '../../models/build.ts';
import { buildMlpOnnx } from '../../models/pad/mlp-onnx.ts';
import { mapInWorkers } from '../../protocol/task-pool.ts';
import { ATTACK_KINDS, type PresentationLabel } from '../attacks/render-attack.ts';
import { startProgress } from '../progress.ts';
import { hashSeed } from '../synth/random.ts';
import { PAD_MODEL_FILE, PATCH_LIMIT_KEY, THRESHOLD_KEY, TRAINING_SET_KEY } from './detector.ts';
import { DETECTOR_FEATURE_NAMES } from './detector-features.ts';
import { writePadCard } from './pad-card.ts';
import { PATCH_FEATURE_NAMES } from './patch-features.ts';
import { PATCH_MASK_MODEL_FILE, PATCH_MASK_OUTPUT } from './patch-mask.ts';
import { trainPad } from './train-models.ts';
import { MEASUREMENT_REVISION, type PresentationFeatures, type PresentationSpec } from './training-task.ts';

export const TRAINING_SEED = 'pad-train-v1';
/** The shipped models' training set (models/pad.card.md), and leave-one-type-out's (test/attacks/suite.ts). */
export const TRAINING_SET = { identities: 120, sessions: 2 } as const;
const TASK = new URL('./training-task.ts', import.meta.url);
const CACHE_DIR = fileURLToPath(new URL('../../.irisgate/', import.meta.url));

export function presentationSpecs(
  seed: string,
  identities: number,
  sessions: number,
  labels: readonly PresentationLabel[] = ['live', ...ATTACK_KINDS],
): PresentationSpec[] {
  const specs: PresentationSpec[] = [];
  for (let identity = 0; identity < identities; identity++) {
    for (let session = 0; session < sessions; session++) {
      for (const label of labels) specs.push({ seed, identity, session, label });
    }
  }
  return specs;
}

/** Measures the presentations in worker threads, with a progress bar; cached by `cacheKey` if given. */
export async function measurePresentations(
  specs: readonly PresentationSpec[],
  options: { workers?: number; label: string; cacheKey?: string },
): Promise<PresentationFeatures[]> {
  const cache = options.cacheKey ? `${CACHE_DIR}${options.cacheKey}.v8` : undefined;
  if (cache && existsSync(cache)) return deserialize(readFileSync(cache)) as PresentationFeatures[];
  const progress = startProgress(options.label, specs.length);
  const measured = await mapInWorkers<PresentationSpec, PresentationFeatures>(TASK, specs, {
    ...(options.workers ? { workers: options.workers } : {}),
    onProgress: (done) => progress.update(done),
  });
  progress.stop();
  if (cache) {
    mkdirSync(CACHE_DIR, { recursive: true });
    writeFileSync(cache, serialize(measured));
  }
  return measured;
}

/**
 * The cache file of a training set: its parameters, the feature names, and MEASUREMENT_REVISION (what
 * the names cannot tell: segmentation or limbus-cover changes).
 */
export function trainingCacheKey(seed: string, identities: number, sessions: number): string {
  const features = hashSeed(
    ...DETECTOR_FEATURE_NAMES,
    '|',
    ...PATCH_FEATURE_NAMES,
    '|',
    MEASUREMENT_REVISION,
  ).toString(16);
  return `pad-train-${seed}-${identities}x${sessions}-${features}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      identities: { type: 'string', default: String(TRAINING_SET.identities) },
      sessions: { type: 'string', default: String(TRAINING_SET.sessions) },
      seed: { type: 'string', default: TRAINING_SEED },
      workers: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run train:pad [-- --identities N (${TRAINING_SET.identities})] [--sessions S (${TRAINING_SET.sessions})] [--seed SEED] [--workers W]\n` +
        'Renders live and attack presentations, trains models/patch-mask.onnx and models/pad.onnx, and\n' +
        'rewrites their manifest entries and models/pad.card.md.\n',
    );
    return;
  }
  const identities = Number(values.identities);
  const sessions = Number(values.sessions);
  const seed = values.seed;
  const started = performance.now();
  const specs = presentationSpecs(seed, identities, sessions);
  const trainingSet = trainingCacheKey(seed, identities, sessions);
  const captures = await measurePresentations(specs, {
    label: 'train:pad render + measure',
    cacheKey: trainingSet,
    ...(values.workers ? { workers: Number(values.workers) } : {}),
  });
  process.stderr.write('training the block and frame models\n');
  const trained = trainPad(captures, { seed });
  const files = [
    {
      file: PATCH_MASK_MODEL_FILE,
      bytes: buildMlpOnnx(trained.patch, {
        outputName: PATCH_MASK_OUTPUT,
        graphName: 'patch_mask',
        docString: 'Irisgate patch detector: probability that a rubber-sheet block lies on a patch',
      }),
    },
    {
      file: PAD_MODEL_FILE,
      bytes: buildMlpOnnx(trained.pad, {
        graphName: 'pad',
        docString: 'Irisgate presentation-attack detector: probability that a frame shows a live eye',
        metadata: {
          [THRESHOLD_KEY]: String(trained.threshold),
          [PATCH_LIMIT_KEY]: String(trained.patchLimit),
          [TRAINING_SET_KEY]: trainingSet,
        },
      }),
    },
  ];
  const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as ModelManifest;
  for (const { file, bytes } of files) {
    writeFileSync(`${MODELS_DIR}${file}`, bytes);
    manifest.models = [
      ...manifest.models.filter((m) => m.file !== file),
      { file, sha256: sha256Hex(bytes), bytes: bytes.length, card: 'pad.card.md' },
    ];
  }
  writeFileSync(MANIFEST_PATH, serializeManifest(manifest));
  writePadCard({
    captures,
    trained,
    seed,
    identities,
    sessions,
    trainingSet,
    files: files.map(({ file, bytes }) => ({ file, sha256: sha256Hex(bytes), bytes: bytes.length })),
  });
  const seconds = Math.round((performance.now() - started) / 1000);
  process.stderr.write(
    `wrote ${files.map((f) => f.file).join(', ')} and pad.card.md (threshold ${trained.threshold.toFixed(4)}, patch limit ${trained.patchLimit.toFixed(3)}) in ${seconds} s\n`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
