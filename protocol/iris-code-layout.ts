/**
 * The layout of an iris code, as open-iris defines it: a boolean array of shape (16, 256, 2, 2) with axes
 * (radial row, angular column, filter, real/imaginary), in C order. Bit i of `code` and of `mask` is the
 * element at index ((row * 256 + column) * 2 + filter) * 2 + part. Both arrays hold one 0/1 value per byte.
 */
export const CODE_ROWS = 16;
export const CODE_COLUMNS = 256;
export const CODE_FILTERS = 2;
export const CODE_PARTS = 2;
export const CODE_BITS = CODE_ROWS * CODE_COLUMNS * CODE_FILTERS * CODE_PARTS;
/** Bits in one angular column (all rows are separate: a column's bits are not contiguous). */
export const BITS_PER_CELL = CODE_FILTERS * CODE_PARTS;

export interface IrisCode {
  /** 16,384 values of 0 or 1. */
  code: Uint8Array;
  /** 16,384 values of 0 or 1; 1 = the bit is usable. */
  mask: Uint8Array;
}

export function codeBitIndex(row: number, column: number, filter: number, part: number): number {
  return ((row * CODE_COLUMNS + column) * CODE_FILTERS + filter) * CODE_PARTS + part;
}
