// The CPU's measured peak: a large float32 and bfloat16 matmul through our torch API
// (libtorch's matmul: the BLAS library for float32, oneDNN for bfloat16), GFLOP/s per
// thread count, with the CPU model and flags (lscpu), the load average, the BLAS library
// loaded and the oneDNN kernel bfloat16 dispatched to. --save writes the peaks for
// `resnets bench --peak FILE`, which prints the fraction of the peak a benchmark reaches.
//
// Usage: npx tsx bench/roofline.ts [--threads 1,2] [--size 2048] [--runs 5] [--dtypes float32,bfloat16] [--save roofline.json] [--json]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io, tools, torch } from '../src/index.js';

const { values: flags } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    size: { type: 'string', default: '2048' },
    runs: { type: 'string', default: '5' },
    dtypes: { type: 'string', default: 'float32,bfloat16' },
    save: { type: 'string' },
    json: { type: 'boolean', default: false },
    'probe-kernel': { type: 'boolean', default: false },
  },
});

const positive = (name: string, text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected a positive integer, got '${text}'`);
  return value;
};

if (flags['probe-kernel']) {
  // Run with DNNL_VERBOSE=1 by the parent: oneDNN prints the kernel it executes.
  const a = torch.randn([256, 256]).to('bfloat16');
  a.matmul(a).dispose();
  a.dispose();
  process.exit(0);
}

const threadCounts = flags.threads.split(',').map((text) => positive('threads', text));
const size = positive('size', flags.size);
const runs = positive('runs', flags.runs);
const dtypes = flags.dtypes.split(',').map((text) => {
  if (!(tools.PEAK_DTYPES as readonly string[]).includes(text)) throw new Error(`--dtypes: '${text}' is not one of ${tools.PEAK_DTYPES.join(', ')}`);
  return text as tools.PeakDtype;
});

/** lscpu's "Model name" and "Flags" lines. */
function lscpu(): { model: string; flags: string } {
  try {
    const text = execFileSync('lscpu', { encoding: 'utf8' });
    return { model: /^Model name:\s*(.*)$/m.exec(text)?.[1] ?? tools.cpuModel(), flags: /^Flags:\s*(.*)$/m.exec(text)?.[1] ?? '' };
  } catch {
    return { model: tools.cpuModel(), flags: '(lscpu not available)' };
  }
}

/** The BLAS library this process has loaded (float32 matmuls run there). */
function blasLibrary(): string {
  const maps = readFileSync('/proc/self/maps', 'utf8');
  const found = new Set(maps.split('\n').map((line) => /(\/\S*lib(?:open)?blas[^/\s]*\.so[^/\s]*)$/.exec(line)?.[1]).filter(Boolean));
  return found.size > 0 ? [...found].join(', ') : 'none found in /proc/self/maps';
}

/** The oneDNN matmul kernel a bfloat16 matmul runs, from a child with DNNL_VERBOSE=1. */
function bf16Kernel(): string {
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--probe-kernel'], { encoding: 'utf8', env: { ...process.env, DNNL_VERBOSE: '1' } });
    const line = out.split('\n').find((l) => l.startsWith('onednn_verbose,exec,cpu,matmul,'));
    const version = /oneDNN (v[\d.]+)/.exec(out)?.[1] ?? '';
    return line ? `${line.split(',')[4]} (oneDNN ${version})` : 'not oneDNN (no oneDNN matmul ran: libtorch fell back to its own kernel)';
  } catch (error) {
    return `unknown (${(error as Error).message.split('\n')[0]})`;
  }
}

const cpu = lscpu();
const loadBefore = loadavg();
const peaks: tools.MatmulPeak[] = [];
for (const threads of threadCounts) {
  torch.setNumThreads(threads);
  for (const dtype of dtypes) peaks.push(tools.measureMatmulPeak(dtype, { size, runs }));
}
const loadAfter = loadavg();
const kernel = dtypes.includes('bfloat16') ? bf16Kernel() : undefined;
const report: tools.RooflineReport & Record<string, unknown> = {
  cpu: tools.cpuModel(),
  measuredAt: new Date().toISOString(),
  peaks,
  flags: cpu.flags,
  blas: blasLibrary(),
  ...(kernel ? { bf16Kernel: kernel } : {}),
  loadAverage: { before: loadBefore, after: loadAfter },
  command: `npx tsx bench/roofline.ts ${process.argv.slice(2).join(' ')}`.trim(),
};
if (flags.save) io.writeFileAtomic(flags.save, new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`));

if (flags.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
  console.log(`CPU: ${cpu.model}`);
  console.log(`flags: ${cpu.flags}`);
  console.log(`float32 matmul: BLAS ${report.blas}${kernel ? `; bfloat16 matmul: ${kernel}` : ''}`);
  console.log(`load average (1, 5, 15 min): ${load(loadBefore)} before, ${load(loadAfter)} after`);
  console.log(`${size}x${size} matmuls, best and median of ${runs} runs after a warm-up, 2 n^3 FLOPs each`);
  console.log('dtype     threads  peak GFLOP/s  median GFLOP/s');
  for (const peak of peaks) console.log(`${peak.dtype.padEnd(9)} ${String(peak.threads).padStart(7)}  ${peak.peakGflops.toFixed(1).padStart(12)}  ${peak.medianGflops.toFixed(1).padStart(14)}`);
  if (flags.save) console.log(`saved to ${flags.save}: resnets bench MODEL --threads N --peak ${flags.save}`);
}
