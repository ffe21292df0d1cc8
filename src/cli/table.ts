// Plain aligned text tables for terminal output.

/** Columns separated by two spaces; `alignRight` lists the numeric columns. */
export function formatTable(header: string[], rows: string[][], options: { alignRight?: number[] } = {}): string {
  const right = new Set(options.alignRight ?? []);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (right.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
