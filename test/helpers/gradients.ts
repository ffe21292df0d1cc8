// Gradients (or any named float arrays) of two runs, compared key by key.
import assert from 'node:assert/strict';
import type { Module } from '../../src/nn/module.js';

/** Each parameter's gradient by name; a parameter with none (a dropped path) maps to an empty array. */
export function gradientsOf(model: Module<never, unknown>): Map<string, Float32Array> {
  const grads = new Map<string, Float32Array>();
  for (const [key, parameter] of model.namedParameters()) grads.set(key, (parameter.grad?.toTypedArray() ?? new Float32Array(0)) as Float32Array);
  return grads;
}

/** Same keys, same lengths, and max |a - b| <= tolerance * max |a| for every key. */
export function assertClose(a: Map<string, Float32Array>, b: Map<string, Float32Array>, tolerance: number, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${what}: the same names`);
  for (const [key, x] of a) {
    const y = b.get(key)!;
    assert.equal(x.length, y.length, `${what} ${key}: present in one run only`);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < x.length; i++) {
      worst = Math.max(worst, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(x[i]));
    }
    assert.ok(worst <= tolerance * Math.max(scale, 1e-30), `${what} ${key}: differ by ${worst} (scale ${scale})`);
  }
}
