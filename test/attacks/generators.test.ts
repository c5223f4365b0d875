/**
 * The presentation-attack generators (iris/attacks): determinism by seed, the renderer's hook leaving live
 * captures untouched, patch areas and placement measured on the result, the same lens pattern on every
 * wearer, prints and screens captured again by the camera (its own noise), and `irisgate pad synth`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import type { PadManifest } from '../../iris/attacks/pad-set.ts';
import {
  ATTACK_KINDS,
  type AttackCapture,
  type AttackKind,
  type AttackParams,
  renderAttack,
  renderLive,
} from '../../iris/attacks/render-attack.ts';
import { generateEye, identityOf, LABEL, sessionOf } from '../../iris/synth/generate.ts';
import { computeGeometry } from '../../iris/synth/geometry.ts';
import type { IdentityParams, SessionParams } from '../../iris/synth/types.ts';
import { irisgateOk, runIrisgate } from '../support/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'irisgate-attacks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SEED = 'attacks-test';
const W = 640;
const H = 480;

function capture(id: number, session = 0): { identity: IdentityParams; session: SessionParams } {
  const identity = identityOf(SEED, id);
  return { identity, session: sessionOf(SEED, identity, session) };
}

const cache = new Map<string, AttackCapture>();
/** A cached render: kind 'live' or an attack of identity `id`, session 0, with attack seed `seed`. */
function render(kind: AttackKind | 'live', id: number, seed = 'a', extra: Partial<AttackParams> = {}) {
  const key = `${kind}/${id}/${seed}/${JSON.stringify(extra)}`;
  let hit = cache.get(key);
  if (!hit) {
    const { identity, session } = capture(id);
    hit =
      kind === 'live'
        ? renderLive(identity, session)
        : renderAttack({ kind, identity, session, seed, ...extra });
    cache.set(key, hit);
  }
  return hit;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Pixels within `radius` (Chebyshev) of a set pixel. */
function dilate(mask: Uint8Array, radius: number): Uint8Array {
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (!mask[y * W + x]) continue;
      for (let dx = Math.max(0, x - radius); dx <= Math.min(W - 1, x + radius); dx++) rows[y * W + dx] = 1;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (!rows[y * W + x]) continue;
      for (let dy = Math.max(0, y - radius); dy <= Math.min(H - 1, y + radius); dy++) out[dy * W + x] = 1;
    }
  }
  return out;
}

function pearson(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}

function bilinear(data: Uint8Array, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const p = (xx: number, yy: number) => data[yy * W + xx] as number;
  return (
    (p(x0, y0) * (1 - fx) + p(x0 + 1, y0) * fx) * (1 - fy) +
    (p(x0, y0 + 1) * (1 - fx) + p(x0 + 1, y0 + 1) * fx) * fy
  );
}

describe('presentation-attack generators', () => {
  it('leaves the live capture byte-identical to the generator before the hook', () => {
    // sha256 of image, labels and truth of one capture, recorded before the scene hooks were added: change it
    // only when the live generator is changed on purpose.
    const identity = identityOf('base', 0);
    const session = sessionOf('base', identity, 0);
    const eye = generateEye({ identity, session });
    const hash = createHash('sha256')
      .update(eye.image.data)
      .update(eye.labels.data)
      .update(JSON.stringify(eye.truth))
      .digest('hex');
    expect(hash).toBe('4128df5dc4711743b5e611e34faebb1d2268f442371c4208bc47907cb57d3682');
    // An overlay that changes nothing changes no byte either, and reports a covered share of 0.
    const inert = generateEye({ identity, session, overlay: { reach: 1.5, shade() {} } });
    expect(sameBytes(inert.image.data, eye.image.data)).toBe(true);
    expect(sameBytes(inert.labels.data, eye.labels.data)).toBe(true);
    expect(inert.truth.patchFraction).toBe(0);
    expect(eye.truth.patchFraction).toBeUndefined();
  });

  it.each(ATTACK_KINDS)('renders %s deterministically by seed', (kind) => {
    const a = render(kind, 0);
    const { identity, session } = capture(0);
    const again = renderAttack({ kind, identity, session, seed: 'a' });
    expect(sameBytes(again.image.data, a.image.data)).toBe(true);
    expect(sameBytes(again.labels.data, a.labels.data)).toBe(true);
    expect(again.truth).toEqual(a.truth);
    const other = render(kind, 0, 'b');
    expect(sameBytes(other.image.data, a.image.data)).toBe(false);
    // An attack is not the live capture, and says what it is.
    expect(sameBytes(a.image.data, render('live', 0).image.data)).toBe(false);
    expect(a.truth.label).toBe(kind);
    expect(a.truth.file).toBe(`id0000_s0_${kind}.png`);
    expect(a.truth.pupilReflex).toBe(kind === 'lens' || kind.startsWith('patch-'));
    expect(a.image.width * a.image.height).toBe(W * H);
  });

  it('covers the asked share of the visible iris with a patch, measured on the result and in the labels', () => {
    const shapes = ['ellipse', 'blob', 'rectangle', 'arc', 'ellipse'] as const;
    const fractions = [0.05, 0.1, 0.2, 0.3, 0.4];
    let crossing = 0;
    fractions.forEach((fraction, k) => {
      const id = k + 1;
      const patched = render('patch-random', id, `f${k}`, { patchFraction: fraction, patchShape: shapes[k] });
      const live = render('live', id);
      const t = patched.truth;
      expect(t.patch?.targetFraction).toBe(fraction);
      expect(t.patch?.shape).toBe(shapes[k]);
      expect(Math.abs((t.patchFraction as number) - fraction), `${fraction}`).toBeLessThan(0.01);
      // The labels agree: patch pixels over what the live capture shows as iris, against all its iris pixels.
      let iris = 0;
      let covered = 0;
      let beyondLimbus = 0;
      const mask = new Uint8Array(W * H);
      for (let i = 0; i < W * H; i++) {
        const before = live.labels.data[i];
        const after = patched.labels.data[i];
        if (after === LABEL.patch) mask[i] = 1;
        if (before === LABEL.iris) {
          iris++;
          if (after === LABEL.patch) covered++;
        }
        if (before === LABEL.sclera && after === LABEL.patch) beyondLimbus++;
      }
      expect(Math.abs(covered / iris - fraction), `${fraction} from labels`).toBeLessThan(0.02);
      // Where the patch crosses the limbus, its pixels lie on what was sclera.
      if (t.patch?.crossesLimbus) {
        expect(beyondLimbus).toBeGreaterThan(0);
        crossing++;
      }
      // The patch changes the capture only where it is (and within the defocus blur around it): the camera's
      // lighting and noise are the same as the live capture's.
      const near = dilate(mask, 8);
      let changedInside = 0;
      let inside = 0;
      let changedFar = 0;
      for (let i = 0; i < W * H; i++) {
        const a = patched.image.data[i] as number;
        const b = live.image.data[i] as number;
        if (!near[i] && a !== b) changedFar++;
        if (mask[i]) {
          inside++;
          if (Math.abs(a - b) > 2) changedInside++;
        }
      }
      expect(changedFar).toBe(0);
      expect(changedInside / inside).toBeGreaterThan(0.5);
    });
    // Patches reach the outer edge of the iris (and past it).
    expect(crossing).toBeGreaterThanOrEqual(2);
  });

  it('draws patch contents from another iris and from a printed halftone', () => {
    const donor = identityOf(SEED, 7);
    const other = render('patch-other-iris', 2, 'o', { patchFraction: 0.25, donor });
    expect(other.truth.patch).toMatchObject({ content: 'other-iris', donor: { identity: 7 } });
    expect(Math.abs((other.truth.patchFraction as number) - 0.25)).toBeLessThan(0.01);
    const printed = render('patch-printed', 2, 'p', { patchFraction: 0.25 });
    expect(printed.truth.patch?.content).toBe('printed');
    // A halftone is strongly bimodal: paper and ink, with little in between once blurred lightly.
    const values: number[] = [];
    for (let i = 0; i < W * H; i++)
      if (printed.labels.data[i] === LABEL.patch) values.push(printed.image.data[i] as number);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    expect(sd).toBeGreaterThan(20);
  });

  it('puts the same lens pattern over different wearers', () => {
    const lensModel = 3;
    const sheets = [4, 5].map((id) => {
      const { identity, session } = capture(id);
      const lens = render('lens', id, 'w', { lensModel });
      const live = render('live', id);
      const t = lens.truth.lens;
      if (!t) throw new Error('no lens truth');
      expect(lens.truth.patchFraction).toBeUndefined();
      // Sample (lens image - live image) and the live image on the lens's own polar frame.
      const g = computeGeometry(identity, session);
      const psi = (t.rotationDeg * Math.PI) / 180;
      const ri = g.irisRadius;
      const diff: number[] = [];
      const natural: number[] = [];
      const ok: boolean[] = [];
      for (let r = 0; r < 24; r++) {
        const s = t.clearRadius + 0.04 + ((t.outerRadius - t.clearRadius - 0.08) * (r + 0.5)) / 24;
        for (let c = 0; c < 720; c++) {
          const a = (2 * Math.PI * c) / 720 + psi;
          const u = (t.decentration.u + s * Math.cos(a)) * ri;
          const v = (t.decentration.v + s * Math.sin(a)) * ri;
          const fx = u * g.cosRot - v * g.sinRot;
          const fy = u * g.sinRot + v * g.cosRot;
          const x = g.centre.x + g.gaze.a * fx + g.gaze.b * fy;
          const y = g.centre.y + g.gaze.c * fx + g.gaze.d * fy;
          const label = lens.labels.data[Math.round(y) * W + Math.round(x)];
          ok.push(label === LABEL.iris || label === LABEL.pupil);
          diff.push(bilinear(lens.image.data, x, y) - bilinear(live.image.data, x, y));
          natural.push(bilinear(live.image.data, x, y));
        }
      }
      return { diff, natural, ok };
    });
    const [a, b] = sheets as [(typeof sheets)[0], (typeof sheets)[0]];
    const pick = (xs: number[]) => xs.filter((_, i) => a.ok[i] && b.ok[i]);
    expect(pick(a.diff).length).toBeGreaterThan(5000);
    // The lens's contribution lines up across wearers; their own irises do not.
    expect(pearson(pick(a.diff), pick(b.diff))).toBeGreaterThan(0.5);
    expect(Math.abs(pearson(pick(a.natural), pick(b.natural)))).toBeLessThan(0.25);
  });

  it.each(['print', 'screen'] as const)('captures a %s again with the camera (its own noise)', (kind) => {
    const a = render(kind, 0);
    const live = render('live', 0);
    let diffLive = 0;
    for (let i = 0; i < W * H; i++)
      diffLive += Math.abs((a.image.data[i] as number) - (live.image.data[i] as number));
    expect(diffLive / (W * H)).toBeGreaterThan(8);
    // The same print or screen under another camera noise draw: only the noise differs.
    const { identity, session } = capture(0);
    const again = renderAttack({
      kind,
      identity,
      session: { ...session, seed: session.seed + 1 },
      seed: 'a',
    });
    let sum = 0;
    let sq = 0;
    let differ = 0;
    for (let i = 0; i < W * H; i++) {
      const d = (again.image.data[i] as number) - (a.image.data[i] as number);
      sum += d;
      sq += d * d;
      if (d !== 0) differ++;
    }
    const mean = sum / (W * H);
    const sd = Math.sqrt(sq / (W * H) - mean * mean);
    expect(differ / (W * H)).toBeGreaterThan(0.3);
    expect(Math.abs(mean)).toBeLessThan(0.5);
    expect(sd).toBeGreaterThan(0.5);
    expect(sd).toBeLessThan(10);
    // The truth describes the depicted eye where the camera sees it: its pupil is dark in the capture.
    const p = a.truth.pupil;
    expect(a.image.data[Math.round(p.y) * W + Math.round(p.x)]).toBeLessThan(
      a.image.data[
        Math.round(a.truth.iris.y) * W + Math.round(a.truth.iris.x + (p.r + a.truth.iris.r) / 2)
      ] ?? 255,
    );
    expect(a.truth.pupilReflex).toBe(false);
    expect(a.truth[kind]).toBeDefined();
  });

  it('writes a live + attack set with `irisgate pad synth`', async () => {
    const out = join(work, 'pad');
    const { stdout, stderr } = await irisgateOk([
      'pad',
      'synth',
      '--out',
      out,
      '--identities',
      '2',
      '--sessions',
      '1',
      '--attacks',
      'patch-printed,screen',
      '--seed',
      '5',
      '--labels',
      '--json',
    ]);
    expect(stderr).toMatch(/pad synth: 6\/6/);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({
      images: 6,
      byLabel: { live: 2, 'patch-printed': 2, screen: 2 },
      seed: 5,
    });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as PadManifest;
    expect(manifest.generator).toBe('irisgate-pad-synth');
    expect(manifest.parameters).toMatchObject({
      identities: 2,
      sessions: 1,
      attacks: ['patch-printed', 'screen'],
    });
    expect(manifest.entries.map((e) => [e.file, e.label, e.identity, e.session])).toEqual([
      ['id0000_s0.png', 'live', 0, 0],
      ['id0000_s0_patch-printed.png', 'patch-printed', 0, 0],
      ['id0000_s0_screen.png', 'screen', 0, 0],
      ['id0001_s0.png', 'live', 1, 0],
      ['id0001_s0_patch-printed.png', 'patch-printed', 1, 0],
      ['id0001_s0_screen.png', 'screen', 1, 0],
    ]);
    for (const e of manifest.entries) {
      if (e.label === 'patch-printed') {
        expect(e.patchFraction).toBeGreaterThanOrEqual(0.04);
        expect(e.patchFraction).toBeLessThanOrEqual(0.41);
      } else expect(e.patchFraction).toBeUndefined();
      const meta = await sharp(join(out, e.file)).metadata();
      expect(meta).toMatchObject({ width: 640, height: 480, channels: 1, format: 'png' });
    }
    expect(readdirSync(out).filter((f) => f.endsWith('.labels.png'))).toHaveLength(6);
    // The live images are those of `iris synth` with the same seed.
    const identity = identityOf(5, 1);
    const live = generateEye({ identity, session: sessionOf(5, identity, 0) });
    const png = await sharp(join(out, 'id0001_s0.png')).toColourspace('b-w').raw().toBuffer();
    expect(png.equals(Buffer.from(live.image.data))).toBe(true);
  });

  it('rejects unknown attack kinds and prints help', async () => {
    const help = await irisgateOk(['pad', 'synth', '--help']);
    expect(help.stdout).toMatch(/Usage: irisgate pad synth/);
    expect(await runIrisgate(['pad', 'synth', '--out', join(work, 'x'), '--attacks', 'photo'])).toMatchObject(
      {
        code: 2,
        stderr: expect.stringMatching(/unknown attack kind photo/),
      },
    );
  });
});
