import { beforeAll, describe, expect, it } from 'vitest';
import { renderAttack, renderLive } from '../../iris/attacks/render-attack.ts';
import { normalizeIris } from '../../iris/normalization.ts';
import { PAD_FEATURE_NAMES, padFeatures } from '../../iris/pad/features.ts';
import { type EyeSegmentation, segmentEye } from '../../iris/segmentation/index.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';
import { Rng } from '../../iris/synth/random.ts';
import type { GreyImage } from '../../iris/types.ts';
import type { NormalizedIris } from '../../protocol/iris-code-layout.ts';

const SEED = 'pad-features-test';

interface Frame {
  image: GreyImage;
  seg: EyeSegmentation;
  normalized: NormalizedIris;
}

function frame(image: GreyImage, seg = segmentEye(image)): Frame {
  return { image, seg, normalized: normalizeIris(image, seg) };
}

/** The named feature of a frame. */
function feature(f: Frame, name: string): number {
  const j = PAD_FEATURE_NAMES.indexOf(name);
  if (j < 0) throw new Error(`no feature ${name}`);
  return padFeatures(f.image, f.seg, f.normalized)[j] as number;
}

/** A copy of the image with each pixel mapped. */
function mapImage(image: GreyImage, f: (v: number, x: number, y: number) => number): GreyImage {
  const data = new Uint8Array(image.data.length);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = y * image.width + x;
      data[i] = Math.max(0, Math.min(255, Math.round(f(image.data[i] as number, x, y))));
    }
  }
  return { width: image.width, height: image.height, data };
}

/** 3 x 3 box blur (edges copied). */
function blur(image: GreyImage): GreyImage {
  const { width: w, height: h, data } = image;
  return mapImage(image, (v, x, y) => {
    if (x === 0 || y === 0 || x === w - 1 || y === h - 1) return v;
    let s = 0;
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) s += data[(y + dy) * w + x + dx] as number;
    return s / 9;
  });
}

describe('padFeatures', () => {
  let live: Frame;

  beforeAll(() => {
    const identity = identityOf(SEED, 0);
    live = frame(renderLive(identity, sessionOf(SEED, identity, 0)).image);
  });

  it('gives one finite value per name, the same for the same input', () => {
    expect(new Set(PAD_FEATURE_NAMES).size).toBe(PAD_FEATURE_NAMES.length);
    expect(PAD_FEATURE_NAMES.length).toBeGreaterThanOrEqual(20);
    const a = padFeatures(live.image, live.seg, live.normalized);
    const b = padFeatures(live.image, live.seg, live.normalized);
    expect(a).toHaveLength(PAD_FEATURE_NAMES.length);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
  });

  it('gives finite values for every attack kind', () => {
    const identity = identityOf(SEED, 1);
    const session = sessionOf(SEED, identity, 0);
    for (const kind of ['print', 'screen', 'lens', 'prosthetic'] as const) {
      const attack = frame(renderAttack({ kind, identity, session, seed: 3 }).image);
      const f = padFeatures(attack.image, attack.seg, attack.normalized);
      expect(f.every(Number.isFinite), kind).toBe(true);
    }
  });

  it('refuses a segmentation of another image size', () => {
    const small: GreyImage = { width: 320, height: 240, data: new Uint8Array(320 * 240) };
    expect(() => padFeatures(small, live.seg, live.normalized)).toThrow(/segmentation/);
  });

  it('spectrum: a halftone screen over the frame raises the high-band peaks', () => {
    // Clustered dots 4 pixels apart, at 45 degrees (a laser print's screen).
    const screened = frame(
      mapImage(live.image, (v, x, y) => {
        const dots = 0.5 + 0.25 * (Math.cos((Math.PI * (x + y)) / 4) + Math.cos((Math.PI * (x - y)) / 4));
        return v * (0.8 + 0.2 * dots);
      }),
      live.seg,
    );
    expect(feature(screened, 'skin_hf_peak')).toBeGreaterThan(feature(live, 'skin_hf_peak') + 1);
    expect(feature(screened, 'iris_hf_peak')).toBeGreaterThan(feature(live, 'iris_hf_peak') + 1);
  });

  it('noise residual: white noise raises the residual variance, a blur raises the 2-pixel/1-pixel ratio', () => {
    const rng = new Rng('noise');
    const noisy = frame(
      mapImage(live.image, (v) => v + rng.normal(0, 6)),
      live.seg,
    );
    for (const region of ['iris', 'sclera', 'skin']) {
      expect(feature(noisy, `${region}_res_var`)).toBeGreaterThan(feature(live, `${region}_res_var`) + 0.5);
    }
    const blurred = frame(blur(live.image), live.seg);
    expect(feature(blurred, 'skin_d2_d1')).toBeGreaterThan(feature(live, 'skin_d2_d1') + 0.2);
    expect(feature(blurred, 'skin_res_var')).toBeLessThan(feature(live, 'skin_res_var'));
  });

  it('specular highlights: no saturated pixel once the frame is clipped below white', () => {
    expect(feature(live, 'spec_count')).toBeGreaterThan(0);
    expect(feature(live, 'spec_peak')).toBeGreaterThan(0.99);
    const clipped = frame(
      mapImage(live.image, (v) => Math.min(v, 200)),
      live.seg,
    );
    expect(feature(clipped, 'spec_count')).toBe(0);
    expect(feature(clipped, 'spec_peak')).toBeLessThan(0.8);
  });

  it('levels: a greyer pupil raises the pupil/iris ratio', () => {
    const { x, y, r } = live.seg.pupil;
    const grey = frame(
      mapImage(live.image, (v, px, py) => ((px - x) ** 2 + (py - y) ** 2 < (0.8 * r) ** 2 ? v + 40 : v)),
      live.seg,
    );
    expect(feature(grey, 'lvl_pupil_iris')).toBeGreaterThan(feature(live, 'lvl_pupil_iris') + 0.2);
  });

  it('geometry: measures the segmentation and widens the limbus of a blurred frame', () => {
    expect(feature(live, 'geo_pupil_ratio')).toBeCloseTo(live.seg.pupil.r / live.seg.iris.r, 5);
    let soft = live.image;
    for (let k = 0; k < 3; k++) soft = blur(soft);
    const blurred = frame(soft, live.seg);
    expect(feature(blurred, 'geo_limbus_width')).toBeGreaterThan(feature(live, 'geo_limbus_width'));
    expect(feature(blurred, 'geo_pupil_edge_width')).toBeGreaterThan(feature(live, 'geo_pupil_edge_width'));
  });

  it('rubber sheet: a pattern periodic in the angle (painted spokes) raises the angular peaks', () => {
    const pixels = new Float32Array(live.normalized.pixels);
    for (let i = 0; i < pixels.length; i++) {
      const c = i % 512;
      pixels[i] = (pixels[i] as number) + 0.06 * Math.cos((2 * Math.PI * 24 * c) / 512);
    }
    const spokes: Frame = { ...live, normalized: { pixels, mask: live.normalized.mask } };
    expect(feature(spokes, 'sheet_col_peak')).toBeGreaterThan(feature(live, 'sheet_col_peak') + 1);
    expect(feature(spokes, 'sheet_ang_peak_avg')).toBeGreaterThan(feature(live, 'sheet_ang_peak_avg') + 1);
    expect(feature(spokes, 'sheet_col_share')).toBeGreaterThan(feature(live, 'sheet_col_share'));
  });

  it('rubber sheet: texture that stops at one radius (a lens clear zone) raises the fine-texture step', () => {
    const rng = new Rng('dots');
    const pixels = new Float32Array(live.normalized.pixels);
    for (let i = 64 * 512; i < pixels.length; i++) pixels[i] = (pixels[i] as number) + rng.normal(0, 0.05);
    const zoned: Frame = { ...live, normalized: { pixels, mask: live.normalized.mask } };
    expect(feature(zoned, 'sheet_fine_step')).toBeGreaterThan(feature(live, 'sheet_fine_step') + 0.5);
  });
});
