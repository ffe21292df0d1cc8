// Small helpers shared by the formats: safe property writes, size arithmetic,
// strict UTF-8, byte concatenation and state-dict checks.
import { Tensor } from '../torch/tensor.js';
import { CheckpointError } from './errors.js';
import type { StateDict } from './types.js';

/**
 * Sets `object[key] = value` as an own property, even for keys such as `__proto__`
 * that a plain assignment would turn into a prototype change.
 */
export function setOwn<T>(object: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/** True for a non-negative integer that a double holds exactly. */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The element count of `shape`, or throws (`where` prefixes the message) when a
 * dimension is not a count or the product leaves the exactly representable range.
 */
export function checkedNumel(shape: readonly unknown[], where: string): number {
  let numel = 1;
  for (const dim of shape) {
    if (!isCount(dim)) throw new CheckpointError(`${where}: shape [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
    numel *= dim;
  }
  if (!Number.isSafeInteger(numel)) throw new CheckpointError(`${where}: shape [${shape.join(', ')}] has too many elements`);
  return numel;
}

/** Throws unless every byte of a bool tensor is 0 or 1 (anything else is undefined in libtorch). */
export function checkBoolBytes(bytes: Uint8Array, where: string): void {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] > 1) throw new CheckpointError(`${where}: bool value at element ${i} is byte ${bytes[i]}, not 0 or 1`);
  }
}

export const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8, naming `what` when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new CheckpointError(`${what} is not valid UTF-8`);
  }
}

export function concatChunks(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** The entries of a state dict to be written, after checking every value is a live tensor. */
export function stateDictEntries(dict: StateDict, caller: string): [string, Tensor][] {
  if (typeof dict !== 'object' || dict === null || Array.isArray(dict) || dict instanceof Tensor) {
    throw new CheckpointError(`${caller}: expected a state dict (an object of tensors), got ${describe(dict)}`);
  }
  const entries = Object.entries(dict);
  for (const [name, value] of entries) {
    if (!(value instanceof Tensor)) throw new CheckpointError(`${caller}: '${name}' is ${describe(value)}, not a tensor`);
    if (value.isDisposed) throw new CheckpointError(`${caller}: tensor '${name}' has been disposed`);
  }
  return entries;
}

/** A short description of a value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Tensor) return 'a tensor';
  if (value instanceof Map) return 'a Map';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
