// torchvision and the PyTorch CIFAR ResNet as references for the model zoo: structure
// listings (keys, shapes, parameter counts) and fixtures (checkpoint, input, output)
// written by scripts/resnet_reference.py and scripts/cifar_resnet_reference.py.
import assert from 'node:assert/strict';
import type { torch } from '../../src/index.js';
import { runPython } from './python.js';

export interface Structure {
  keys: [string, number[]][];
  params: number;
}

/** The ten torchvision ResNets' state-dict keys (in order) with shapes, and parameter counts. */
export function torchvisionStructures(): Record<string, Structure> {
  return JSON.parse(runPython('resnet_reference.py', ['structure'])) as Record<string, Structure>;
}

export interface CifarSpec {
  depth: number;
  shortcut?: 'A' | 'B';
  num_classes?: number;
  in_chans?: number;
}

/** The PyTorch CIFAR ResNet's structure for each spec, in order. */
export function cifarStructures(specs: CifarSpec[]): Structure[] {
  return JSON.parse(runPython('cifar_resnet_reference.py', ['structure', JSON.stringify(specs)])) as Structure[];
}

export interface TorchvisionFixture {
  name: string;
  format: 'pth' | 'safetensors';
  input: number[];
  seed?: number;
  variants?: ('v1' | 'dilated' | 'train')[];
}

/** Writes NAME.{pth,safetensors} and NAME-io.safetensors into `dir` for each model. */
export function writeTorchvisionFixtures(dir: string, fixtures: TorchvisionFixture[]): void {
  runPython('resnet_reference.py', ['fixtures', dir, JSON.stringify(fixtures)]);
}

/** Writes ID.safetensors and ID-io.safetensors into `dir` for each CIFAR ResNet. */
export function writeCifarFixtures(dir: string, fixtures: (CifarSpec & { id: string; input: number[]; seed?: number })[]): void {
  runPython('cifar_resnet_reference.py', ['fixtures', dir, JSON.stringify(fixtures)]);
}

/** max |actual - expected| / max |expected|. */
export function relativeError(actual: torch.Tensor, expected: torch.Tensor): number {
  assert.deepEqual(actual.shape, expected.shape, 'output shape');
  const a = actual.toTypedArray() as Float32Array;
  const e = expected.toTypedArray() as Float32Array;
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < e.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - e[i]));
    scale = Math.max(scale, Math.abs(e[i]));
  }
  assert.ok(Number.isFinite(worst) && scale > 0, 'outputs must be finite and not all zero');
  return worst / scale;
}

/** Asserts our state dict has exactly the reference's keys, in order, with its shapes. */
export function assertSameStructure(ours: Record<string, torch.Tensor>, reference: Structure, label: string): void {
  const actual = Object.entries(ours).map(([key, tensor]) => [key, tensor.shape] as [string, number[]]);
  const ourKeys = actual.map(([key]) => key);
  const theirKeys = reference.keys.map(([key]) => key);
  const missing = theirKeys.filter((key) => !ourKeys.includes(key));
  const extra = ourKeys.filter((key) => !theirKeys.includes(key));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${label}: key sets differ`);
  assert.deepEqual(actual, reference.keys, `${label}: key order or shapes differ`);
}
