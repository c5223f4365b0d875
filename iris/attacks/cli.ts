/**
 * `irisgate pad`: presentation-attack detection. `pad synth` writes a live + attack data set (PNGs and
 * manifest.json), deterministic by seed:
 *
 *   irisgate pad synth --out pad --identities 50 --sessions 2 --attacks print,screen,patch-random --seed 1
 */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { startProgress } from '../progress.ts';
import { countByLabel, generatePadSet } from './pad-set.ts';
import { ATTACK_KINDS, type AttackKind, isAttackKind } from './render-attack.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function attackList(value: string): AttackKind[] {
  if (value.trim() === 'all') return [...ATTACK_KINDS];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.filter((n) => !isAttackKind(n));
  if (unknown.length > 0)
    throw new InvalidArgumentError(
      `unknown attack kind ${unknown.join(', ')} (known: ${ATTACK_KINDS.join(', ')})`,
    );
  return [...new Set(names as AttackKind[])];
}

interface PadSynthOptions {
  out: string;
  identities: number;
  sessions: number;
  attacks: AttackKind[];
  seed: string;
  labels: boolean;
  json: boolean;
}

function synthCommand(): Command {
  return new Command('synth')
    .description(
      'Generate live and presentation-attack NIR eye images with ground truth (deterministic by seed): ' +
        'per identity and session the live capture and one capture per attack kind',
    )
    .requiredOption('--out <dir>', 'output directory')
    .option('--identities <n>', 'number of identities', positiveInt, 50)
    .option('--sessions <n>', 'captures per identity', positiveInt, 2)
    .addOption(
      new Option('--attacks <kinds>', `comma-separated attack kinds, or all: ${ATTACK_KINDS.join(', ')}`)
        .argParser(attackList)
        .default([...ATTACK_KINDS], 'all'),
    )
    .option(
      '--seed <seed>',
      'seed (an integer or any text); the same as `iris synth` gives the same live images',
      '1',
    )
    .option('--labels', 'also write per-pixel label PNGs (6 = patch)', false)
    .option('--json', 'print the summary as JSON', false)
    .action(async (options: PadSynthOptions) => {
      const seed =
        /^\d+$/.test(options.seed) && Number(options.seed) < 2 ** 32 ? Number(options.seed) : options.seed;
      const out = resolve(options.out);
      const started = performance.now();
      const progress = startProgress(
        'pad synth',
        options.identities * options.sessions * (1 + options.attacks.length),
      );
      const manifest = await generatePadSet({
        out,
        identities: options.identities,
        sessions: options.sessions,
        attacks: options.attacks,
        seed,
        labels: options.labels,
        onProgress: (done) => progress.update(done),
      });
      progress.stop();
      const seconds = Math.round(((performance.now() - started) / 1000) * 10) / 10;
      const summary = {
        out,
        images: manifest.entries.length,
        byLabel: countByLabel(manifest.entries),
        seed,
        seconds,
      };
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else
        process.stderr.write(
          `wrote ${summary.images} images (${Object.entries(summary.byLabel)
            .map(([label, n]) => `${n} ${label}`)
            .join(', ')}) and manifest.json to ${out} in ${seconds} s\n`,
        );
    });
}

export function padCommand(): Command {
  return new Command('pad')
    .description('presentation-attack detection: synthetic live and attack captures')
    .addCommand(synthCommand());
}
