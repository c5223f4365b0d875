/**
 * Screen replay: an earlier capture of the person shown on a screen held in front of the camera.
 *
 * - LCD/OLED (most replays): self-luminous, so the camera's illuminator adds nothing but a reflection on the
 *   glass; only the exposure gain and the lens vignetting apply. The display's tone curve (gamma 1.2-2.2 on
 *   the photo's linear sensor values), its black level (2-10% of white) and 8-bit drive levels distort the
 *   grey levels. Its pixel grid (pitch 0.85-2.2 camera pixels, a black matrix between the pixel apertures,
 *   turned a little against the sensor) is sampled by the sensor, which aliases into moire. A PWM-dimmed
 *   backlight read out by a rolling shutter adds horizontal flicker bands, and the glossy glass mirrors the
 *   illuminator as a compact, often saturated glare.
 * - E-ink (a reader): reflective and matte, 16 grey levels, low contrast, a finer grid, no flicker.
 * The earlier capture on the screen cannot react to light (no pupil reflex).
 */

import type { Rng } from '../synth/random.ts';
import { captureScene } from '../synth/render.ts';
import type { IrisTexture } from '../synth/texture.ts';
import type { EyeTruth, IdentityParams, Point, SessionParams } from '../synth/types.ts';
import type { GreyImage } from '../types.ts';
import {
  drawPlacement,
  earlierCapture,
  PlacementMap,
  placeLabels,
  placeTruth,
  roundNumbers,
  sampleGrey,
} from './recapture.ts';

const DEG = Math.PI / 180;

export interface ScreenTruth {
  sourceSeed: number;
  placement: { scale: number; rotationDeg: number; shift: Point };
  display: 'lcd' | 'e-ink';
  /** Pixel pitch in camera pixels, grid angle (degrees), share of each pixel's side that emits/reflects. */
  pitchPx: number;
  gridAngleDeg: number;
  fillFactor: number;
  /** Tone curve exponent, white level (scene grey), black level (share of white), drive levels. */
  gamma: number;
  white: number;
  blackLevel: number;
  levels: number;
  /** Backlight flicker: depth (0: none) and period of the bands, rows. */
  flickerDepth: number;
  flickerPeriodPx: number;
  /** The illuminator's reflection on the glass (null: matte). */
  glare: { x: number; y: number; radiusPx: number; peak: number } | null;
}

export interface ScreenCapture {
  image: GreyImage;
  labels: GreyImage;
  truth: EyeTruth;
  screen: ScreenTruth;
}

/** Mean displayed level (share of white) of a photo through the tone curve. */
function meanDisplayed(image: GreyImage, gamma: number, black: number): number {
  const table = new Float64Array(256);
  for (let v = 0; v < 256; v++) table[v] = black + (1 - black) * (v / 255) ** gamma;
  let sum = 0;
  for (let i = 0; i < image.data.length; i++) sum += table[image.data[i] as number] as number;
  return sum / image.data.length;
}

/** Supersamples per pixel side: the sensor integrates the screen's pixel grid over each of its pixels. */
const SUPER = 4;

export function renderScreen(
  rng: Rng,
  identity: IdentityParams,
  session: SessionParams,
  texture: IrisTexture | undefined,
  width: number,
  height: number,
): ScreenCapture {
  const source = earlierCapture(rng.fork('source'), identity, texture, session.index);
  const map = new PlacementMap(drawPlacement(rng.fork('placement')), width, height);
  const lcd = rng.chance(0.75);
  const pitchPx = lcd ? rng.uniform(0.85, 2.2) : rng.uniform(1.2, 2.5);
  const gridAngleDeg = rng.chance(0.5) ? rng.normal(0, 0.5) : rng.normal(0, 4);
  const fillFactor = lcd ? rng.uniform(0.6, 0.9) : rng.uniform(0.85, 0.97);
  const gamma = lcd ? rng.uniform(1.2, 2.2) : rng.uniform(0.8, 1.2);
  const blackLevel = lcd ? rng.uniform(0.02, 0.1) : rng.uniform(0.12, 0.25);
  const levels = lcd ? 256 : 16;
  // The attacker turns the screen's brightness up until the camera's picture looks about right (an e-ink
  // page reflects a fixed share of the illuminator instead).
  const white = lcd
    ? rng.uniform(110, 180) / (fillFactor * fillFactor * meanDisplayed(source.eye.image, gamma, blackLevel))
    : rng.uniform(215, 275) * rng.uniform(0.45, 0.65);
  const screen: ScreenTruth = {
    sourceSeed: source.session.seed,
    placement: map.placement,
    display: lcd ? 'lcd' : 'e-ink',
    pitchPx,
    gridAngleDeg,
    fillFactor,
    gamma,
    white,
    blackLevel,
    levels,
    flickerDepth: lcd && rng.chance(0.6) ? rng.uniform(0.05, 0.35) : 0,
    flickerPeriodPx: rng.uniform(12, 160),
    glare:
      lcd && rng.chance(0.6)
        ? {
            x: width / 2 + rng.normal(0, 90),
            y: height / 2 + rng.normal(0, 70),
            radiusPx: rng.uniform(4, 20),
            peak: rng.uniform(150, 700),
          }
        : null,
  };
  const flickerPhase = rng.uniform(0, 2 * Math.PI);

  // Screen pixel (i, j) covers grid coordinates [i, i + 1) x [j, j + 1); grid = R(angle) (camera - centre) / pitch.
  const ca = Math.cos(screen.gridAngleDeg * DEG) / screen.pitchPx;
  const sa = Math.sin(screen.gridAngleDeg * DEG) / screen.pitchPx;
  const cx = width / 2;
  const cy = height / 2;
  // Grid -> camera: the inverse rotation times the pitch.
  const gx = Math.cos(screen.gridAngleDeg * DEG) * screen.pitchPx;
  const gy = Math.sin(screen.gridAngleDeg * DEG) * screen.pitchPx;
  const src = source.eye.image;
  const black = screen.blackLevel;
  const top = screen.levels - 1;
  /** Light from screen pixel (i, j): the photo sampled at the pixel's centre, driven through the tone curve. */
  const p: Point = { x: 0, y: 0 };
  const emitted = (i: number, j: number): number => {
    const u = i + 0.5;
    const v = j + 0.5;
    map.toSource(cx + u * gx - v * gy, cy + u * gy + v * gx, p);
    // Beyond the photo the screen shows black.
    const level = Math.round((sampleGrey(src, p.x, p.y, 0) / 255) * top) / top;
    return white * (black + (1 - black) * level ** screen.gamma);
  };
  const scene = new Float32Array(width * height);
  const ff = screen.fillFactor;
  const inv = 1 / (SUPER * SUPER);
  let lastI = Number.NaN;
  let lastJ = Number.NaN;
  let lastValue = 0;
  for (let y = 0; y < height; y++) {
    const band =
      1 -
      screen.flickerDepth * (0.5 - 0.5 * Math.cos((2 * Math.PI * y) / screen.flickerPeriodPx + flickerPhase));
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let b = 0; b < SUPER; b++) {
        const dy = y + (b + 0.5) / SUPER - 0.5 - cy;
        for (let a = 0; a < SUPER; a++) {
          const dx = x + (a + 0.5) / SUPER - 0.5 - cx;
          const u = dx * ca + dy * sa;
          const v = -dx * sa + dy * ca;
          const i = Math.floor(u);
          const j = Math.floor(v);
          // The black matrix between pixel apertures emits nothing.
          if (u - i > ff || v - j > ff) continue;
          if (i !== lastI || j !== lastJ) {
            lastValue = emitted(i, j);
            lastI = i;
            lastJ = j;
          }
          sum += lastValue;
        }
      }
      let value = sum * inv * band;
      if (screen.glare) {
        const g = screen.glare;
        const d = Math.hypot(x - g.x, y - g.y) / g.radiusPx;
        value += g.peak * (d < 1 ? 1 : Math.exp(-4 * (d - 1) * (d - 1))) + 0.05 * g.peak * Math.exp(-d / 4);
      }
      scene[y * width + x] = value;
    }
  }
  const image = { width, height, data: captureScene(scene, width, height, session, { emissive: lcd }) };
  const truth = placeTruth(source.eye.truth, map, session, 0.4 * screen.pitchPx);
  return { image, labels: placeLabels(source.eye.labels, map), truth, screen: roundNumbers(screen) };
}
