/**
 * `irisgate iris`: synthesise eye images, encode images to open-iris templates, match two templates,
 * and evaluate the pipeline on a synthetic set.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { IrisgateError } from '../protocol/errors.ts';
import type { IrisCode } from '../protocol/iris-code-layout.ts';
import { decodeIrisTemplate, encodeIrisTemplate } from '../protocol/iris-template.ts';
import { type EvaluationReport, evaluateSyntheticSet } from './evaluation.ts';
import { readGreyImage } from './image-input.ts';
import { matchIrisCodes } from './matcher.ts';
import { createIrisPipeline, type IrisPipeline } from './pipeline.ts';
import { type Progress, startProgress } from './progress.ts';
import { synthCommand } from './synth/cli.ts';
import type { Circle } from './types.ts';

/**
 * A template file: the wire template itself, an `iris encode` result holding one under "template", or
 * `iris encode` output of a single image (a one-element array).
 */
async function readTemplateFile(path: string): Promise<IrisCode> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `${path} is not a readable JSON file`, { cause });
  }
  const result = Array.isArray(json) && json.length === 1 ? json[0] : json;
  const template =
    typeof result === 'object' && result !== null && 'template' in result ? result.template : result;
  return decodeIrisTemplate(template);
}

/** One `iris encode` result, with the field names programs read. */
async function encodeFile(pipeline: IrisPipeline, file: string): Promise<Record<string, unknown>> {
  try {
    const eye = await pipeline.encode(await readGreyImage(file));
    const { failures, passed, ...quality } = eye.quality;
    return {
      file,
      template: encodeIrisTemplate(eye.code),
      geometry: { pupil: roundCircle(eye.geometry.pupil), iris: roundCircle(eye.geometry.iris) },
      quality,
    };
  } catch (error) {
    if (!(error instanceof IrisgateError)) throw error;
    return { file, error: error.toJSON() };
  }
}

function roundCircle({ x, y, r }: Circle): Circle {
  const round = (v: number) => Math.round(v * 100) / 100;
  return { x: round(x), y: round(y), r: round(r) };
}

function encodeCommand(): Command {
  return new Command('encode')
    .description('encode near-infrared eye images (640x480 PNG/JPEG) to open-iris templates')
    .argument('<image...>', 'image files')
    .option('--jsonl', 'one compact JSON object per line (default: a pretty JSON array)', false)
    .action(async (files: string[], options: { jsonl: boolean }) => {
      const pipeline = await createIrisPipeline();
      try {
        const results: Record<string, unknown>[] = [];
        for (const file of files) {
          const result = await encodeFile(pipeline, file);
          if (options.jsonl) process.stdout.write(`${JSON.stringify(result)}\n`);
          else results.push(result);
        }
        if (!options.jsonl) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      } finally {
        await pipeline.release();
      }
    });
}

function matchCommand(): Command {
  return new Command('match')
    .description(
      'compare two templates: open-iris normalised distance, raw distance, best rotation, common bits',
    )
    .argument('<a.json>', 'template (open-iris wire format, or an `iris encode` result)')
    .argument('<b.json>', 'template to compare with; its columns stay fixed, a.json is rotated')
    .action(async (a: string, b: string) => {
      const result = matchIrisCodes(await readTemplateFile(a), await readTemplateFile(b));
      const { hd, hdRaw, rotation, commonBits } = result;
      process.stdout.write(`${JSON.stringify({ hd, hdRaw, rotation, commonBits })}\n`);
    });
}

function formatReport(r: EvaluationReport): string {
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(2)}%`);
  const dist = (d: { count: number; mean: number; std: number; min: number; max: number }) =>
    `n=${d.count} mean=${d.mean.toFixed(4)} std=${d.std.toFixed(4)} min=${d.min.toFixed(4)} max=${d.max.toFixed(4)}`;
  const px = (d: { mean: number; max: number }) => `mean ${d.mean.toFixed(2)} px, max ${d.max.toFixed(2)} px`;
  return [
    `synthetic set ${r.dir} (seed ${r.seed}): ${r.images} images, ${r.enrolled} enrolled, ${r.msPerImage.toFixed(1)} ms/image`,
    `failure to enrol: ${pct(r.failureToEnrol.rate)} ${JSON.stringify(r.failureToEnrol.byCode)}`,
    `genuine  raw FHD: ${dist(r.genuine)}`,
    `impostor raw FHD: ${dist(r.impostor)} dof=${r.impostor.degreesOfFreedom.toFixed(0)}`,
    `at raw FHD ${r.atThreshold.threshold}: FNMR ${pct(r.atThreshold.fnmr)}, false matches ${r.atThreshold.falseMatches} (FMR ${r.atThreshold.fmr.toExponential(2)})`,
    ...r.fnmrAtFmr.map(
      (f) =>
        `FNMR at FMR ${f.fmr.toExponential(0)}: ${pct(f.fnmr)} (threshold ${f.threshold === null ? 'n/a: too few impostor pairs' : f.threshold.toFixed(4)}${f.extrapolated ? ', extrapolated from the binomial fitted to the impostors' : ', measured'})`,
    ),
    `segmentation vs truth: pupil centre ${px(r.geometry.pupilCentreErrorPx)}; iris centre ${px(r.geometry.irisCentreErrorPx)}; iris radius ${px(r.geometry.irisRadiusErrorPx)}`,
  ].join('\n');
}

function evalCommand(): Command {
  return new Command('eval')
    .description('evaluate the pipeline on a synthetic set: FTE, genuine/impostor distributions, FNMR at FMR')
    .requiredOption('--dir <dir>', 'a set written by `irisgate iris synth`')
    .option('--json', 'print the report as JSON', false)
    .action(async (options: { dir: string; json: boolean }) => {
      const pipeline = await createIrisPipeline();
      let encoding: Progress | undefined;
      let matching: Progress | undefined;
      try {
        const report = await evaluateSyntheticSet(resolve(options.dir), pipeline, {
          encoded(done, total) {
            encoding ??= startProgress('encode', total);
            encoding.update(done);
            if (done === total) encoding.stop();
          },
          matched(done, total) {
            matching ??= startProgress('match', total);
            matching.update(done);
            if (done === total) matching.stop();
          },
        });
        process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
      } finally {
        await pipeline.release();
      }
    });
}

export function irisCommand(): Command {
  return new Command('iris')
    .description('the iris pipeline: synthetic eyes, encoding to templates, matching, evaluation')
    .addCommand(synthCommand())
    .addCommand(encodeCommand())
    .addCommand(matchCommand())
    .addCommand(evalCommand());
}
