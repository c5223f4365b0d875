/**
 * Features of the rubber-sheet image block by block, for the patch detector (patch-mask.ts). A patch (a
 * sticker or printed film on the cornea) is a piece of surface that is not iris: its brightness, contrast,
 * grain and orientation differ from the iris around it at the same radius, and its outline is an edge that
 * no iris has. Each block of PATCH_BLOCK_ROWS x PATCH_BLOCK_COLUMNS samples is described relative to the
 * median of its ring (the blocks at the same radius), so the features do not depend on the eye's
 * brightness or contrast, only on how a block stands out from the rest of its iris.
 *
 * Iris texture is made of radial fibres and crypts: it varies much more along the angle than along the
 * radius, and neighbouring rows are strongly correlated. Random and printed textures are isotropic, halftone
 * dots add energy at the finest scale, and an outline is a strong step in one block and nowhere else.
 */
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH, type NormalizedIris } from '../../protocol/iris-code-layout.ts';
import { median } from '../segmentation/image-ops.ts';

export const PATCH_BLOCK_ROWS = 8;
export const PATCH_BLOCK_COLUMNS = 16;
export const PATCH_GRID_ROWS = NORMALIZED_HEIGHT / PATCH_BLOCK_ROWS; // 16
export const PATCH_GRID_COLUMNS = NORMALIZED_WIDTH / PATCH_BLOCK_COLUMNS; // 32
export const PATCH_BLOCKS = PATCH_GRID_ROWS * PATCH_GRID_COLUMNS;
/** A block takes part when at least this share of its samples is usable iris. */
export const MIN_BLOCK_USABLE = 0.5;

/** Per-block raw measurements; the features are these relative to the ring. */
const RAW = ['mean', 'std', 'fine', 'angular', 'radial', 'edge', 'rowCorr'] as const;

export const PATCH_FEATURE_NAMES: readonly string[] = [
  'meanDev',
  'meanDevAbs',
  'logStdRatio',
  'logFineRatio',
  'anisotropy',
  'anisotropyDev',
  'logEdgeRatio',
  'rowCorr',
  'rowCorrDev',
  'neighbourMeanDevAbs',
  'neighbourEdge',
  'neighbourAnisotropyDev',
  'radius',
  'irisContrast',
];
export const PATCH_FEATURE_COUNT = PATCH_FEATURE_NAMES.length;

export interface PatchBlockFeatures {
  /** Row-major PATCH_BLOCKS x PATCH_FEATURE_COUNT; rows of blocks that do not take part are zero. */
  features: Float32Array;
  /** 1 where the block takes part (enough usable samples). */
  active: Uint8Array;
}

/** The raw per-block measurements over usable samples (angular neighbours wrap around). */
function rawBlocks(n: NormalizedIris): { raw: Float64Array; active: Uint8Array } {
  const H = NORMALIZED_HEIGHT;
  const W = NORMALIZED_WIDTH;
  const { pixels, mask } = n;
  const k = RAW.length;
  const raw = new Float64Array(PATCH_BLOCKS * k);
  const active = new Uint8Array(PATCH_BLOCKS);
  const px = (r: number, c: number) => pixels[r * W + ((c + W) % W)] as number;
  const ok = (r: number, c: number) => r >= 0 && r < H && mask[r * W + ((c + W) % W)] === 1;
  for (let br = 0; br < PATCH_GRID_ROWS; br++) {
    for (let bc = 0; bc < PATCH_GRID_COLUMNS; bc++) {
      let count = 0;
      let sum = 0;
      let sum2 = 0;
      let fine = 0;
      let fineN = 0;
      let ang = 0;
      let rad = 0;
      let gradN = 0;
      let edge = 0;
      let cxy = 0;
      let cxx = 0;
      let cyy = 0;
      let cx = 0;
      let cy = 0;
      let corrN = 0;
      for (let r = br * PATCH_BLOCK_ROWS; r < (br + 1) * PATCH_BLOCK_ROWS; r++) {
        for (let c = bc * PATCH_BLOCK_COLUMNS; c < (bc + 1) * PATCH_BLOCK_COLUMNS; c++) {
          if (!ok(r, c)) continue;
          const v = px(r, c);
          count++;
          sum += v;
          sum2 += v * v;
          if (ok(r, c - 1) && ok(r, c + 1) && ok(r - 1, c) && ok(r + 1, c)) {
            const lap = 4 * v - px(r, c - 1) - px(r, c + 1) - px(r - 1, c) - px(r + 1, c);
            fine += lap * lap;
            fineN++;
            const ga = (px(r, c + 1) - px(r, c - 1)) / 2;
            const gr = (px(r + 1, c) - px(r - 1, c)) / 2;
            ang += ga * ga;
            rad += gr * gr;
            gradN++;
            edge = Math.max(edge, Math.hypot(ga, gr));
          }
          if (ok(r + 1, c)) {
            const w = px(r + 1, c);
            cx += v;
            cy += w;
            cxy += v * w;
            cxx += v * v;
            cyy += w * w;
            corrN++;
          }
        }
      }
      const b = br * PATCH_GRID_COLUMNS + bc;
      if (count < MIN_BLOCK_USABLE * PATCH_BLOCK_ROWS * PATCH_BLOCK_COLUMNS || gradN < 8 || corrN < 8)
        continue;
      active[b] = 1;
      const mean = sum / count;
      const varXY = cxy / corrN - (cx / corrN) * (cy / corrN);
      const varX = cxx / corrN - (cx / corrN) ** 2;
      const varY = cyy / corrN - (cy / corrN) ** 2;
      const o = b * k;
      raw[o] = mean;
      raw[o + 1] = Math.sqrt(Math.max(0, sum2 / count - mean * mean));
      raw[o + 2] = Math.sqrt(fine / fineN);
      raw[o + 3] = ang / gradN;
      raw[o + 4] = rad / gradN;
      raw[o + 5] = edge;
      raw[o + 6] = varXY / Math.sqrt(Math.max(1e-12, varX * varY));
    }
  }
  return { raw, active };
}

/** The block features of a rubber-sheet image (pixels in [0, 1], mask 1 = usable iris). */
export function patchBlockFeatures(n: NormalizedIris): PatchBlockFeatures {
  const { raw, active } = rawBlocks(n);
  const k = RAW.length;
  const f = PATCH_FEATURE_COUNT;
  const at = (b: number, i: number) => raw[b * k + i] as number;
  const eps = 1e-4;
  // Ring references (medians over the active blocks of a block row) and whole-iris references.
  const anisotropyOf = (b: number) => Math.log((at(b, 3) + eps) / (at(b, 4) + eps));
  const all = (i: number) => {
    const v: number[] = [];
    for (let b = 0; b < PATCH_BLOCKS; b++) if (active[b]) v.push(i < 0 ? anisotropyOf(b) : at(b, i));
    return v;
  };
  const irisStd = median(all(1));
  const irisMeans = all(0);
  const irisMean = median(irisMeans);
  const meanSpread = Math.max(0.01, median(irisMeans.map((v) => Math.abs(v - irisMean))) * 1.4826);
  /** Median of measurement i (-1: anisotropy) over the ring's active blocks, or the whole iris's. */
  const ringRef = (br: number, i: number) => {
    const v: number[] = [];
    for (let bc = 0; bc < PATCH_GRID_COLUMNS; bc++) {
      const b = br * PATCH_GRID_COLUMNS + bc;
      if (active[b]) v.push(i < 0 ? anisotropyOf(b) : at(b, i));
    }
    // Too few blocks in the ring: fall back on the whole iris.
    return v.length >= 6 ? median(v) : median(all(i));
  };
  const features = new Float32Array(PATCH_BLOCKS * f);
  const base = new Float64Array(PATCH_BLOCKS * 3); // |meanDev|, edge ratio, |anisotropyDev| for neighbours
  for (let br = 0; br < PATCH_GRID_ROWS; br++) {
    const mean = ringRef(br, 0);
    const std = Math.max(eps, ringRef(br, 1));
    const fine = Math.max(eps, ringRef(br, 2));
    const edge = Math.max(eps, ringRef(br, 5));
    const anisoRef = ringRef(br, -1);
    const corrRef = ringRef(br, 6);
    for (let bc = 0; bc < PATCH_GRID_COLUMNS; bc++) {
      const b = br * PATCH_GRID_COLUMNS + bc;
      if (!active[b]) continue;
      const o = b * f;
      const meanDev = (at(b, 0) - mean) / meanSpread;
      const anisotropy = anisotropyOf(b);
      const edgeRatio = Math.log((at(b, 5) + eps) / edge);
      features[o] = meanDev;
      features[o + 1] = Math.abs(meanDev);
      features[o + 2] = Math.log((at(b, 1) + eps) / std);
      features[o + 3] = Math.log((at(b, 2) + eps) / fine);
      features[o + 4] = anisotropy;
      features[o + 5] = anisotropy - anisoRef;
      features[o + 6] = edgeRatio;
      features[o + 7] = at(b, 6);
      features[o + 8] = at(b, 6) - corrRef;
      features[o + 12] = (br + 0.5) / PATCH_GRID_ROWS;
      features[o + 13] = Math.log((irisStd + eps) / Math.max(eps, irisMean));
      base[b * 3] = Math.abs(meanDev);
      base[b * 3 + 1] = edgeRatio;
      base[b * 3 + 2] = Math.abs(anisotropy - anisoRef);
    }
  }
  // Neighbourhood: the largest value among the 8 neighbouring active blocks (angular wrap).
  for (let br = 0; br < PATCH_GRID_ROWS; br++) {
    for (let bc = 0; bc < PATCH_GRID_COLUMNS; bc++) {
      const b = br * PATCH_GRID_COLUMNS + bc;
      if (!active[b]) continue;
      let m0 = 0;
      let m1 = -10;
      let m2 = 0;
      for (let dr = -1; dr <= 1; dr++) {
        const r = br + dr;
        if (r < 0 || r >= PATCH_GRID_ROWS) continue;
        for (let dc = -1; dc <= 1; dc++) {
          if (dr === 0 && dc === 0) continue;
          const nb = r * PATCH_GRID_COLUMNS + ((bc + dc + PATCH_GRID_COLUMNS) % PATCH_GRID_COLUMNS);
          if (!active[nb]) continue;
          m0 = Math.max(m0, base[nb * 3] as number);
          m1 = Math.max(m1, base[nb * 3 + 1] as number);
          m2 = Math.max(m2, base[nb * 3 + 2] as number);
        }
      }
      const o = b * f;
      features[o + 9] = m0;
      features[o + 10] = m1 === -10 ? 0 : m1;
      features[o + 11] = m2;
    }
  }
  return { features, active };
}
