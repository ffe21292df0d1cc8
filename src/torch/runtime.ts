// Grad mode, seeds, threads, devices and memory figures.
import { availableParallelism } from 'node:os';
import { native } from '../native.js';

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.isGradEnabled();
  native.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('noGrad()/enableGrad() take a synchronous function: grad mode is per thread and would leak across an await');
    return result;
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs `fn` without recording operations for autograd. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
export function setGradEnabled(enabled: boolean): void {
  native.setGradEnabled(enabled);
}

/** Seeds libtorch's generators (CPU and every CUDA device). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`manualSeed: expected a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}
export function setNumThreads(threads: number): void {
  native.setNumThreads(threads);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}

/**
 * The thread count an application wants by default: RESNETS_NUM_THREADS, or every
 * available core. libtorch starts with one intra-op thread inside Node; importing the
 * package leaves that as it is, and the CLI calls this at start-up.
 */
export function useDefaultThreads(): number {
  const requested = Number(process.env.RESNETS_NUM_THREADS ?? 0);
  const threads = requested > 0 ? requested : availableParallelism();
  native.setNumThreads(threads);
  return threads;
}

export interface MemoryInfo {
  /** Tensor handles not yet disposed or collected. */
  liveTensors: number;
  /** Bytes those handles address (views count their own size). */
  nativeBytes: number;
}
export function memory(): MemoryInfo {
  return native.memory();
}

/** The libtorch version the addon was built against. */
export const version: string = native.version();

export const cuda = {
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
};
