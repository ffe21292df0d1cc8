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

export function cpuFeatures(): CpuFeatures {
  let info = '';
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: nothing is known
  }
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
  const isa = isaFlags.filter((flag) => flags.has(flag));
  return { model, isa, bf16: flags.has('avx512_bf16') || flags.has('amx_bf16') };
}

/** "Intel(R) Xeon(R) Processor (avx2 avx512f avx512_bf16 amx_bf16 amx_tile)". */
export function describeCpu(): string {
  const { model, isa } = cpuFeatures();
  return `${model} (${isa.length > 0 ? isa.join(' ') : 'no AVX2'})`;
}
