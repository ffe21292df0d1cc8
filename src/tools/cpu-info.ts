// What a benchmark must print beside its figures: the CPU model, the instruction-set
// flags that decide the kernels (AVX2, AVX-512, AVX512-BF16, AMX), the instruction set
// oneDNN dispatches to, and whether bfloat16 runs natively or emulated (slowly).
import { cpus, loadavg } from 'node:os';
import { dnnlCpuInfo } from './dnnl/inference.js';
import { cpuFlagSet, cpuModel } from '../torch/cpu-features.js';

/** The /proc/cpuinfo flags that decide which kernels oneDNN can use. */
const KERNEL_FLAGS = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'amx_tile', 'amx_bf16', 'amx_int8'];

export interface CpuReport {
  model: string;
  cores: number;
  /** KERNEL_FLAGS this CPU has ([] where /proc/cpuinfo cannot be read). */
  flags: string[];
  /** oneDNN's effective instruction set ('avx512_core_amx') and version. */
  dnnlIsa: string;
  dnnlVersion: string;
  /** bfloat16 has native instructions here (AVX512-BF16 or AMX); otherwise oneDNN emulates it, slowly. */
  nativeBf16: boolean;
  loadAverage: number[];
}

export function cpuReport(): CpuReport {
  const { isa, version } = dnnlCpuInfo();
  const flags = cpuFlagSet();
  return {
    model: cpuModel(),
    cores: cpus().length,
    flags: KERNEL_FLAGS.filter((flag) => flags.has(flag)),
    dnnlIsa: isa,
    dnnlVersion: version,
    nativeBf16: isa === 'avx512_core_bf16' || isa === 'avx512_core_amx',
    loadAverage: loadavg(),
  };
}

export function formatCpuReport(report: CpuReport): string {
  const load = report.loadAverage.map((value) => value.toFixed(2)).join(' ');
  return `CPU ${report.model} (${report.cores} cores; flags ${report.flags.join(' ') || 'unknown'}); oneDNN ${report.dnnlVersion} dispatches ${report.dnnlIsa}; load average ${load}`;
}

/** The note bench prints for bfloat16 on a CPU without bf16 instructions. */
export function bf16Warning(report: CpuReport): string | undefined {
  if (report.nativeBf16) return undefined;
  return `this CPU has no AVX512-BF16 or AMX instructions (oneDNN dispatches ${report.dnnlIsa}): bfloat16 runs emulated and will be slower than float32`;
}
