// Tensor factories.
import { native } from '../native.js';
import { dtypeCode, dtypeOfTypedArray, dtypeSize, type DType } from './dtype.js';
import { Tensor, type NestedArray } from './tensor.js';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
}

let defaultDevice: string | undefined;

/**
 * Runs `fn` with `device` as the default device of the tensor factories (tensor, zeros,
 * ones, empty, full, the random ones, arange, linspace, eye), as PyTorch's default
 * device. With 'meta', a
 * model is built with shapes but no storage: counting a 100M-parameter model's
 * parameters then costs nothing.
 */
export function withDefaultDevice<T>(device: string, fn: () => T): T {
  const previous = defaultDevice;
  defaultDevice = device;
  try {
    const result = fn();
    // The default would end before the Promise's work runs: refuse, as tidy() does.
    if (result instanceof Promise) throw new Error('withDefaultDevice: fn must be synchronous, it returned a Promise');
    return result;
  } finally {
    defaultDevice = previous;
  }
}

const deviceOf = (options: CreateOptions): string | undefined => options.device ?? defaultDevice;

function codeOf(options: CreateOptions, fallback?: DType): number | undefined {
  const dtype = options.dtype ?? fallback;
  return dtype ? dtypeCode(dtype) : undefined;
}

/** Copies raw little-endian bytes of `dtype` into a new tensor of `shape`. */
export function fromBytes(bytes: Uint8Array, dtype: DType, shape: number[], device?: string): Tensor {
  const expected = shape.reduce((a, b) => a * b, 1) * dtypeSize[dtype];
  if (bytes.byteLength !== expected) {
    throw new Error(`fromBytes: ${bytes.byteLength} bytes given, shape [${shape.join(', ')}] of ${dtype} needs ${expected}`);
  }
  return new Tensor(native.fromBuffer(bytes, dtypeCode(dtype), shape, device));
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

function flattenNested(data: NestedArray, shape: number[], dim: number, out: (number | boolean)[]): void {
  if (dim === shape.length) {
    if (Array.isArray(data)) throw new Error('tensor(): ragged nested array');
    if (typeof data !== 'number' && typeof data !== 'boolean') {
      throw new Error(`tensor(): expected numbers or booleans, got ${typeof data} (${String(data)})`);
    }
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new Error(`tensor(): ragged nested array: expected ${shape[dim]} items at depth ${dim}`);
  }
  for (const item of data) flattenNested(item, shape, dim + 1, out);
}

/**
 * A tensor from nested arrays or a typed array (copied). As in PyTorch, integers
 * become int64, any fraction makes float32, booleans make bool, unless `dtype` says.
 */
export function tensor(data: NestedArray | ArrayBufferView, options: CreateOptions & { shape?: number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const source = dtypeOfTypedArray(data);
    const shape = options.shape ?? [data.byteLength / dtypeSize[source]];
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const made = fromBytes(bytes, source, shape, deviceOf(options));
    if (!options.dtype || options.dtype === source) return made;
    const converted = made.to(options.dtype);
    made.dispose();
    return converted;
  }
  const shape = inferShape(data);
  const flat: (number | boolean)[] = [];
  flattenNested(data, shape, 0, flat);
  const inferred: DType = flat.every((v) => typeof v === 'boolean')
    ? flat.length > 0 ? 'bool' : 'float32'
    : flat.every((v) => typeof v === 'boolean' || Number.isInteger(v)) ? 'int64' : 'float32';
  const dtype = options.dtype ?? inferred;
  const values = Float64Array.from(flat, (v) => Number(v));
  const made = fromBytes(new Uint8Array(values.buffer), 'float64', options.shape ?? shape, deviceOf(options));
  if (dtype === 'float64') return made;
  const converted = made.to(dtype);
  made.dispose();
  return converted;
}

export function zeros(shape: number[], options: CreateOptions = {}): Tensor {
  return new Tensor(native.zeros(shape, codeOf(options), deviceOf(options)));
}
export function ones(shape: number[], options: CreateOptions = {}): Tensor {
  return new Tensor(native.ones(shape, codeOf(options), deviceOf(options)));
}
export function empty(shape: number[], options: CreateOptions = {}): Tensor {
  return new Tensor(native.empty(shape, codeOf(options), deviceOf(options)));
}
/** Like torch.full, the dtype follows the value unless given: bool, int64 for an integer, else float32. */
export function full(shape: number[], value: number | boolean, options: CreateOptions = {}): Tensor {
  const inferred: DType = typeof value === 'boolean' ? 'bool' : Number.isInteger(value) ? 'int64' : 'float32';
  return new Tensor(native.full(shape, value, codeOf(options, inferred), deviceOf(options)));
}
export function zerosLike(like: Tensor, options: CreateOptions = {}): Tensor {
  return zeros(like.shape, { dtype: options.dtype ?? like.dtype, device: options.device ?? like.device });
}
export function onesLike(like: Tensor, options: CreateOptions = {}): Tensor {
  return ones(like.shape, { dtype: options.dtype ?? like.dtype, device: options.device ?? like.device });
}
/** Standard normal samples. */
export function randn(shape: number[], options: CreateOptions = {}): Tensor {
  return new Tensor(native.randn(shape, codeOf(options), deviceOf(options)));
}
/** Uniform samples in [0, 1). */
export function rand(shape: number[], options: CreateOptions = {}): Tensor {
  return new Tensor(native.rand(shape, codeOf(options), deviceOf(options)));
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: number[], options: CreateOptions = {}): Tensor {
  return new Tensor(native.randint(low, high, shape, codeOf(options, 'int64'), deviceOf(options)));
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number): Tensor {
  return new Tensor(native.randperm(n));
}
/** arange(end) or arange(start, end, step), as PyTorch: integers give int64. */
export function arange(startOrEnd: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  const [start, stop] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
  const integral = [start, stop, step].every(Number.isInteger);
  return new Tensor(native.arange(start, stop, step, codeOf(options, integral ? 'int64' : 'float32'), deviceOf(options)));
}
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  return new Tensor(native.linspace(start, end, steps, codeOf(options), deviceOf(options)));
}
export function eye(n: number, options: CreateOptions = {}): Tensor {
  return new Tensor(native.eye(n, codeOf(options), deviceOf(options)));
}
