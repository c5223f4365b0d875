/**
 * Printed iris photo: an earlier capture of the person, printed on paper and held in front of the camera.
 *
 * The print: the photo's grey levels go through the printer's tone curve into black ink coverage, rendered
 * by a halftone screen (laser: clustered dots 2.5-5 camera pixels apart; inkjet: scattered droplets of
 * 0.12-0.3 pixels, seen as grain) on
 * paper with a fibrous texture. In NIR, paper white reflects 78-93% and black toner 3-15%, so the print has a
 * limited dynamic range, and the photo's own specular highlights print as flat paper white instead of
 * saturating. There is no cornea: the camera's illuminator gives no corneal reflection, only, on glossy paper,
 * a broad flat highlight. Nothing in a print reacts to light (no pupil reflex).
 *
 * The camera then captures the print like any scene: its lighting, defocus and sensor noise (captureScene).
 */

import { smoothField } from '../synth/fields.ts';
import type { Rng } from '../synth/random.ts';
import { captureScene } from '../synth/render.ts';
import type { IrisTexture } from '../synth/texture.ts';
import type { EyeTruth, IdentityParams, Point, SessionParams } from '../synth/types.ts';
import type { GreyImage } from '../types.ts';
import { coverageFor, halftoner, screenSeed } from './halftone.ts';
import {
  drawPlacement,
  earlierCapture,
  PlacementMap,
  placeLabels,
  placeTruth,
  roundNumbers,
  sampleGrey,
} from './recapture.ts';

export interface PrintTruth {
  /** The session index and seed of the printed capture. */
  sourceSeed: number;
  placement: { scale: number; rotationDeg: number; shift: Point };
  printer: 'laser' | 'inkjet';
  /** Halftone dot pitch (laser) or droplet size (inkjet), camera pixels; screen angle, degrees (laser). */
  screenPeriodPx: number;
  screenAngleDeg: number;
  /** Printer tone curve exponent, paper and ink reflectance, paper texture amplitude. */
  toneGamma: number;
  paperReflectance: number;
  inkReflectance: number;
  paperTexture: number;
  /** Peak of the broad highlight of glossy paper as a share of paper white (0: matte). */
  glossHighlight: number;
}

export interface PrintCapture {
  image: GreyImage;
  labels: GreyImage;
  truth: EyeTruth;
  print: PrintTruth;
}

/** Supersamples per pixel side when rendering the halftone (the camera integrates over each pixel). */
const SUPER = 3;

export function renderPrint(
  rng: Rng,
  identity: IdentityParams,
  session: SessionParams,
  texture: IrisTexture | undefined,
  width: number,
  height: number,
): PrintCapture {
  const source = earlierCapture(rng.fork('source'), identity, texture, session.index);
  const map = new PlacementMap(drawPlacement(rng.fork('placement')), width, height);
  const laser = rng.chance(0.6);
  const print: PrintTruth = {
    sourceSeed: source.session.seed,
    placement: map.placement,
    printer: laser ? 'laser' : 'inkjet',
    screenPeriodPx: laser ? rng.uniform(2.5, 5) : rng.uniform(0.12, 0.3),
    screenAngleDeg: laser ? (rng.chance(0.5) ? 45 : rng.uniform(0, 90)) : 0,
    toneGamma: rng.uniform(0.7, 1.4),
    paperReflectance: rng.uniform(0.78, 0.93),
    inkReflectance: rng.uniform(0.03, 0.15),
    paperTexture: rng.uniform(0.015, 0.05),
    glossHighlight: rng.chance(0.4) ? rng.uniform(0.05, 0.3) : 0,
  };
  // Light reaching the paper, in scene grey levels per unit reflectance.
  const illuminant = rng.uniform(215, 275);
  const screen = halftoner({
    kind: laser ? 'am' : 'fm',
    period: laser ? print.screenPeriodPx : 1 / SUPER,
    angleDeg: print.screenAngleDeg,
    droplets: (1 / SUPER / print.screenPeriodPx) ** 2,
    seed: screenSeed(rng.nextU32(), 'droplets'),
  });
  const fibre = smoothField(rng.fork('fibre'), width, height, rng.uniform(2, 6));
  const highlight = {
    x: width / 2 + rng.normal(0, 80),
    y: height / 2 + rng.normal(0, 60),
    sigma: rng.uniform(40, 140),
  };

  const paper = print.paperReflectance;
  const ink = print.inkReflectance;
  const src = source.eye.image;
  const scene = new Float32Array(width * height);
  const p: Point = { x: 0, y: 0 };
  const inv = 1 / (SUPER * SUPER);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let inked = 0;
      for (let j = 0; j < SUPER; j++) {
        const sy = y + (j + 0.5) / SUPER - 0.5;
        for (let i = 0; i < SUPER; i++) {
          const sx = x + (i + 0.5) / SUPER - 0.5;
          map.toSource(sx, sy, p);
          // Beyond the printed photo the paper is blank.
          const tone = sampleGrey(src, p.x, p.y, 255) / 255;
          // The screen is fixed to the paper: it turns with the print.
          inked += screen.ink(p.x, p.y, coverageFor(tone, print.toneGamma));
        }
      }
      const i = y * width + x;
      const coverage = inked * inv;
      const reflectance =
        (paper - (paper - ink) * coverage) * (1 + print.paperTexture * (fibre[i] as number));
      let value = illuminant * reflectance;
      if (print.glossHighlight > 0) {
        const d2 = (x - highlight.x) ** 2 + (y - highlight.y) ** 2;
        value += illuminant * paper * print.glossHighlight * Math.exp(-d2 / (2 * highlight.sigma ** 2));
      }
      scene[i] = value;
    }
  }
  const image = { width, height, data: captureScene(scene, width, height, session) };
  const truth = placeTruth(source.eye.truth, map, session, laser ? 0.3 : 0.5);
  return { image, labels: placeLabels(source.eye.labels, map), truth, print: roundNumbers(print) };
}
