/** What every benchmark prints with: percentiles and fixed-width result tables. */

/** Nearest-rank percentile of a list (sorted here; the input is left as it is). */
export function percentile(values: readonly number[], fraction: number): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
}

export interface Column<T> {
  title: string;
  width: number;
  alignLeft?: boolean;
  cell: (row: T) => string;
}

export function table<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const line = (text: (column: Column<T>) => string) =>
    columns
      .map((column) =>
        column.alignLeft ? text(column).padEnd(column.width) : text(column).padStart(column.width),
      )
      .join('  ');
  return [line((column) => column.title), ...rows.map((row) => line((column) => column.cell(row)))].join(
    '\n',
  );
}
