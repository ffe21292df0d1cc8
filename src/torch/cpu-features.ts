// What the CPU offers, from /proc/cpuinfo (Linux; elsewhere nothing is known): printed
// with every benchmark, and read to warn when bfloat16 would run without hardware support.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuFeatures {
  model: string;
  /** The flags that decide which kernels oneDNN can use. */
  isa: string[];
  /** AVX512-BF16 or AMX: oneDNN has native bfloat16 kernels. */
  bf16: boolean;
}

const isaFlags = ['avx2', 'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile'];

/** The CPU's model name as the OS reports it. */
export const cpuModel = () => cpus()[0]?.model.trim() ?? 'unknown CPU';

/** Every flag /proc/cpuinfo lists for the first CPU (empty where it cannot be read). */
export function cpuFlagSet(): Set<string> {
  try {
    return new Set((/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').split(/\s+/).filter(Boolean));
  } catch {
    return new Set(); // not Linux: nothing is known
  }
}

export function cpuFeatures(): CpuFeatures {
  const flags = cpuFlagSet();
  const isa = isaFlags.filter((flag) => flags.has(flag));
  return { model: cpuModel(), isa, bf16: flags.has('avx512_bf16') || flags.has('amx_bf16') };
}

/** "Intel(R) Xeon(R) Processor (avx2 avx512f avx512_bf16 amx_bf16 amx_tile)". */
export function describeCpu(): string {
  const { model, isa } = cpuFeatures();
  return `${model} (${isa.length > 0 ? isa.join(' ') : 'no AVX2'})`;
}
