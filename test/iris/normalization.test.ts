/**
 * Rubber-sheet normalisation: angular and radial mapping on synthetic annuli with known patterns, the
 * orientation shift, and the mask (eyelids, glints, outside the image).
 */
import { describe, expect, it } from 'vitest';
import { normalizeIris, rubberSheet, usableSamples } from '../../iris/normalization.ts';
import { parabolaY, segmentEye } from '../../iris/segmentation/index.ts';
import { generateEye, identityOf, sessionOf } from '../../iris/synth/generate.ts';
import type { GreyImage } from '../../iris/types.ts';
import { NORMALIZED_HEIGHT as H, NORMALIZED_WIDTH as W } from '../../protocol/iris-code-layout.ts';

const CX = 320;
const CY = 240;
const RP = 40;
const RI = 110;

/** An image whose grey level depends only on the angle around (CX, CY) (or only on the radius). */
function patternImage(f: (phi: number, r: number) => number): GreyImage {
  const data = new Uint8Array(640 * 480);
  for (let y = 0; y < 480; y++) {
    for (let x = 0; x < 640; x++) {
      const phi = Math.atan2(y - CY, x - CX);
      data[y * 640 + x] = Math.round(f(phi, Math.hypot(x - CX, y - CY)));
    }
  }
  return { width: 640, height: 480, data };
}

const circles = (orientation: number) => ({
  pupil: { cx: CX, cy: CY, a: RP, b: RP, theta: 0 },
  iris: { cx: CX, cy: CY, a: RI, b: RI, theta: 0 },
  orientation,
});

describe('rubber sheet', () => {
  const angular = (phi: number) => 128 + 100 * Math.cos(3 * phi);
  const image = patternImage(angular);

  it('column c samples the angle 2 pi c / 512 from +x towards +y', () => {
    const n = rubberSheet(image, circles(0), null);
    expect(n.pixels.length).toBe(H * W);
    let worst = 0;
    for (let c = 0; c < W; c += 8) {
      const expected = angular((2 * Math.PI * c) / W) / 255;
      for (const r of [10, 64, 120])
        worst = Math.max(worst, Math.abs((n.pixels[r * W + c] as number) - expected));
    }
    expect(worst).toBeLessThan(0.03);
    // +y is down on screen: column 128 (90 degrees) lies below the centre.
    const down = rubberSheet(
      patternImage((phi) => (phi > 0 ? 200 : 50)),
      circles(0),
      null,
    );
    expect(down.pixels[64 * W + 128]).toBeCloseTo(200 / 255, 3);
    expect(down.pixels[64 * W + 384]).toBeCloseTo(50 / 255, 3);
  });

  it('the eye orientation rolls the columns', () => {
    const shift = 20;
    const n0 = rubberSheet(image, circles(0), null);
    const n1 = rubberSheet(image, circles((2 * Math.PI * shift) / W), null);
    let worst = 0;
    for (let c = 0; c < W - shift; c++) {
      worst = Math.max(
        worst,
        Math.abs((n1.pixels[64 * W + c] as number) - (n0.pixels[64 * W + c + shift] as number)),
      );
    }
    expect(worst).toBeLessThan(0.02);
  });

  it('row 0 lies on the pupil boundary and row 127 on the iris boundary', () => {
    const radial = patternImage((_phi, r) => Math.min(255, Math.max(0, r)));
    for (const interpolation of ['bilinear', 'nearest'] as const) {
      const n = rubberSheet(radial, circles(0), null, { interpolation });
      for (const c of [0, 100, 300]) {
        expect(Math.abs((n.pixels[c] as number) * 255 - RP)).toBeLessThan(1.01);
        expect(Math.abs((n.pixels[(H - 1) * W + c] as number) * 255 - RI)).toBeLessThan(1.01);
        expect(Math.abs((n.pixels[64 * W + c] as number) * 255 - (RP + ((RI - RP) * 64) / 127))).toBeLessThan(
          1.01,
        );
      }
    }
  });

  it('masks samples outside the image', () => {
    const edge = {
      pupil: { cx: 20, cy: 240, a: 30, b: 30, theta: 0 },
      iris: { cx: 20, cy: 240, a: 90, b: 90, theta: 0 },
      orientation: 0,
    };
    const n = rubberSheet(image, edge, null);
    expect(n.mask[(H - 1) * W + 256]).toBe(0); // 180 degrees: x = 20 - 90 < 0
    expect(n.mask[(H - 1) * W + 0]).toBe(1);
  });
});

describe('normalizeIris on a segmented synthetic eye', () => {
  it('masks the eyelids and the glints, keeps the open iris', () => {
    const identity = identityOf('normalization-test', 2);
    const session = structuredClone(sessionOf('normalization-test', identity, 0));
    const { image } = generateEye({ identity, session });
    const seg = segmentEye(image);
    const n = normalizeIris(image, seg);
    const { pupilEllipse: pe, irisEllipse: ie } = seg;
    let lidSamples = 0;
    let lidMasked = 0;
    let glintSamples = 0;
    let glintMasked = 0;
    for (let c = 0; c < W; c++) {
      const phi = seg.orientation + (2 * Math.PI * c) / W;
      for (let r = 0; r < H; r += 4) {
        const t = r / (H - 1);
        const rp = 1 / Math.hypot(Math.cos(phi - pe.theta) / pe.a, Math.sin(phi - pe.theta) / pe.b);
        const ri = 1 / Math.hypot(Math.cos(phi - ie.theta) / ie.a, Math.sin(phi - ie.theta) / ie.b);
        const x = Math.round(
          pe.cx + rp * Math.cos(phi) + t * (ie.cx + ri * Math.cos(phi) - pe.cx - rp * Math.cos(phi)),
        );
        const y = Math.round(
          pe.cy + rp * Math.sin(phi) + t * (ie.cy + ri * Math.sin(phi) - pe.cy - rp * Math.sin(phi)),
        );
        const m = n.mask[r * W + c] as number;
        const upper = seg.eyelids.upper;
        if (upper && y < parabolaY(upper, x) - 2) {
          lidSamples++;
          if (m === 0) lidMasked++;
        }
        if ((image.data[y * 640 + x] as number) >= 254) {
          glintSamples++;
          if (m === 0) glintMasked++;
        }
      }
    }
    if (lidSamples > 0) expect(lidMasked).toBe(lidSamples);
    expect(glintMasked).toBe(glintSamples);
    // Most of the sheet is usable.
    expect(usableSamples(n) / (H * W)).toBeGreaterThan(0.4);
    for (const v of n.pixels) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
  });
});
