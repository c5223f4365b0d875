/**
 * Quality gates with open-iris's defaults: measured values on open-iris's sample, and each refusal
 * (blurred, iris too small, off gaze, occluded, too few usable bits) with its stable code.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readGreyImage } from '../../iris/image-input.ts';
import { normalizeIris } from '../../iris/normalization.ts';
import {
  assertQuality,
  assertUsableBits,
  assessQuality,
  QUALITY_THRESHOLDS,
  sharpnessScore,
  sobelKernel,
  visibleFraction,
} from '../../iris/quality.ts';
import type { EyeSegmentation } from '../../iris/segmentation/index.ts';
import { segmentEye } from '../../iris/segmentation/index.ts';
import type { GreyImage } from '../../iris/types.ts';
import { IrisgateError } from '../../protocol/errors.ts';
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH } from '../../protocol/iris-code-layout.ts';
import { OPEN_IRIS_SAMPLE_EYE } from '../support/shared-data.ts';

async function grey(pipeline: ReturnType<typeof sharp>): Promise<GreyImage> {
  const { data, info } = await pipeline.greyscale().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof IrisgateError) return e.code;
    throw e;
  }
  return undefined;
}

function measure(image: GreyImage) {
  const seg = segmentEye(image);
  const normalized = normalizeIris(image, seg);
  return { seg, normalized, report: assessQuality(seg, normalized) };
}

/** A clean cartoon eye: iris and pupil ellipses of minor/major ratio `aspect`, tilted by 0.3 rad. */
function cartoonEye(aspect: number): GreyImage {
  const w = 640;
  const h = 480;
  const data = new Uint8Array(w * h);
  let s = 7;
  const c = Math.cos(0.3);
  const sn = Math.sin(0.3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = (x - 320) * c + (y - 240) * sn;
      const v = -(x - 320) * sn + (y - 240) * c;
      const ri = Math.hypot(u / 110, v / (110 * aspect));
      const rp = Math.hypot(u / 50, v / (50 * aspect));
      let val = 190;
      if (ri < 1) val = 95 + 25 * Math.sin(Math.atan2(v / aspect, u) * 23) * Math.sin(ri * 19);
      if (rp < 1) val = 20;
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      data[y * w + x] = Math.max(0, Math.min(255, Math.round(val + ((s >>> 24) / 255 - 0.5) * 8)));
    }
  }
  return { width: w, height: h, data };
}

describe('quality on the open-iris sample', () => {
  it('passes every gate with values close to open-iris', async () => {
    const image = await readGreyImage(OPEN_IRIS_SAMPLE_EYE);
    const { seg, normalized, report } = measure(image);
    expect(report.failures).toEqual([]);
    expect(report.passed).toBe(true);
    expect(assertQuality(seg, normalized).passed).toBe(true);
    // open-iris: ratio 0.543, centre distance ratio 0.034, offgaze 0.0007, occlusion90 0.816,
    // occlusion30 0.997, sharpness 823.7 (this segmentation places the upper lid a little lower).
    expect(Math.abs(report.pupilIrisRatio - 0.543)).toBeLessThan(0.03);
    expect(report.centerDistanceRatio).toBeLessThan(0.1);
    expect(report.offgaze).toBeLessThan(0.05);
    expect(report.occlusion90).toBeGreaterThan(0.6);
    expect(report.occlusion90).toBeLessThan(0.9);
    expect(report.occlusion30).toBeGreaterThan(0.9);
    expect(report.sharpness).toBeGreaterThan(550);
    expect(report.sharpness).toBeLessThan(1100);
    expect(report.irisDiameter).toBeGreaterThan(230);
    expect(report.eyeCentersInside).toBe(true);
  });

  it('refuses the sample blurred: blurred', async () => {
    const image = await grey(sharp(OPEN_IRIS_SAMPLE_EYE).blur(2.5));
    const { seg, normalized, report } = measure(image);
    expect(report.sharpness).toBeLessThan(QUALITY_THRESHOLDS.minSharpness);
    expect(codeOf(() => assertQuality(seg, normalized))).toBe('blurred');
  });

  it('refuses the sample downscaled to 20%: iris_too_small', async () => {
    const image = await grey(sharp(OPEN_IRIS_SAMPLE_EYE).resize(128, 96));
    const { seg, normalized, report } = measure(image);
    expect(report.irisDiameter).toBeGreaterThan(40);
    expect(report.irisDiameter).toBeLessThan(50);
    expect(Math.abs(report.pupilIrisRatio - 0.543)).toBeLessThan(0.05);
    expect(codeOf(() => assertQuality(seg, normalized))).toBe('iris_too_small');
  });
});

describe('off-gaze', () => {
  it('measures the moment eccentricity of elliptical boundaries', () => {
    const round = measure(cartoonEye(1)).report;
    expect(round.offgaze).toBeLessThan(0.01);
    const tilted = measure(cartoonEye(0.6)).report;
    // ((1 - 0.36) / (1 + 0.36))^2 = 0.221
    expect(Math.abs(tilted.offgaze - 0.221)).toBeLessThan(0.03);
    expect(tilted.failures.map((f) => f.code)).not.toContain('off_gaze');
  });

  it('refuses a strongly foreshortened eye: off_gaze', () => {
    const { seg, normalized, report } = measure(cartoonEye(0.2));
    // ((1 - 0.04) / (1 + 0.04))^2 = 0.852
    expect(report.offgaze).toBeGreaterThan(QUALITY_THRESHOLDS.maxOffgaze);
    expect(report.failures.map((f) => f.code)).toContain('off_gaze');
    expect(codeOf(() => assertQuality(seg, normalized))).toBe('off_gaze');
  });
});

describe('occlusion measures', () => {
  /** A segmentation of a concentric eye with only the lid masks set: the lids at |y - cy| > half. */
  function lidded(half: number, orientation = 0): EyeSegmentation {
    const w = 400;
    const h = 400;
    const visible = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const r = Math.hypot(x - 200, y - 200);
        if (r <= 100 && r > 40 && Math.abs(y - 200) <= half) visible[y * w + x] = 1;
      }
    }
    return {
      width: w,
      height: h,
      pupil: { x: 200, y: 200, r: 40 },
      iris: { x: 200, y: 200, r: 100 },
      pupilEllipse: { cx: 200, cy: 200, a: 40, b: 40, theta: 0 },
      irisEllipse: { cx: 200, cy: 200, a: 100, b: 100, theta: 0 },
      eyelids: { upper: null, lower: null },
      masks: { specular: new Uint8Array(w * h), eyelash: new Uint8Array(w * h), visible, iris: visible },
      orientation,
      orientationReliable: false,
      offgaze: 0,
      eyeCenters: { pupil: { x: 200, y: 200 }, iris: { x: 200, y: 200 } },
      diagnostics: {} as EyeSegmentation['diagnostics'],
    };
  }

  it('90 degrees: the whole annulus; 30 degrees: the middle band', () => {
    const open = lidded(200);
    expect(visibleFraction(open, 90)).toBeGreaterThan(0.99);
    expect(visibleFraction(open, 30)).toBeGreaterThan(0.99);
    // Lids at +-50 px: the 30-degree band (|y| <= 100 sin 30 = 50) stays fully visible.
    const half = lidded(50);
    expect(visibleFraction(half, 30)).toBeGreaterThan(0.97);
    expect(visibleFraction(half, 90)).toBeLessThan(0.75);
    expect(visibleFraction(half, 90)).toBeGreaterThan(0.5);
    // Nearly closed: both measures fail their gates.
    const shut = lidded(8);
    const report = assessQuality(shut);
    expect(report.occlusion90).toBeLessThan(QUALITY_THRESHOLDS.minOcclusion90);
    expect(report.occlusion30).toBeLessThan(QUALITY_THRESHOLDS.minOcclusion30);
    expect(report.failures.map((f) => f.code)).toContain('occluded');
    expect(codeOf(() => assertQuality(shut))).toBe('occluded');
  });

  it('an eye centre outside the image: eye_outside_image', () => {
    const seg = lidded(200);
    const outside = { ...seg, pupilEllipse: { ...seg.pupilEllipse, cx: -5 } };
    expect(codeOf(() => assertQuality(outside))).toBe('eye_outside_image');
  });
});

describe('sharpness as open-iris computes it', () => {
  it("uses OpenCV's 11-tap Sobel-type kernels", () => {
    expect(Array.from(sobelKernel(0, 11))).toEqual([1, 10, 45, 120, 210, 252, 210, 120, 45, 10, 1]);
    expect(Array.from(sobelKernel(2, 11))).toEqual([1, 6, 13, 8, -14, -28, -14, 8, 13, 6, 1]);
  });

  it('is 0 for a flat image or an empty mask, large for texture', () => {
    const n = NORMALIZED_HEIGHT * NORMALIZED_WIDTH;
    const flat = { pixels: new Float32Array(n).fill(0.5), mask: new Uint8Array(n).fill(1) };
    expect(sharpnessScore(flat)).toBeCloseTo(0, 6);
    const stripes = new Float32Array(n);
    for (let i = 0; i < n; i++) stripes[i] = (i % NORMALIZED_WIDTH) % 8 < 4 ? 0.3 : 0.7;
    expect(sharpnessScore({ pixels: stripes, mask: new Uint8Array(n).fill(1) })).toBeGreaterThan(461);
    expect(sharpnessScore({ pixels: stripes, mask: new Uint8Array(n) })).toBe(0);
  });
});

describe('usable bits gate', () => {
  it('needs 4,096 of 16,384 mask bits', () => {
    expect(() => assertUsableBits(4096)).not.toThrow();
    expect(codeOf(() => assertUsableBits(4095))).toBe('too_few_usable_bits');
    expect(codeOf(() => assertUsableBits(0))).toBe('too_few_usable_bits');
  });
});
