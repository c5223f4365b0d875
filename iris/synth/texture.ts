/**
 * Identity iris texture, defined on normalised (rubber-sheet) coordinates: angle theta in [0, 2 pi) measured
 * in the eye's own frame (clockwise on screen from the eye's +x axis) and normalised radius rho in [0, 1]
 * from the pupil boundary to the iris boundary. The renderer maps every iris pixel to (theta, rho), so pupil
 * dilation stretches the pattern like a rubber sheet and in-plane rotation rolls it.
 *
 * The pattern is a sum of anatomical layers, each drawn from the identity's seed only (so different seeds give
 * independent textures): fine and coarse radial fibres that curve and wiggle, an isotropic grain, a wavy
 * collarette ridge at 25-45% radius separating the pupillary and ciliary zones, crypts (dark lozenges with a
 * lighter rim, mostly just outside the collarette), concentric contraction furrows in the outer zone, pigment
 * spots, the dark pupillary ruff and a smooth radial profile. The weights of every layer are drawn per
 * identity, so irises range from smooth and fibrous to crypt-heavy. The result is standardised (mean 0,
 * standard deviation 1); the renderer turns it into brightness with a per-identity contrast.
 *
 * Spectrum: fibres have an angular correlation of about 1 cell of 1,024, so there is energy well beyond the
 * 64 cycles per turn of open-iris's finest Gabor filter (wavelength 8 of 512 samples).
 */
import { wrapAngle } from '../segmentation/geometry.ts';
import { blurredNoise, coarseBlurredNoise, smoothField, smoothstep, standardize } from './fields.ts';
import { Rng } from './random.ts';

/** Texture grid size: radial rows x angular columns. */
export const TEXTURE_RADIAL = 128;
export const TEXTURE_ANGULAR = 1024;

const TWO_PI = 2 * Math.PI;

/** Values on a polar grid: radial x angular cells, row-major (see sampleTexture for where each sits). */
export interface PolarGrid {
  /** Rows, from the inner edge (row 0) to the outer edge. */
  radial: number;
  /** Columns around the circle. */
  angular: number;
  data: Float32Array;
}

/** An identity's iris texture: rows from the pupil boundary to the iris boundary, mean 0, sd 1. */
export type IrisTexture = PolarGrid;

/** A random smooth periodic function of the angle: a sum of a few sinusoids. */
function periodicWobble(
  rng: Rng,
  terms: number,
  minK: number,
  maxK: number,
  amplitude: number,
): (t: number) => number {
  const ks: number[] = [];
  const amps: number[] = [];
  const phases: number[] = [];
  for (let i = 0; i < terms; i++) {
    ks.push(rng.int(minK, maxK));
    amps.push((amplitude * rng.normal()) / Math.sqrt(terms));
    phases.push(rng.uniform(0, TWO_PI));
  }
  return (t: number) => {
    let s = 0;
    for (let i = 0; i < terms; i++)
      s += (amps[i] as number) * Math.sin((ks[i] as number) * t + (phases[i] as number));
    return s;
  };
}

/** Resamples each row of a radial x angular field with a per-cell angular shift (in cells), wrapping. */
function shearRows(src: Float32Array, rows: number, cols: number, shift: Float32Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const s = c + (shift[base + c] as number);
      const f = Math.floor(s);
      const t = s - f;
      const c0 = ((f % cols) + cols) % cols;
      const c1 = c0 + 1 === cols ? 0 : c0 + 1;
      out[base + c] = (src[base + c0] as number) * (1 - t) + (src[base + c1] as number) * t;
    }
  }
  return out;
}

/** Generates the texture of one identity from its seed (about 30 ms). */
export function generateIrisTexture(seed: number): IrisTexture {
  const rng = new Rng(seed);
  const R = TEXTURE_RADIAL;
  const A = TEXTURE_ANGULAR;
  const n = R * A;
  const rhoOf = (r: number) => (r + 0.5) / R;
  const thetaOf = (c: number) => (TWO_PI * (c + 0.5)) / A;

  // Fibre paths: a global swirl plus a smooth wiggle, as an angular shift (in cells) of every cell.
  const swirl = rng.normal(0, 0.08); // radians of twist from pupil to limbus
  const wiggleAmp = rng.uniform(0.5, 2.5);
  const wiggle = smoothField(rng.fork('wiggle'), A, R, 40, true);
  const shift = new Float32Array(n);
  for (let r = 0; r < R; r++) {
    const twist = (swirl * (rhoOf(r) - 0.5) * A) / TWO_PI;
    for (let c = 0; c < A; c++) shift[r * A + c] = twist + wiggleAmp * (wiggle[r * A + c] as number);
  }

  // Fine fibres (the high-frequency content) and coarse trabeculae, both elongated radially.
  const fine = shearRows(
    blurredNoise(rng.fork('fine'), A, R, rng.uniform(0.8, 1.4), rng.uniform(3, 7), true),
    R,
    A,
    shift,
  );
  const coarse = shearRows(
    coarseBlurredNoise(rng.fork('coarse'), A, R, rng.uniform(2.5, 5), rng.uniform(8, 16), 1, 4, true),
    R,
    A,
    shift,
  );
  const grain = blurredNoise(rng.fork('grain'), A, R, rng.uniform(1.2, 2.5), rng.uniform(1.2, 2.5), true);
  // Blotches: medium-scale patches of lighter and darker stroma.
  const blotch = coarseBlurredNoise(
    rng.fork('blotch'),
    A,
    R,
    rng.uniform(5, 12),
    rng.uniform(4, 9),
    2,
    2,
    true,
  );
  // How strong the fibres are along the radius (e.g. crisper in the pupillary zone for some eyes).
  const fibreProfile = periodicWobble(rng, 3, 1, 3, 0.35);
  const wFine = rng.uniform(0.5, 0.9);
  const wCoarse = rng.uniform(0.4, 0.9);
  const wGrain = rng.uniform(0.15, 0.5);
  const wBlotch = rng.uniform(0.3, 1.0);

  // Collarette: a wavy ring between the pupillary and ciliary zones.
  const collRho = rng.uniform(0.25, 0.42);
  const collWave = periodicWobble(rng, 6, 3, 24, rng.uniform(0.02, 0.06));
  const collWidth = rng.uniform(0.015, 0.04);
  const collHeight = rng.uniform(0.3, 1.4) * (rng.chance(0.7) ? 1 : -1);
  const pupillaryOffset = rng.uniform(-0.8, 0.8);

  // A smooth radial brightness profile and a pupillary ruff (dark band with a ragged edge at the pupil).
  const radialProfile = periodicWobble(rng, 3, 1, 4, 0.4);
  const ruffDepth = rng.uniform(0.6, 2.0);
  const ruffWidth = rng.uniform(0.025, 0.07);
  const ruffWave = periodicWobble(rng, 8, 20, 90, 0.012);

  // Per-column tables of the collarette and ruff outlines.
  const collarette = new Float32Array(A);
  const ruffEdge = new Float32Array(A);
  for (let c = 0; c < A; c++) {
    collarette[c] = collRho + collWave(thetaOf(c));
    ruffEdge[c] = ruffWidth + ruffWave(thetaOf(c));
  }
  const collaretteAt = (theta: number) => collRho + collWave(theta);

  const data = new Float32Array(n);
  for (let r = 0; r < R; r++) {
    const rho = rhoOf(r);
    const fibreGain = 1 + fibreProfile(Math.PI * rho);
    const radial = radialProfile(Math.PI * rho);
    for (let c = 0; c < A; c++) {
      const i = r * A + c;
      const rc = collarette[c] as number;
      let v =
        fibreGain * (wFine * (fine[i] as number) + wCoarse * (coarse[i] as number)) +
        wGrain * (grain[i] as number) +
        wBlotch * (blotch[i] as number) +
        radial;
      const dc = (rho - rc) / collWidth;
      if (dc > -4 && dc < 4) v += collHeight * Math.exp(-dc * dc);
      v += pupillaryOffset * smoothstep(rc + 0.01, rc - 0.03, rho);
      if (rho < 0.2) v -= ruffDepth * smoothstep(ruffEdge[c] as number, 0.005, rho);
      data[i] = v;
    }
  }

  // Crypts: dark lozenges elongated radially, with a lighter rim, most just outside the collarette.
  const crypts = Math.round(rng.uniform(0, 1) ** 1.3 * 28);
  for (let k = 0; k < crypts; k++) {
    const theta = rng.uniform(0, TWO_PI);
    const rho = rng.chance(0.6)
      ? collaretteAt(theta) + Math.abs(rng.normal(0.06, 0.06))
      : rng.uniform(0.08, 0.92);
    stampBlob(data, rng, {
      theta,
      rho,
      halfAngle: rng.uniform(0.03, 0.14),
      halfRadius: rng.uniform(0.05, 0.18),
      depth: -rng.uniform(0.8, 2.5),
      rim: rng.uniform(0, 0.8),
      power: rng.uniform(1.1, 2.2),
    });
  }

  // Pigment spots: small round blobs, mostly dark.
  const spots = rng.int(0, 10);
  for (let k = 0; k < spots; k++) {
    const rho = rng.uniform(0.1, 0.95);
    const size = rng.uniform(0.015, 0.05);
    stampBlob(data, rng, {
      theta: rng.uniform(0, TWO_PI),
      rho,
      halfAngle: (size * rng.uniform(0.8, 1.3)) / (0.5 + rho),
      halfRadius: size,
      depth: rng.uniform(1, 2.5) * (rng.chance(0.75) ? -1 : 1),
      rim: 0,
      power: 2,
    });
  }

  // Contraction furrows: thin dark concentric arcs in the outer (ciliary) zone.
  const furrows = rng.int(0, 8);
  for (let k = 0; k < furrows; k++) {
    const rho0 = rng.uniform(0.55, 0.95);
    const centre = rng.uniform(0, TWO_PI);
    const half = rng.uniform(0.2, 1.6);
    const width = rng.uniform(0.008, 0.025);
    const depth = rng.uniform(0.6, 2.0);
    const wave = periodicWobble(rng, 3, 4, 20, 0.012);
    const r0 = Math.max(0, Math.floor((rho0 - 0.06) * R));
    const r1 = Math.min(R - 1, Math.ceil((rho0 + 0.06) * R));
    for (let c = 0; c < A; c++) {
      const theta = thetaOf(c);
      const d = Math.abs(wrapAngle(theta - centre)) / half;
      if (d >= 1) continue;
      const taper = 1 - d * d;
      const rf = rho0 + wave(theta);
      for (let r = r0; r <= r1; r++) {
        const x = (rhoOf(r) - rf) / width;
        const i = r * A + c;
        data[i] = (data[i] as number) - depth * taper * Math.exp(-x * x);
      }
    }
  }

  return { radial: R, angular: A, data: standardize(data) };
}

interface Blob {
  theta: number;
  rho: number;
  halfAngle: number;
  halfRadius: number;
  depth: number;
  rim: number;
  power: number;
}

/** Adds one crypt/spot: a superellipse in (theta, rho) with a ragged outline and an optional lighter rim. */
function stampBlob(data: Float32Array, rng: Rng, blob: Blob): void {
  const R = TEXTURE_RADIAL;
  const A = TEXTURE_ANGULAR;
  // The ragged outline: a radius factor per direction, tabulated.
  const wobble = periodicWobble(rng, 4, 2, 7, 0.25);
  const EDGE_STEPS = 256;
  const edge = new Float32Array(EDGE_STEPS + 1);
  for (let k = 0; k <= EDGE_STEPS; k++)
    edge[k] = 1 / Math.max(0.4, 1 + wobble(-Math.PI + (TWO_PI * k) / EDGE_STEPS));
  const reach = 1.5;
  const p = blob.power;
  const r0 = Math.max(0, Math.floor((blob.rho - reach * blob.halfRadius) * R));
  const r1 = Math.min(R - 1, Math.ceil((blob.rho + reach * blob.halfRadius) * R));
  const span = Math.ceil((reach * blob.halfAngle * A) / TWO_PI) + 1;
  const c0 = Math.round((blob.theta * A) / TWO_PI);
  for (let r = r0; r <= r1; r++) {
    const dy = ((r + 0.5) / R - blob.rho) / blob.halfRadius;
    const py = Math.abs(dy) ** p;
    for (let dc = -span; dc <= span; dc++) {
      const c = (((c0 + dc) % A) + A) % A;
      const dx = wrapAngle((TWO_PI * (c + 0.5)) / A - blob.theta) / blob.halfAngle;
      const d = (Math.abs(dx) ** p + py) ** (1 / p);
      if (d > 2.5 * reach) continue;
      const q = d * (edge[Math.round(((Math.atan2(dy, dx) + Math.PI) * EDGE_STEPS) / TWO_PI)] as number);
      if (q > reach) continue;
      const i = r * A + c;
      const body = smoothstep(1, 0.45, q);
      const rimX = (q - 1.05) / 0.15;
      data[i] = (data[i] as number) + blob.depth * body + blob.rim * Math.exp(-rimX * rimX);
    }
  }
}

/**
 * Bilinear sample at angle theta (radians, any value; wraps) and normalised radius rho (clamped to [0, 1]).
 * Cell (r, c) sits at rho = (r + 0.5) / radial, theta = 2 pi (c + 0.5) / angular.
 */
export function sampleTexture(tex: PolarGrid, theta: number, rho: number): number {
  const A = tex.angular;
  const R = tex.radial;
  let x = (theta * A) / TWO_PI - 0.5;
  x -= A * Math.floor(x / A);
  if (x >= A) x = 0;
  let y = rho * R - 0.5;
  if (y < 0) y = 0;
  else if (y > R - 1) y = R - 1;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const x1 = x0 + 1 >= A ? 0 : x0 + 1;
  const y1 = y0 + 1 >= R ? R - 1 : y0 + 1;
  const d = tex.data;
  const r0 = y0 * A;
  const r1 = y1 * A;
  const top = (d[r0 + x0] as number) * (1 - fx) + (d[r0 + x1] as number) * fx;
  const bottom = (d[r1 + x0] as number) * (1 - fx) + (d[r1 + x1] as number) * fx;
  return top * (1 - fy) + bottom * fy;
}

const exponentCache = new WeakMap<IrisTexture, { contrast: number; texture: IrisTexture }>();

/** exp(contrast * texture), cached per texture (the renderer samples brightness ratios directly). */
export function exponentiated(tex: IrisTexture, contrast: number): IrisTexture {
  const cached = exponentCache.get(tex);
  if (cached && cached.contrast === contrast) return cached.texture;
  const data = new Float32Array(tex.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.exp(contrast * (tex.data[i] as number));
  const texture = { radial: tex.radial, angular: tex.angular, data };
  exponentCache.set(tex, { contrast, texture });
  return texture;
}
