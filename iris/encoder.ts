/**
 * The iris encoder: rubber-sheet image -> iris code, as open-iris 1.11.0 does it (filter_bank ->
 * iris_response_refinement -> encoder in pipeline.yaml). The filter bank runs as models/iris-code.onnx in
 * onnxruntime-web; fragile-bit masking and binarisation run here, on the graph's responses.
 *
 *   code bit  = response > 0                                      (real and imaginary part of each filter)
 *   mask bit  = mask response >= 0.93 and the bit is not fragile, where (FragileBitRefinement, 'polar'):
 *               not fragile = 0.0001 <= |z| <= 0.275 and, for the real bit, |sin(arg z)| <= cos(0.0873)
 *               (phase not within 5 degrees of the imaginary axis), for the imaginary bit
 *               |cos(arg z)| <= cos(0.0873) (not within 5 degrees of the real axis)
 *   A response that is exactly 0 (real and imaginary) has mask response 0 (open-iris ConvFilterBank).
 *
 * The model file is checked against models/manifest.json before it is loaded (model-file.ts).
 */
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import {
  INPUT_IMAGE,
  INPUT_MASK,
  IRIS_CODE_MODEL_FILE,
  OUTPUT_MASK_RESPONSE,
  OUTPUT_RESPONSE,
} from '../models/iris-code/build-onnx.ts';
import {
  type FilterBankResponses,
  FRAGILE_MAX_MAGNITUDE,
  FRAGILE_MIN_ANGLE,
  FRAGILE_MIN_MAGNITUDE,
  MASK_THRESHOLD,
} from '../models/iris-code/gabor.ts';
import { IrisgateError } from '../protocol/errors.ts';
import {
  CODE_BITS,
  type IrisCode,
  NORMALIZED_HEIGHT,
  NORMALIZED_WIDTH,
  type NormalizedIris,
} from '../protocol/iris-code-layout.ts';
import { readVerifiedModel } from './model-file.ts';

export const DEFAULT_MODEL_PATH = fileURLToPath(
  new URL(`../models/${IRIS_CODE_MODEL_FILE}`, import.meta.url),
);
export const DEFAULT_MANIFEST_PATH = fileURLToPath(new URL('../models/manifest.json', import.meta.url));

export interface IrisEncoderOptions {
  /** The .onnx file to load; its sha256 must equal the manifest's entry for its file name. */
  modelPath?: string;
  /** The allow-list; defaults to models/manifest.json. */
  manifestPath?: string;
}

export interface IrisEncoder {
  /** sha256 (hex) of the loaded model file. */
  readonly modelSha256: string;
  /** The iris code of one rubber-sheet image. */
  encode(normalized: NormalizedIris): Promise<IrisCode>;
  /** The filter bank's outputs before binarisation (iris-code order). */
  filterResponses(normalized: NormalizedIris): Promise<FilterBankResponses>;
  /** Frees the onnxruntime session. */
  release(): Promise<void>;
}

/** Fragile-bit refinement and binarisation of filter responses (pure; the encoder's last step). */
export function encodeResponses({ response, maskResponse }: FilterBankResponses): IrisCode {
  if (response.length !== CODE_BITS || maskResponse.length !== CODE_BITS) {
    throw new IrisgateError('invalid_argument', `filter responses must hold ${CODE_BITS} values each`);
  }
  const code = new Uint8Array(CODE_BITS);
  const mask = new Uint8Array(CODE_BITS);
  const maxAxisCos = Math.abs(Math.cos(FRAGILE_MIN_ANGLE));
  for (let i = 0; i < CODE_BITS; i += 2) {
    const re = response[i] ?? 0;
    const im = response[i + 1] ?? 0;
    code[i] = re > 0 ? 1 : 0;
    code[i + 1] = im > 0 ? 1 : 0;
    if (re === 0 && im === 0) continue;
    const magnitude = Math.hypot(re, im);
    if (!(magnitude >= FRAGILE_MIN_MAGNITUDE && magnitude <= FRAGILE_MAX_MAGNITUDE)) continue;
    // |sin(arg z)| = |im| / |z| and |cos(arg z)| = |re| / |z|.
    if (Math.abs(im) / magnitude <= maxAxisCos && (maskResponse[i] ?? 0) >= MASK_THRESHOLD) mask[i] = 1;
    if (Math.abs(re) / magnitude <= maxAxisCos && (maskResponse[i + 1] ?? 0) >= MASK_THRESHOLD)
      mask[i + 1] = 1;
  }
  return { code, mask };
}

function checkInput(normalized: NormalizedIris): void {
  const size = NORMALIZED_HEIGHT * NORMALIZED_WIDTH;
  if (normalized.pixels.length !== size || normalized.mask.length !== size) {
    throw new IrisgateError(
      'invalid_argument',
      `a normalized iris must hold ${NORMALIZED_HEIGHT} x ${NORMALIZED_WIDTH} pixels and mask values`,
    );
  }
}

/** Loads and verifies the model once; the returned encoder runs one image at a time. */
export async function createIrisEncoder(options: IrisEncoderOptions = {}): Promise<IrisEncoder> {
  const modelPath = options.modelPath ?? DEFAULT_MODEL_PATH;
  const manifestPath = options.manifestPath ?? DEFAULT_MANIFEST_PATH;
  const { bytes, sha256 } = await readVerifiedModel(modelPath, manifestPath);
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const dims = [1, 1, NORMALIZED_HEIGHT, NORMALIZED_WIDTH];
  // onnxruntime-web runs one inference per session at a time: queue calls.
  let queue: Promise<unknown> = Promise.resolve();

  const run = (normalized: NormalizedIris): Promise<FilterBankResponses> => {
    checkInput(normalized);
    const maskPlane = new Float32Array(normalized.mask.length);
    for (let i = 0; i < maskPlane.length; i++) maskPlane[i] = normalized.mask[i] ? 1 : 0;
    const feeds = {
      [INPUT_IMAGE]: new ort.Tensor('float32', normalized.pixels, dims),
      [INPUT_MASK]: new ort.Tensor('float32', maskPlane, dims),
    };
    const result = queue.then(async () => {
      const out = await session.run(feeds);
      const response = out[OUTPUT_RESPONSE]?.data;
      const maskResponse = out[OUTPUT_MASK_RESPONSE]?.data;
      if (!(response instanceof Float32Array) || !(maskResponse instanceof Float32Array)) {
        throw new IrisgateError('internal_error', 'the iris-code model returned unexpected outputs');
      }
      return { response, maskResponse };
    });
    queue = result.catch(() => undefined);
    return result;
  };

  return {
    modelSha256: sha256,
    filterResponses: run,
    encode: async (normalized) => encodeResponses(await run(normalized)),
    release: () => session.release(),
  };
}
