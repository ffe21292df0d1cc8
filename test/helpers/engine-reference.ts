// Runs engine ops on our side and in PyTorch (scripts/engine_reference.py) on the same
// inputs, and compares the results. Tensors cross as JSON: shape, dtype, flat values.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { torch } from '../../src/index.js';
import { runPython, tempDir } from './python.js';

type Tensor = torch.Tensor;

export interface TensorJson {
  shape: number[];
  dtype: torch.DType;
  /** Results from PyTorch write non-finite values as 'inf', '-inf' or 'nan'. */
  values: (number | string)[];
}

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/** One op to check: PyTorch's `op` on `inputs` with `params`, against `ours`. */
export interface ReferenceCase {
  id: string;
  op: string;
  inputs: Record<string, Tensor>;
  params?: Record<string, unknown>;
  ours: (inputs: Record<string, Tensor>) => Tensor | Tensor[];
  tolerance?: Tolerance;
}

export function encode(t: Tensor): TensorJson {
  return { shape: t.shape, dtype: t.dtype, values: Array.from(t.toTypedArray() as ArrayLike<number | bigint>, Number) };
}

/** PyTorch's results for every case, by id (one Python run for all of them). */
export function referenceResults(cases: ReferenceCase[]): Map<string, TensorJson[]> {
  const dir = tempDir('resnets-engine-');
  try {
    const casesPath = join(dir.path, 'cases.json');
    const outPath = join(dir.path, 'reference.json');
    const payload = cases.map((c) => ({
      id: c.id,
      op: c.op,
      params: c.params ?? {},
      inputs: Object.fromEntries(Object.entries(c.inputs).map(([name, t]) => [name, encode(t)])),
    }));
    writeFileSync(casesPath, JSON.stringify(payload));
    runPython('engine_reference.py', [casesPath, outPath]);
    return new Map(Object.entries(JSON.parse(readFileSync(outPath, 'utf8')) as Record<string, TensorJson[]>));
  } finally {
    dir.cleanup();
  }
}

function numberOf(value: number | string): number {
  if (typeof value === 'number') return value;
  const special: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };
  if (!(value in special)) throw new Error(`unexpected value '${value}' in a reference result`);
  return special[value];
}

/** Same shape and dtype, values within `atol + rtol * |expected|` (NaN nowhere). */
export function assertMatches(actual: Tensor, expected: TensorJson, label: string, tolerance: Tolerance = {}): void {
  const { rtol = 1e-5, atol = 1e-6 } = tolerance;
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${label}: dtype`);
  const values = Array.from(actual.toTypedArray() as ArrayLike<number | bigint>, Number);
  assert.equal(values.length, expected.values.length, `${label}: element count`);
  for (let i = 0; i < values.length; i++) {
    const want = numberOf(expected.values[i]);
    const got = values[i];
    const ok = Number.isFinite(want)
      ? Math.abs(got - want) <= atol + rtol * Math.abs(want)
      : Object.is(got, want);
    assert.ok(ok, `${label}: element ${i} is ${got}, PyTorch gives ${want}`);
  }
}

/** Registers one node:test case per reference case, all compared after a single Python run. */
export function checkAgainstPyTorch(
  cases: ReferenceCase[],
  it: (name: string, fn: () => void) => unknown,
): void {
  let reference: Map<string, TensorJson[]> | Error | undefined;
  const results = (): Map<string, TensorJson[]> => {
    if (reference === undefined) {
      try {
        reference = referenceResults(cases);
      } catch (error) {
        reference = error as Error;
      }
    }
    if (reference instanceof Error) throw reference;
    return reference;
  };
  for (const c of cases) {
    it(`${c.id} matches PyTorch`, () => {
      const expected = results().get(c.id);
      assert.ok(expected, `no reference result for ${c.id}`);
      const ours = c.ours(c.inputs);
      const list = Array.isArray(ours) ? ours : [ours];
      assert.equal(list.length, expected.length, `${c.id}: number of results`);
      list.forEach((t, i) => assertMatches(t, expected[i], `${c.id}[${i}]`, c.tolerance));
    });
  }
}
