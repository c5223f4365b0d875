/**
 * Runs an MLP graph built by models/pad/mlp-onnx.ts in onnxruntime-web, after checking the file's sha256
 * against the model manifest (iris/model-file.ts, the same check as the iris encoder's).
 */
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-web';
import { INPUT_NAMES_KEY, MLP_INPUT, MLP_OUTPUT } from '../../models/pad/mlp-onnx.ts';
import { IrisgateError } from '../../protocol/errors.ts';
import { readVerifiedModel } from '../model-file.ts';

export const DEFAULT_MANIFEST_PATH = fileURLToPath(new URL('../../models/manifest.json', import.meta.url));

export interface MlpModelOptions {
  /** The allow-list; defaults to models/manifest.json. */
  manifestPath?: string;
  /** Graph input and output names (defaults: 'features', 'live_score'). */
  inputName?: string;
  outputName?: string;
}

export interface MlpModel {
  /** sha256 (hex) of the loaded model file. */
  readonly sha256: string;
  /** The feature names recorded in the model's metadata, if any. */
  readonly inputNames?: readonly string[];
  /** Every metadata entry of the model (e.g. an operating threshold). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Scores of n rows of f features each (row-major); one value per row. */
  predict(rows: Float32Array, n: number, f: number): Promise<Float32Array>;
  /** Frees the onnxruntime session. */
  release(): Promise<void>;
}

function modelMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  return Object.fromEntries(model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
}

function metadataInputNames(metadata: Record<string, string>): string[] | undefined {
  const entry = metadata[INPUT_NAMES_KEY];
  if (!entry) return undefined;
  const names: unknown = JSON.parse(entry);
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) return undefined;
  return names as string[];
}

/** Loads and verifies the model once; predict calls are queued (one inference per session at a time). */
export async function loadMlpModel(file: string, options: MlpModelOptions = {}): Promise<MlpModel> {
  const { bytes, sha256 } = await readVerifiedModel(file, options.manifestPath ?? DEFAULT_MANIFEST_PATH);
  const metadata = modelMetadata(bytes);
  const inputNames = metadataInputNames(metadata);
  const inputName = options.inputName ?? MLP_INPUT;
  const outputName = options.outputName ?? MLP_OUTPUT;
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  let queue: Promise<unknown> = Promise.resolve();

  const predict = (rows: Float32Array, n: number, f: number): Promise<Float32Array> => {
    if (!Number.isInteger(n) || !Number.isInteger(f) || n < 1 || f < 1 || rows.length !== n * f) {
      return Promise.reject(
        new IrisgateError('invalid_argument', `expected ${n} x ${f} feature values, got ${rows.length}`),
      );
    }
    if (inputNames && inputNames.length !== f) {
      return Promise.reject(
        new IrisgateError('invalid_argument', `the model takes ${inputNames.length} features, got ${f}`),
      );
    }
    const feeds = { [inputName]: new ort.Tensor('float32', rows, [n, f]) };
    const result = queue.then(async () => {
      const out = await session.run(feeds);
      const data = out[outputName]?.data;
      if (!(data instanceof Float32Array) || data.length !== n) {
        throw new IrisgateError('internal_error', 'the MLP model returned unexpected outputs');
      }
      return data;
    });
    queue = result.catch(() => undefined);
    return result;
  };

  return {
    sha256,
    ...(inputNames ? { inputNames } : {}),
    metadata,
    predict,
    release: () => session.release(),
  };
}

/** Refuses a model whose recorded feature names are not the ones this code computes, in this order. */
export function assertInputNames(model: MlpModel, file: string, expected: readonly string[]): void {
  const names = model.inputNames ?? [];
  if (names.length !== expected.length || names.some((n, i) => n !== expected[i])) {
    throw new IrisgateError(
      'model_hash_mismatch',
      `${file} was trained on other features than this code computes (retrain with npm run train:pad)`,
    );
  }
}
