/**
 * How a printer turns grey levels into ink on paper, as seen by a near-infrared camera: black toner or
 * carbon ink absorbs NIR (colour inks are nearly transparent there, so attackers print in black), and the
 * paper is a bright diffuse reflector with a fibrous texture.
 *
 * - AM (clustered-dot) screens: laser printers and offset print. Dots on a square grid of `period` at
 *   `angleDeg` grow with the ink coverage; at an eye held life-size in front of the camera a 100-150 lpi screen
 *   has a period of 3-6 camera pixels, which the camera resolves as a dot pattern.
 * - FM (stochastic) screens: inkjet printers. Droplets far smaller than a camera pixel, scattered with a
 *   density that follows the coverage: what a sample sees is the coverage plus binomial grain, the fewer
 *   droplets per sample the coarser.
 * Coordinates are whatever the caller prints in (camera pixels for a full-page print, iris radii for a patch).
 */
import { hashSeed } from '../synth/random.ts';

export interface HalftoneScreen {
  kind: 'am' | 'fm';
  /** AM: dot pitch; FM: the footprint of one sample (in the caller's units). */
  period: number;
  /** AM: screen angle, degrees. */
  angleDeg: number;
  /** FM: droplets per sample footprint, and the seed of their placement. */
  droplets: number;
  seed: number;
}

/** Prepared screen: the ink (0 or 1) at a point for a wanted coverage. */
export interface Halftoner {
  /** The share of (x, y)'s sample covered by ink for the local ink coverage `coverage` in [0, 1]. */
  ink(x: number, y: number, coverage: number): number;
}

export function halftoner(screen: HalftoneScreen): Halftoner {
  const a = (screen.angleDeg * Math.PI) / 180;
  const c = Math.cos(a) / screen.period;
  const s = Math.sin(a) / screen.period;
  const k = 2 * Math.PI;
  if (screen.kind === 'am') {
    // The classic round dot: f in [0, 1], and {f > 1 - coverage} covers about `coverage` of each cell.
    return {
      ink(x, y, coverage) {
        const p = x * c + y * s;
        const q = -x * s + y * c;
        const f = 0.5 + 0.25 * (Math.cos(k * p) + Math.cos(k * q));
        return f > 1 - coverage ? 1 : 0;
      },
    };
  }
  // FM: the droplets in one footprint cell are a binomial draw; its normal approximation uses a per-cell
  // deviate from an integer hash of the cell (Irwin-Hall of three uniforms, no table to store).
  const seed = screen.seed | 0;
  const inv = 1 / screen.period;
  const grain = 1 / Math.sqrt(Math.max(1, screen.droplets));
  const uniform = (h0: number): number => {
    let h = Math.imul(h0 ^ (h0 >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    return (h >>> 0) / 4294967296;
  };
  return {
    ink(x, y, coverage) {
      const h =
        Math.imul(Math.floor(x * inv), 0x27d4eb2d) ^ Math.imul(Math.floor(y * inv), 0x165667b1) ^ seed;
      const z = 2 * (uniform(h) + uniform(h + 0x9e3779b9) + uniform(h + 0x3c6ef372) - 1.5);
      const c = coverage + grain * Math.sqrt(coverage * (1 - coverage)) * z;
      return c < 0 ? 0 : c > 1 ? 1 : c;
    },
  };
}

/** A seed for an FM screen from any labels. */
export function screenSeed(...parts: Array<number | string>): number {
  return hashSeed(...parts);
}

/**
 * The ink coverage with which a printer renders tone t (0 black .. 1 white): its tone curve (gamma, which also
 * stands for dot gain) maps t to a target reflectance paper - (paper - ink) * coverage.
 */
export function coverageFor(t: number, gamma: number): number {
  const tone = t <= 0 ? 0 : t >= 1 ? 1 : t ** gamma;
  return 1 - tone;
}
