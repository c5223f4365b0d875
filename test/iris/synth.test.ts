/**
 * The synthetic NIR eye generator (iris/synth): determinism by seed, ground truth that agrees with the
 * pixels, identity texture that survives the rubber sheet across sessions, the manifest and the PNG files.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type EyeTruth,
  type GeneratedEye,
  generateEye,
  generateSyntheticSet,
  identityOf,
  LABEL,
  MAX_OCCLUSION,
  rngFor,
  type Seed,
  type SyntheticManifest,
  sampleIdentity,
  sampleSession,
  sessionOf,
} from '../../iris/synth/generate.ts';
import type { Ellipse, Quadratic } from '../../iris/synth/types.ts';

const DEG = Math.PI / 180;
const work = mkdtempSync(join(tmpdir(), 'irisgate-synth-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Image captures of the data set with seed 'synth-test': identities x sessions. */
const cache = new Map<string, GeneratedEye>();
function eye(id: number, session: number, seed: Seed = 'synth-test'): GeneratedEye {
  const key = `${seed}/${id}/${session}`;
  let hit = cache.get(key);
  if (!hit) {
    const identity = identityOf(seed, id);
    hit = generateEye({ identity, session: sessionOf(seed, identity, session) });
    cache.set(key, hit);
  }
  return hit;
}

/** Distance from an ellipse's centre to its boundary in direction theta (image angle, radians). */
function polarRadius(e: Ellipse, theta: number): number {
  const phi = theta - e.angleDeg * DEG;
  return (e.a * e.b) / Math.hypot(e.b * Math.cos(phi), e.a * Math.sin(phi));
}

function inside(e: Ellipse, x: number, y: number): boolean {
  const c = Math.cos(e.angleDeg * DEG);
  const s = Math.sin(e.angleDeg * DEG);
  const dx = x - e.x;
  const dy = y - e.y;
  return ((dx * c + dy * s) / e.a) ** 2 + ((-dx * s + dy * c) / e.b) ** 2 <= 1;
}

/** Eye-frame coordinates of an image point, and whether it lies between the eyelids (with a margin). */
function betweenLids(t: EyeTruth, x: number, y: number, margin = 0): boolean {
  const a = t.eyelids.angleDeg * DEG;
  const dx = x - t.eyelids.origin.x;
  const dy = y - t.eyelids.origin.y;
  const u = dx * Math.cos(a) + dy * Math.sin(a);
  const v = -dx * Math.sin(a) + dy * Math.cos(a);
  const at = (q: Quadratic) => q.c0 + q.c1 * u + q.c2 * u * u;
  return v > at(t.eyelids.upper) + margin && v < at(t.eyelids.lower) - margin;
}

function bilinear(data: Uint8Array, width: number, height: number, x: number, y: number): number {
  const x0 = Math.max(0, Math.min(width - 2, Math.floor(x)));
  const y0 = Math.max(0, Math.min(height - 2, Math.floor(y)));
  const fx = Math.min(1, Math.max(0, x - x0));
  const fy = Math.min(1, Math.max(0, y - y0));
  const p = (xx: number, yy: number) => data[yy * width + xx] as number;
  return (
    (p(x0, y0) * (1 - fx) + p(x0 + 1, y0) * fx) * (1 - fy) +
    (p(x0, y0 + 1) * (1 - fx) + p(x0 + 1, y0 + 1) * fx) * fy
  );
}

const SHEET_RADIAL = 64;
const SHEET_ANGULAR = 256;

/**
 * Unwraps the iris on the TRUE geometry into a 64 x 256 rubber sheet, columns starting at the true rotation
 * (so the same identity lines up across sessions), with a mask of samples between the eyelids and unsaturated.
 */
function unwrap({ image, truth }: GeneratedEye): { sheet: Float64Array; mask: Uint8Array } {
  const sheet = new Float64Array(SHEET_RADIAL * SHEET_ANGULAR);
  const mask = new Uint8Array(SHEET_RADIAL * SHEET_ANGULAR);
  for (let c = 0; c < SHEET_ANGULAR; c++) {
    const theta = (2 * Math.PI * c) / SHEET_ANGULAR + truth.rotationDeg * DEG;
    const rp = polarRadius(truth.pupil, theta);
    const ri = polarRadius(truth.iris, theta);
    const px = truth.pupil.x + rp * Math.cos(theta);
    const py = truth.pupil.y + rp * Math.sin(theta);
    const ix = truth.iris.x + ri * Math.cos(theta);
    const iy = truth.iris.y + ri * Math.sin(theta);
    for (let r = 0; r < SHEET_RADIAL; r++) {
      const rho = 0.05 + (0.9 * (r + 0.5)) / SHEET_RADIAL; // keep clear of both boundaries
      const x = (1 - rho) * px + rho * ix;
      const y = (1 - rho) * py + rho * iy;
      const v = bilinear(image.data, image.width, image.height, x, y);
      const k = r * SHEET_ANGULAR + c;
      sheet[k] = v;
      mask[k] = betweenLids(truth, x, y, 4) && v < 250 ? 1 : 0;
    }
  }
  return { sheet, mask };
}

/** Correlation of two rubber sheets over their common mask, after removing each row's mean (radial profile). */
function sheetCorrelation(a: ReturnType<typeof unwrap>, b: ReturnType<typeof unwrap>): number {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let r = 0; r < SHEET_RADIAL; r++) {
    let sa = 0;
    let sb = 0;
    let n = 0;
    const row: number[] = [];
    for (let c = 0; c < SHEET_ANGULAR; c++) {
      const k = r * SHEET_ANGULAR + c;
      if (!a.mask[k] || !b.mask[k]) continue;
      sa += a.sheet[k] as number;
      sb += b.sheet[k] as number;
      n++;
      row.push(k);
    }
    if (n < 16) continue;
    for (const k of row) {
      xs.push((a.sheet[k] as number) - sa / n);
      ys.push((b.sheet[k] as number) - sb / n);
    }
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] as number) * (ys[i] as number);
    sxx += (xs[i] as number) ** 2;
    syy += (ys[i] as number) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Band-passes each row of a sheet along the angle: a box of `small` minus a box of `large` (periodic). */
function bandPass(a: ReturnType<typeof unwrap>, small: number, large: number): ReturnType<typeof unwrap> {
  const sheet = new Float64Array(a.sheet.length);
  const box = (row: number, c: number, half: number) => {
    let s = 0;
    for (let d = -half; d <= half; d++)
      s += a.sheet[row + ((c + d + SHEET_ANGULAR) % SHEET_ANGULAR)] as number;
    return s / (2 * half + 1);
  };
  for (let r = 0; r < SHEET_RADIAL; r++) {
    for (let c = 0; c < SHEET_ANGULAR; c++)
      sheet[r * SHEET_ANGULAR + c] = box(r * SHEET_ANGULAR, c, small) - box(r * SHEET_ANGULAR, c, large);
  }
  return { sheet, mask: a.mask };
}

/** Same-identity (sessions 0-1 and 1-2) and different-identity (session 0 of i vs session 1 of j) correlations. */
function correlations(
  sheets: ReturnType<typeof unwrap>[][],
  filter: (x: ReturnType<typeof unwrap>) => ReturnType<typeof unwrap>,
) {
  const filtered = sheets.map((sessions) => sessions.map(filter));
  const same: number[] = [];
  const different: number[] = [];
  for (let i = 0; i < filtered.length; i++) {
    const [s0, s1, s2] = filtered[i] as [
      ReturnType<typeof unwrap>,
      ReturnType<typeof unwrap>,
      ReturnType<typeof unwrap>,
    ];
    same.push(sheetCorrelation(s0, s1), sheetCorrelation(s1, s2));
    for (let j = i + 1; j < filtered.length; j++) {
      different.push(
        sheetCorrelation(s0, (filtered[j] as ReturnType<typeof unwrap>[])[1] as ReturnType<typeof unwrap>),
      );
    }
  }
  return { same, different };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('synthetic eye generator', () => {
  it('is deterministic: the same seed gives identical bytes, another seed different ones', () => {
    const identity = sampleIdentity(rngFor('det', 'identity', 3), 3);
    const session = sampleSession(rngFor('det', 'session', 3, 1), identity, 1);
    const a = generateEye({ identity, session });
    const b = generateEye({
      identity: sampleIdentity(rngFor('det', 'identity', 3), 3),
      session: sampleSession(rngFor('det', 'session', 3, 1), identity, 1),
    });
    expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
    expect(b.truth).toEqual(a.truth);
    const other = generateEye({
      identity: sampleIdentity(rngFor('det2', 'identity', 3), 3),
      session: sampleSession(rngFor('det2', 'session', 3, 1), identity, 1),
    });
    expect(Buffer.from(other.image.data).equals(Buffer.from(a.image.data))).toBe(false);
    // Another session of the same identity differs too, and a capture does not depend on the set's size.
    expect(Buffer.from(eye(0, 0).image.data).equals(Buffer.from(eye(0, 1).image.data))).toBe(false);
    expect(identityOf('synth-test', 5)).toEqual(sampleIdentity(rngFor('synth-test', 'identity', 5), 5));
  });

  it('writes byte-identical PNGs and manifest for the same seed, different ones for another seed', async () => {
    const run = (dir: string, seed: string) =>
      generateSyntheticSet({ out: join(work, dir), identities: 2, sessions: 2, seed });
    const progress: number[] = [];
    await generateSyntheticSet({
      out: join(work, 'a'),
      identities: 2,
      sessions: 2,
      seed: 's1',
      onProgress: (done, total) => progress.push(done / total),
    });
    await run('b', 's1');
    await run('c', 's2');
    expect(progress.at(-1)).toBe(1);
    const files = readdirSync(join(work, 'a')).sort();
    expect(files).toEqual([
      'id0000_s0.png',
      'id0000_s1.png',
      'id0001_s0.png',
      'id0001_s1.png',
      'manifest.json',
    ]);
    for (const f of files) {
      expect(readFileSync(join(work, 'b', f)).equals(readFileSync(join(work, 'a', f))), f).toBe(true);
      expect(readFileSync(join(work, 'c', f)).equals(readFileSync(join(work, 'a', f))), f).toBe(false);
    }
  });

  it('writes 640x480 8-bit greyscale PNGs and a manifest describing each of them', async () => {
    const dir = join(work, 'set');
    const returned = await generateSyntheticSet({
      out: dir,
      identities: 3,
      sessions: 2,
      seed: 42,
      labels: true,
    });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SyntheticManifest;
    expect(manifest).toEqual(JSON.parse(JSON.stringify(returned)));
    expect(manifest.version).toBe(1);
    expect(manifest.seed).toBe(42);
    expect(manifest.parameters).toMatchObject({
      identities: 3,
      sessions: 2,
      width: 640,
      height: 480,
      labels: true,
    });
    expect(manifest.entries).toHaveLength(6);
    for (const [k, entry] of manifest.entries.entries()) {
      expect(entry.identity).toBe(Math.floor(k / 2));
      expect(entry.session).toBe(k % 2);
      expect(entry.file).toBe(`id000${entry.identity}_s${entry.session}.png`);
      expect(entry.identityName).toBe(`id000${entry.identity}`);
      for (const key of ['x', 'y', 'r', 'a', 'b', 'angleDeg'] as const) {
        expect(Number.isFinite(entry.pupil[key])).toBe(true);
        expect(Number.isFinite(entry.iris[key])).toBe(true);
      }
      for (const q of [entry.eyelids.upper, entry.eyelids.lower]) {
        expect(Object.keys(q).sort()).toEqual(['c0', 'c1', 'c2']);
      }
      expect(typeof entry.seed).toBe('number');
      expect(typeof entry.textureSeed).toBe('number');
      expect(entry.blurSigma).toBeGreaterThanOrEqual(0);
      expect(entry.blurSigma).toBeLessThanOrEqual(1.5);
      expect(entry.speculars.length).toBeGreaterThanOrEqual(1);
      expect(entry.speculars.length).toBeLessThanOrEqual(3);

      const png = readFileSync(join(dir, entry.file));
      // IHDR: width, height, bit depth 8, colour type 0 (greyscale).
      expect(png.readUInt32BE(16)).toBe(640);
      expect(png.readUInt32BE(20)).toBe(480);
      expect(png[24]).toBe(8);
      expect(png[25]).toBe(0);
      const meta = await sharp(png).metadata();
      expect(meta).toMatchObject({ width: 640, height: 480, channels: 1, depth: 'uchar', format: 'png' });
      const { data, info } = await sharp(png)
        .toColourspace('b-w')
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect(info.channels).toBe(1);
      // The PNG holds exactly the generated image.
      const again = eye(entry.identity, entry.session, 42);
      expect(Buffer.from(data).equals(Buffer.from(again.image.data))).toBe(true);
      const labels = await sharp(join(dir, entry.file.replace('.png', '.labels.png')))
        .toColourspace('b-w')
        .raw()
        .toBuffer();
      expect(labels.equals(Buffer.from(again.labels.data))).toBe(true);
      expect(labels.every((v) => v <= 5)).toBe(true);
      // Every class appears: skin, sclera, iris, pupil, eyelash and specular.
      expect(new Set(labels).size).toBe(6);
    }
  });

  it('draws session parameters within the stated ranges', () => {
    for (let id = 0; id < 40; id++) {
      const identity = identityOf('ranges', id);
      expect(identity.irisRadius).toBeGreaterThanOrEqual(95);
      expect(identity.irisRadius).toBeLessThanOrEqual(130);
      for (let s = 0; s < 5; s++) {
        const session = sessionOf('ranges', identity, s);
        expect(Math.abs(session.rotationDeg)).toBeLessThanOrEqual(10);
        expect(session.dilation).toBeGreaterThanOrEqual(0.2);
        expect(session.dilation).toBeLessThanOrEqual(0.6);
        expect(session.blurSigma).toBeGreaterThanOrEqual(0);
        expect(session.blurSigma).toBeLessThanOrEqual(1.5);
        expect(session.speculars.length).toBeGreaterThanOrEqual(1);
        expect(session.speculars.length).toBeLessThanOrEqual(3);
        // The iris stays inside the frame.
        expect(session.centre.x - session.irisRadius).toBeGreaterThan(0);
        expect(session.centre.x + session.irisRadius).toBeLessThan(640);
        expect(session.centre.y - session.irisRadius).toBeGreaterThan(0);
        expect(session.centre.y + session.irisRadius).toBeLessThan(480);
        // The upper lid sits above the lower one over the whole iris width.
        for (let u = -session.irisRadius; u <= session.irisRadius; u += 10) {
          const at = (q: Quadratic) => q.c0 + q.c1 * u + q.c2 * u * u;
          expect(at(session.eyelids.upper)).toBeLessThan(at(session.eyelids.lower));
        }
      }
    }
  });

  it('has ground truth consistent with the pixels and within the stated ranges', () => {
    for (let id = 0; id < 6; id++) {
      for (let s = 0; s < 3; s++) {
        const { image, labels, truth } = eye(id, s);
        const label = `${truth.file}`;
        expect(truth.rotationDeg, label).toBeGreaterThanOrEqual(-10);
        expect(truth.rotationDeg, label).toBeLessThanOrEqual(10);
        expect(truth.occlusionFraction, label).toBeGreaterThanOrEqual(0);
        expect(truth.occlusionFraction, label).toBeLessThanOrEqual(MAX_OCCLUSION);
        expect(truth.visibleIrisFraction + truth.occlusionFraction).toBeCloseTo(1, 3);
        expect(truth.pupilIrisRatio, label).toBeGreaterThan(0.15);
        expect(truth.pupilIrisRatio, label).toBeLessThan(0.65);
        expect(truth.iris.r, label).toBeGreaterThan(85);
        expect(truth.iris.r, label).toBeLessThan(140);

        // The pupil lies inside the iris (checked all around its boundary).
        for (let k = 0; k < 72; k++) {
          const theta = (2 * Math.PI * k) / 72;
          const rp = polarRadius(truth.pupil, theta);
          expect(
            inside(truth.iris, truth.pupil.x + rp * Math.cos(theta), truth.pupil.y + rp * Math.sin(theta)),
          ).toBe(true);
        }

        // Visible fraction recomputed from the eyelid curves and both ellipses on a pixel grid.
        let annulus = 0;
        let visible = 0;
        let pupilSum = 0;
        let pupilCount = 0;
        let irisSum = 0;
        let irisCount = 0;
        for (let y = 0; y < image.height; y++) {
          for (let x = 0; x < image.width; x++) {
            const inIris = inside(truth.iris, x, y);
            if (!inIris) continue;
            const inPupil = inside(truth.pupil, x, y);
            const open = betweenLids(truth, x, y);
            const v = image.data[y * image.width + x] as number;
            if (!inPupil) {
              annulus++;
              if (open) visible++;
            }
            if (!betweenLids(truth, x, y, 5) || v >= 250) continue;
            // Compare the pupil's core with the visible iris well clear of both boundaries.
            const shrunk = { ...truth.pupil, a: truth.pupil.a - 3, b: truth.pupil.b - 3 };
            const grownPupil = { ...truth.pupil, a: truth.pupil.a + 4, b: truth.pupil.b + 4 };
            const shrunkIris = { ...truth.iris, a: truth.iris.a - 5, b: truth.iris.b - 5 };
            if (inside(shrunk, x, y)) {
              pupilSum += v;
              pupilCount++;
            } else if (!inside(grownPupil, x, y) && inside(shrunkIris, x, y)) {
              irisSum += v;
              irisCount++;
            }
          }
        }
        expect(Math.abs(visible / annulus - truth.visibleIrisFraction), label).toBeLessThan(0.01);
        expect(pupilCount, label).toBeGreaterThan(100);
        expect(irisCount, label).toBeGreaterThan(1000);
        expect(pupilSum / pupilCount, label).toBeLessThan(irisSum / irisCount - 10);
        // The pupil is dark but not clipped to black.
        expect(pupilSum / pupilCount, label).toBeGreaterThan(3);

        // Every specular highlight saturates (>= 254) near its centre, unless an eyelash hides it.
        for (const sp of truth.speculars) {
          let peak = 0;
          for (let y = Math.round(sp.y) - 2; y <= Math.round(sp.y) + 2; y++) {
            for (let x = Math.round(sp.x) - 2; x <= Math.round(sp.x) + 2; x++) {
              peak = Math.max(peak, image.data[y * image.width + x] as number);
            }
          }
          const centre = Math.round(sp.y) * image.width + Math.round(sp.x);
          if (labels.data[centre] !== LABEL.eyelash) expect(peak, label).toBeGreaterThanOrEqual(254);
        }
      }
    }
  });

  it('keeps an identity texture across sessions on the true rubber sheet, and separates identities', () => {
    const N = 8;
    const sheets = Array.from({ length: N }, (_, id) => [0, 1, 2].map((s) => unwrap(eye(id, s))));
    for (const filter of [
      (x: ReturnType<typeof unwrap>) => x,
      // Angular wavelengths of about 6-30 of 512 samples: the band of open-iris's two Gabor filters.
      (x: ReturnType<typeof unwrap>) => bandPass(x, 1, 7),
    ]) {
      const { same, different } = correlations(sheets, filter);
      expect(mean(same)).toBeGreaterThan(0.5);
      expect(Math.min(...same)).toBeGreaterThan(0.25);
      expect(Math.max(...different.map(Math.abs))).toBeLessThan(0.2);
      expect(Math.min(...same)).toBeGreaterThan(Math.max(...different) + 0.15);
    }
  });
});
