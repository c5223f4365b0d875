/** Sampling an 8-bit grey image between its pixel centres. */
import type { GreyImage } from './types.ts';

/**
 * Bilinear grey level (0-255) at a real position, the position clamped to the image (pixel (col, row) is
 * centred at (x, y) = (col, row)).
 */
export function bilinearGrey({ data, width: w, height: h }: GreyImage, x: number, y: number): number {
  const xc = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
  const yc = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
  const x0 = Math.min(w - 2, Math.floor(xc));
  const y0 = Math.min(h - 2, Math.floor(yc));
  const fx = xc - x0;
  const fy = yc - y0;
  const i = y0 * w + x0;
  const a = data[i] as number;
  const b = data[i + 1] as number;
  const c = data[i + w] as number;
  const d = data[i + w + 1] as number;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}
