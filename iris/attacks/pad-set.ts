/**
 * A presentation-attack data set: for every identity and session the live capture and one capture per
 * attack kind, as 640 x 480 8-bit grey PNGs with manifest.json (one AttackTruth per file: its label, 'live'
 * or the attack kind, identity, session, and for patches the covered share of the visible iris).
 *
 * The identities and sessions are those of `irisgate iris synth` with the same seed, so the live images are
 * byte-identical to that set's; an attack of session s is captured by the same camera settings as the live
 * image of session s. Attack instances are drawn from (seed, identity, session), so a file does not depend
 * on how many others are generated.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONVENTIONS, generateIrisTexture, identityOf, sessionOf, writeGreyPng } from '../synth/generate.ts';
import { hashSeed, type Seed } from '../synth/random.ts';
import { IMAGE_HEIGHT, IMAGE_WIDTH } from '../synth/sample.ts';
import {
  type AttackCapture,
  type AttackKind,
  type AttackTruth,
  type PresentationLabel,
  renderAttack,
  renderLive,
} from './render-attack.ts';

export const PAD_MANIFEST_VERSION = 1;

export interface PadSetOptions {
  out: string;
  identities: number;
  sessions: number;
  /** The attack kinds to render for every capture (in this order, after the live image). */
  attacks: readonly AttackKind[];
  seed: Seed;
  /** Also write each image's label map as `<name>.labels.png` (values: LABEL, 6 = patch). */
  labels?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface PadManifest {
  version: number;
  generator: string;
  seed: Seed;
  parameters: {
    identities: number;
    sessions: number;
    attacks: AttackKind[];
    width: number;
    height: number;
    labels: boolean;
    conventions: Record<string, string>;
  };
  entries: AttackTruth[];
}

export const PAD_CONVENTIONS: Record<string, string> = {
  ...CONVENTIONS,
  labels: 'label PNGs: 0 skin, 1 sclera, 2 iris, 3 pupil, 4 eyelash, 5 specular, 6 patch',
  label:
    "'live' or the attack kind: print, screen, lens, prosthetic, patch-random, patch-other-iris, patch-printed",
  patchFraction:
    'patches: share of the visible annulus (pixel centres between the lids) under the patch, measured on the render; patch.targetFraction is the share asked for',
  recaptures:
    'print and screen: the geometry fields describe the depicted eye as the camera sees it (an earlier capture, moved by the placement)',
  pupilReflex: 'whether the eye in front of the camera can constrict to light',
};

/** The seed of the attack of one capture. */
export function attackSeedOf(seed: Seed, identity: number, session: number): number {
  return hashSeed(seed, 'pad', identity, session);
}

/** Renders and writes the set; returns (and writes) the manifest. */
export async function generatePadSet(options: PadSetOptions): Promise<PadManifest> {
  const { out, identities, sessions, attacks, seed } = options;
  await mkdir(out, { recursive: true });
  const total = identities * sessions * (1 + attacks.length);
  const entries: AttackTruth[] = [];
  const pending = new Set<Promise<void>>();
  let done = 0;
  const write = async (capture: AttackCapture) => {
    const file = join(out, capture.truth.file);
    const writes = [writeGreyPng(file, capture.image)];
    if (options.labels) writes.push(writeGreyPng(file.replace(/\.png$/, '.labels.png'), capture.labels));
    const tracked = Promise.all(writes).then(() => {
      pending.delete(tracked);
      done++;
      options.onProgress?.(done, total);
    });
    pending.add(tracked);
    while (pending.size >= 4) await Promise.race(pending);
  };
  for (let id = 0; id < identities; id++) {
    const identity = identityOf(seed, id);
    const texture = generateIrisTexture(identity.textureSeed);
    for (let s = 0; s < sessions; s++) {
      const session = sessionOf(seed, identity, s);
      const live = renderLive(identity, session, texture);
      entries.push(live.truth);
      await write(live);
      const attackSeed = attackSeedOf(seed, id, s);
      for (const kind of attacks) {
        // An impersonation patch shows another enrolled person's iris, when the set has one.
        const donor =
          kind === 'patch-other-iris' && identities > 1
            ? identityOf(seed, (id + 1 + (attackSeed % (identities - 1))) % identities)
            : undefined;
        const attack = renderAttack({
          kind,
          identity,
          session,
          seed: attackSeed,
          texture,
          ...(donor ? { donor } : {}),
        });
        entries.push(attack.truth);
        await write(attack);
      }
    }
  }
  await Promise.all(pending);
  const manifest: PadManifest = {
    version: PAD_MANIFEST_VERSION,
    generator: 'irisgate-pad-synth',
    seed,
    parameters: {
      identities,
      sessions,
      attacks: [...attacks],
      width: IMAGE_WIDTH,
      height: IMAGE_HEIGHT,
      labels: options.labels ?? false,
      conventions: PAD_CONVENTIONS,
    },
    entries,
  };
  await writeFile(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

/** How many entries of each label a manifest holds. */
export function countByLabel(entries: readonly AttackTruth[]): Partial<Record<PresentationLabel, number>> {
  const counts: Partial<Record<PresentationLabel, number>> = {};
  for (const e of entries) counts[e.label] = (counts[e.label] ?? 0) + 1;
  return counts;
}
