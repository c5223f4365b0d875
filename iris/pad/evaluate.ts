/**
 * Scores presentation-attack images with the PAD detector (iris/pad/detector.ts) and evaluates a
 * `pad synth` set: every image scored in a pool of worker threads (each with its own detector), results in
 * manifest order whatever the scheduling, then the ISO/IEC 30107-3 figures of iris/pad/metrics.ts.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { type ErrorCode, IrisgateError } from '../../protocol/errors.ts';
import { mapInWorkers } from '../../protocol/task-pool.ts';
import { readGreyImage } from '../image-input.ts';
import type { GreyImage } from '../types.ts';
import { createPadDetector, type PadAssessment, type PadDetector } from './detector.ts';
import { BONA_FIDE_LABEL, type PadReport, type PadSample, summarizePad } from './metrics.ts';

/** The task module each worker thread runs (protocol/task-pool.ts): its own detector, one image per input. */
const SCORE_TASK = new URL('./score-task.ts', import.meta.url);

/** One image's result: the detector's assessment, or why the image could not be read. */
export type PadScoreOutcome =
  | ({ ok: true } & PadAssessment)
  | { ok: false; error: { code: ErrorCode; message: string } };

/**
 * Reads one image file and assesses it. An image that cannot be read or decoded (image-input.ts codes:
 * unreadable_image, unsupported_image_format, wrong_image_size, image_too_large) is an outcome with its
 * error; any other failure is thrown.
 */
export async function scoreImageFile(detector: PadDetector, file: string): Promise<PadScoreOutcome> {
  let image: GreyImage;
  try {
    image = await readGreyImage(file);
  } catch (error) {
    if (error instanceof IrisgateError) return { ok: false, error: error.toJSON() };
    throw error;
  }
  return { ok: true, ...(await detector.assess(image)) };
}

/** The parts of a `pad synth` manifest.json the evaluation reads. */
interface PadSetManifest {
  seed?: unknown;
  parameters?: { attacks?: unknown };
  entries: { file: string; label: string }[];
}

async function readPadManifest(dir: string): Promise<PadSetManifest> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `${dir} has no readable manifest.json`, { cause });
  }
  const entries = (manifest as { entries?: unknown } | null)?.entries;
  if (
    !Array.isArray(entries) ||
    entries.length === 0 ||
    !entries.every(
      (e) => typeof e?.file === 'string' && typeof e?.label === 'string' && e.file !== '' && e.label !== '',
    )
  ) {
    throw new IrisgateError(
      'invalid_argument',
      `${dir}/manifest.json is not a pad set manifest: it needs entries with "file" and "label"`,
    );
  }
  return manifest as PadSetManifest;
}

export interface PadEvaluationReport extends PadReport {
  /** The set's directory (absolute) and the seed its manifest records. */
  dir: string;
  seed: unknown;
  images: number;
  /** Presentations per label: 'live' first, then the attack types in manifest order. */
  presentations: Record<string, number>;
  /** The detector's own operating threshold (`threshold` differs when one was asked for). */
  detectorThreshold: number;
  modelSha256: string;
  workers: number;
  /** How often the detector gave each reason, per label. */
  reasons: Record<string, Record<string, number>>;
  seconds: number;
}

export interface PadEvaluationOptions {
  /** Worker threads (default: os.availableParallelism(), at most one per image). */
  workers?: number;
  /** The threshold APCER and BPCER are measured at (default: the detector's operating threshold). */
  threshold?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Scores every image of a `pad synth` set (DIR/manifest.json: entries with "file" and "label", 'live' or
 * an attack type) and measures APCER per type and BPCER at the threshold (default: the detector's
 * operating threshold), BPCER20 and BPCER100. An image that cannot be read fails the evaluation.
 */
export async function evaluatePadSet(
  dir: string,
  options: PadEvaluationOptions = {},
): Promise<PadEvaluationReport> {
  const root = resolve(dir);
  const manifest = await readPadManifest(root);
  const { entries } = manifest;
  const started = performance.now();
  // The detector loads here first: a model that fails its manifest check fails with its own code, and the
  // report gives the threshold and model hash every worker's detector has.
  const detector = await createPadDetector();
  const { threshold: detectorThreshold, modelSha256 } = detector;
  await detector.release();
  const workers = Math.max(1, Math.min(entries.length, options.workers ?? availableParallelism()));
  const outcomes = await mapInWorkers<string, PadScoreOutcome>(
    SCORE_TASK,
    entries.map((e) => join(root, e.file)),
    { workers, ...(options.onProgress ? { onProgress: options.onProgress } : {}) },
  );
  const samples: PadSample[] = [];
  const presentations: Record<string, number> = { [BONA_FIDE_LABEL]: 0 };
  const reasons: Record<string, Record<string, number>> = { [BONA_FIDE_LABEL]: {} };
  for (const [i, outcome] of outcomes.entries()) {
    const { file, label } = entries[i] as PadSetManifest['entries'][number];
    if (!outcome.ok) throw new IrisgateError(outcome.error.code, `${file}: ${outcome.error.message}`);
    if (!Number.isFinite(outcome.score) || outcome.score < 0 || outcome.score > 1)
      throw new IrisgateError(
        'internal_error',
        `${file}: the detector scored ${outcome.score}, not in [0, 1]`,
      );
    samples.push({ label, score: outcome.score });
    presentations[label] = (presentations[label] ?? 0) + 1;
    reasons[label] ??= {};
    const counts = reasons[label];
    for (const reason of outcome.reasons) counts[reason] = (counts[reason] ?? 0) + 1;
  }
  const declared = manifest.parameters?.attacks;
  const types = Array.isArray(declared) ? declared.filter((t): t is string => typeof t === 'string') : [];
  const threshold = options.threshold ?? detectorThreshold;
  return {
    dir: root,
    seed: manifest.seed ?? null,
    images: entries.length,
    presentations,
    detectorThreshold,
    modelSha256,
    workers,
    ...summarizePad(samples, threshold, types),
    reasons,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
