// Values in a module's printed tree written as Python writes them, so the tree reads
// like PyTorch's: tuples '(3, 3)', floats '1e-05' and '0.1', 'True', 'None'.
import type { Pair } from '../torch/functional.js';

/** Python's repr of a float: '1.0', '0.1', '1e-05'. */
export function pyFloat(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return `${value}.0`;
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e16)) return value.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return String(value);
}

export function pyBool(value: boolean): string {
  return value ? 'True' : 'False';
}

/** An int or a tuple of ints, as given: 3 stays '3', [3, 3] is '(3, 3)'. */
export function pyInts(value: Pair): string {
  return Array.isArray(value) ? `(${value.join(', ')})` : String(value);
}
