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
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`manualSeed: expected a non-negative integer up to ${Number.MAX_SAFE_INTEGER}, got ${seed}`);
  native.manualSeed(seed);
}
/**
 * Sets libtorch's intra-op thread count. More threads than cores only slow every op down
 * (1000 threads made a 1 s run take 37 s), so the count is capped at the machine's cores,
 * with a warning.
 */
export function setNumThreads(threads: number): void {
  if (!Number.isSafeInteger(threads) || threads < 1) throw new Error(`setNumThreads: expected a positive integer, got ${threads}`);
  const cores = availableParallelism();
  if (threads > cores) {
    process.emitWarning(`setNumThreads(${threads}): this machine has ${cores} cores; using ${cores} threads`, { code: 'RESNETS_THREADS' });
    threads = cores;
  }
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
  const threads = requested > 0 && Number.isSafeInteger(requested) ? requested : availableParallelism();
  setNumThreads(threads);
  return getNumThreads();
}

export interface MemoryInfo {
  /** Tensor handles not yet disposed or collected. */
  liveTensors: number;
  /**
   * Every byte libtorch holds on the CPU for this process, counted by an allocator
   * wrapped around c10's: tensors, autograd's saved tensors, oneDNN-layout tensors.
   * (Where that allocator could not be installed, the same as tensorBytes.) V8 is told of
   * these bytes, so tensors nobody disposed are collected under memory pressure.
   */
  nativeBytes: number;
  /** Bytes of the storages that live handles address, each storage once. */
  tensorBytes: number;
  /** Whether nativeBytes counts every allocation (the counting allocator is installed). */
  countsAllAllocations: boolean;
}
export function memory(): MemoryInfo {
  return native.memory();
}

/**
 * Keeps freed CPU memory in this process for reuse instead of returning it to the kernel
 * (glibc's malloc: blocks up to 32 MB from the heap, no trimming of its free top), so a
 * training or inference loop stops page-faulting its activations in again every step:
 * 4% to 6% faster ResNet-18 training steps (bench/README.md). The process's resident
 * memory then stays at its peak. The `resnets` command calls it; returns false where the
 * C library is not glibc (nothing changes).
 */
export function retainFreedMemory(): boolean {
  return native.retainFreedMemory();
}

/** The libtorch version the addon was built against. */
export const version: string = native.version();

export const cuda = {
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
};
