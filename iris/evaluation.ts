/**
 * Evaluates the pipeline on a synthetic set (irisgate iris synth): encodes every image, matches every
 * pair of enrolled templates by raw fractional Hamming distance over 31 rotations (as iris-mpc does), and
 * reports failure-to-enrol, the genuine and impostor distributions, FNMR at fixed FMRs (measured where the
 * impostor pairs suffice, binomially extrapolated beyond) and the rates at the uniqueness threshold, with
 * the segmentation's error against the ground truth.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IrisgateError } from '../protocol/errors.ts';
import {
  type DistributionSummary,
  degreesOfFreedom,
  extrapolatedThresholdAtFmr,
  rateAbove,
  rateAtOrBelow,
  summarise,
  thresholdAtFmr,
} from './evaluation-stats.ts';
import { readGreyImage } from './image-input.ts';
import { IrisGallery, packIrisCode } from './matcher.ts';
import type { IrisPipeline } from './pipeline.ts';
import type { SyntheticManifest } from './synth/generate.ts';

/** iris-mpc's uniqueness threshold on the raw fractional Hamming distance. */
export const UNIQUENESS_THRESHOLD = 0.345;
const MEASURED_FMRS = [1e-3, 1e-4];
const EXTRAPOLATED_FMR = 1e-6;

export interface EvaluationReport {
  dir: string;
  seed: SyntheticManifest['seed'];
  images: number;
  enrolled: number;
  failureToEnrol: { rate: number; byCode: Record<string, number> };
  genuine: DistributionSummary;
  impostor: DistributionSummary & { degreesOfFreedom: number };
  atThreshold: { threshold: number; fnmr: number; falseMatches: number; fmr: number };
  fnmrAtFmr: { fmr: number; threshold: number | null; fnmr: number | null; extrapolated: boolean }[];
  geometry: {
    pupilCentreErrorPx: DistributionSummary;
    irisCentreErrorPx: DistributionSummary;
    irisRadiusErrorPx: DistributionSummary;
  };
  msPerImage: number;
}

export interface EvaluationProgress {
  encoded(done: number, total: number): void;
  matched(done: number, total: number): void;
}

async function readManifest(dir: string): Promise<SyntheticManifest> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as SyntheticManifest;
    if (!Array.isArray(manifest.entries)) throw new Error('no entries');
    return manifest;
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `${dir} has no readable synthetic-set manifest.json`, {
      cause,
    });
  }
}

export async function evaluateSyntheticSet(
  dir: string,
  pipeline: IrisPipeline,
  progress?: EvaluationProgress,
): Promise<EvaluationReport> {
  const manifest = await readManifest(dir);
  const gallery = new IrisGallery({ capacity: manifest.entries.length });
  const identities: number[] = [];
  const failures: Record<string, number> = {};
  const pupilErrors: number[] = [];
  const irisErrors: number[] = [];
  const radiusErrors: number[] = [];
  let encodeMs = 0;
  for (const [i, entry] of manifest.entries.entries()) {
    const image = await readGreyImage(join(dir, entry.file));
    const start = performance.now();
    try {
      const eye = await pipeline.encode(image);
      gallery.add(packIrisCode(eye.code));
      identities.push(entry.identity);
      pupilErrors.push(
        Math.hypot(eye.geometry.pupil.x - entry.pupil.x, eye.geometry.pupil.y - entry.pupil.y),
      );
      irisErrors.push(Math.hypot(eye.geometry.iris.x - entry.iris.x, eye.geometry.iris.y - entry.iris.y));
      radiusErrors.push(Math.abs(eye.geometry.iris.r - entry.iris.r));
    } catch (error) {
      if (!(error instanceof IrisgateError)) throw error;
      failures[error.code] = (failures[error.code] ?? 0) + 1;
    }
    encodeMs += performance.now() - start;
    progress?.encoded(i + 1, manifest.entries.length);
  }

  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let probe = 0; probe < gallery.size; probe++) {
    for (const hit of gallery.search(gallery.get(probe))) {
      if (hit.index <= probe) continue;
      (identities[hit.index] === identities[probe] ? genuine : impostor).push(hit.hdRaw);
    }
    progress?.matched(probe + 1, gallery.size);
  }

  const impostorSummary = summarise(impostor);
  const fnmrAtFmr = MEASURED_FMRS.map((fmr) => {
    const threshold = thresholdAtFmr(impostor, fmr);
    return {
      fmr,
      threshold: threshold ?? null,
      fnmr: threshold === undefined ? null : rateAbove(genuine, threshold),
      extrapolated: false,
    };
  });
  const extrapolated = extrapolatedThresholdAtFmr(impostorSummary, EXTRAPOLATED_FMR);
  fnmrAtFmr.push({
    fmr: EXTRAPOLATED_FMR,
    threshold: extrapolated,
    fnmr: rateAbove(genuine, extrapolated),
    extrapolated: true,
  });
  const falseMatches = impostor.filter((d) => d <= UNIQUENESS_THRESHOLD).length;
  return {
    dir,
    seed: manifest.seed,
    images: manifest.entries.length,
    enrolled: gallery.size,
    failureToEnrol: { rate: 1 - gallery.size / manifest.entries.length, byCode: failures },
    genuine: summarise(genuine),
    impostor: { ...impostorSummary, degreesOfFreedom: degreesOfFreedom(impostorSummary) },
    atThreshold: {
      threshold: UNIQUENESS_THRESHOLD,
      fnmr: rateAbove(genuine, UNIQUENESS_THRESHOLD),
      falseMatches,
      fmr: rateAtOrBelow(impostor, UNIQUENESS_THRESHOLD),
    },
    fnmrAtFmr,
    geometry: {
      pupilCentreErrorPx: summarise(pupilErrors),
      irisCentreErrorPx: summarise(irisErrors),
      irisRadiusErrorPx: summarise(radiusErrors),
    },
    msPerImage: encodeMs / manifest.entries.length,
  };
}
