/**
 * Time per 640 x 480 frame through the iris pipeline: p50 and p95 per stage (segmentation,
 * normalisation, quality gates, patch mask, encoding) and in total, over synthetic frames of a fixed seed and
 * open-iris's sample eye. The encoding stage is also run through the plain-TypeScript reference filter
 * bank in the same process, the baseline the ONNX model is compared with. Anchor: open-iris takes about
 * 380 ms per frame on a desktop CPU (193 ms for segmentation alone).
 *
 *   npm run bench -- iris             table on stdout, progress on stderr
 *   npm run -s bench -- iris --json   one JSON object on stdout instead
 */

import { fileURLToPath } from 'node:url';
import { encodeResponses } from '../iris/encoder.ts';
import { readGreyImage } from '../iris/image-input.ts';
import { normalizeIris } from '../iris/normalization.ts';
import { createIrisPipeline, type EncodedEye } from '../iris/pipeline.ts';
import { segmentEye } from '../iris/segmentation/index.ts';
import { generateEye, identityOf, sessionOf } from '../iris/synth/generate.ts';
import type { GreyImage } from '../iris/types.ts';
import { referenceFilterBank } from '../models/iris-code/gabor.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { percentile } from './report.ts';

const SEED = 'bench-iris';
const SYNTHETIC_FRAMES = 40;
const REPEATS = 3;
const SAMPLE_EYE = fileURLToPath(new URL('../../shared/external/open-iris/sample-eye.png', import.meta.url));
const STAGES = ['segmentation', 'normalization', 'quality', 'patch', 'encoding', 'total'] as const;

async function frames(): Promise<{ name: string; image: GreyImage }[]> {
  const list = [{ name: 'open-iris sample', image: await readGreyImage(SAMPLE_EYE) }];
  for (let i = 0; i < SYNTHETIC_FRAMES; i++) {
    const identity = identityOf(SEED, i);
    list.push({
      name: `synthetic ${i}`,
      image: generateEye({ identity, session: sessionOf(SEED, identity, 0) }).image,
    });
  }
  return list;
}

export async function run({ json }: { json: boolean }): Promise<void> {
  console.error('iris: generating frames');
  const inputs = await frames();
  const pipeline = await createIrisPipeline();
  const timings: EncodedEye['timings'][] = [];
  const refused = new Map<string, number>();
  const referenceMs: number[] = [];
  try {
    console.error(`iris: ${inputs.length} frames x ${REPEATS}`);
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (const { image } of inputs) {
        try {
          timings.push((await pipeline.encode(image)).timings);
        } catch (error) {
          if (!(error instanceof IrisgateError)) throw error;
          if (repeat === 0) refused.set(error.code, (refused.get(error.code) ?? 0) + 1);
        }
      }
    }
    console.error('iris: reference (plain TypeScript) filter bank');
    const sample = inputs[0]?.image as GreyImage;
    const normalized = normalizeIris(sample, segmentEye(sample));
    for (let i = 0; i < 10; i++) {
      const start = performance.now();
      encodeResponses(referenceFilterBank(normalized));
      referenceMs.push(performance.now() - start);
    }
  } finally {
    await pipeline.release();
  }
  const stages = Object.fromEntries(
    STAGES.map((stage) => {
      const values = timings.map((t) => t[stage]);
      return [stage, { p50Ms: percentile(values, 0.5), p95Ms: percentile(values, 0.95) }];
    }),
  ) as Record<(typeof STAGES)[number], { p50Ms: number; p95Ms: number }>;
  const reference = { p50Ms: percentile(referenceMs, 0.5) };
  const report = {
    benchmark: 'iris',
    frames: inputs.length,
    encodedRuns: timings.length,
    refused: Object.fromEntries(refused),
    stages,
    encodingReferenceTs: reference,
    encodingSpeedupVsReference: reference.p50Ms / stages.encoding.p50Ms,
  };
  if (json) {
    console.log(JSON.stringify(report));
    return;
  }
  const rows = STAGES.map(
    (stage) =>
      `${stage.padEnd(34)}${stages[stage].p50Ms.toFixed(2).padStart(9)}${stages[stage].p95Ms.toFixed(2).padStart(9)}`,
  );
  console.log(
    [
      `iris pipeline, ${inputs.length} frames (open-iris sample + ${SYNTHETIC_FRAMES} synthetic) x ${REPEATS}, one thread`,
      `refused on the first pass: ${refused.size ? JSON.stringify(report.refused) : 'none'}`,
      '',
      `${'stage'.padEnd(34)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}`,
      ...rows,
      `${'encoding, plain-TS reference'.padEnd(34)}${reference.p50Ms.toFixed(2).padStart(9)}${''.padStart(9)}`,
      `ONNX encoding vs reference: ${report.encodingSpeedupVsReference.toFixed(1)}x faster`,
    ].join('\n'),
  );
}
