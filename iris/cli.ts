/**
 * `irisgate iris`: synthesise eye images, encode images to open-iris templates, match two templates,
 * and evaluate the pipeline on a synthetic set.
 */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { IrisgateError } from '../protocol/errors.ts';
import type { IrisCode } from '../protocol/iris-code-layout.ts';
import { decodeIrisTemplate } from '../protocol/iris-template.ts';
import { matchIrisCodes } from './matcher.ts';

/** A template file: the wire template itself, or an `iris encode` result holding one under "template". */
async function readTemplateFile(path: string): Promise<IrisCode> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `${path} is not a readable JSON file`, { cause });
  }
  const template = typeof json === 'object' && json !== null && 'template' in json ? json.template : json;
  return decodeIrisTemplate(template);
}

function matchCommand(): Command {
  return new Command('match')
    .description('compare two templates: open-iris normalised distance, raw distance, best rotation, common bits')
    .argument('<a.json>', 'template (open-iris wire format, or an `iris encode` result)')
    .argument('<b.json>', 'template to compare with; its columns stay fixed, a.json is rotated')
    .action(async (a: string, b: string) => {
      const result = matchIrisCodes(await readTemplateFile(a), await readTemplateFile(b));
      const { hd, hdRaw, rotation, commonBits } = result;
      process.stdout.write(`${JSON.stringify({ hd, hdRaw, rotation, commonBits })}\n`);
    });
}

export function irisCommand(): Command {
  return new Command('iris')
    .description('the iris pipeline: synthetic eyes, encoding to templates, matching, evaluation')
    .addCommand(matchCommand());
}
