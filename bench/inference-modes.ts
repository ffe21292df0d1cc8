// Our inference modes against each other in one run: the oneDNN-layout mode
// (fused+mkldnn), the compiled oneDNN plan in float32 (direct and Winograd 3x3
// convolutions) and in bfloat16. Each mode gets its own model; their timed runs
// alternate one by one, so a change in the machine's load hits all alike. Ratios are
// against the first mode listed.
//
//   node --import tsx bench/inference-modes.ts [--model resnet50] [--batch-size 1,8] [--threads 2]
//        [--size 224] [--warmup 2] [--runs 7] [--modes fused+mkldnn,dnnl,dnnl+winograd,dnnl+bf16] [--json]
import { parseArgs } from 'node:util';
import { createModelByName } from '../src/models/index.js';
import { InferenceTimer, median } from '../src/tools/bench.js';
import { cpuReport, formatCpuReport } from '../src/tools/cpu-info.js';
import { prepareForInference, type InferenceMode } from '../src/tools/inference-modes.js';
import { setNumThreads } from '../src/torch/runtime.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet50' },
    'batch-size': { type: 'string', default: '1,8' },
    threads: { type: 'string', default: '2' },
    size: { type: 'string', default: '224' },
    warmup: { type: 'string', default: '2' },
    runs: { type: 'string', default: '7' },
    modes: { type: 'string', default: 'fused+mkldnn,dnnl,dnnl+winograd,dnnl+bf16' },
    json: { type: 'boolean', default: false },
  },
});

const MODES: Record<string, InferenceMode> = {
  'fused+mkldnn': { fuse: true, layout: 'mkldnn' },
  'fused+channels-last': { fuse: true, layout: 'channels-last' },
  dnnl: { fuse: true, layout: 'dnnl' },
  'dnnl+winograd': { fuse: true, layout: 'dnnl', convAlgorithm: 'winograd' },
  'dnnl+auto': { fuse: true, layout: 'dnnl', convAlgorithm: 'auto' },
  'dnnl+bf16': { fuse: true, layout: 'dnnl', precision: 'bf16' },
};

const names = args.modes.split(',');
for (const name of names) if (!MODES[name]) throw new Error(`--modes: unknown mode '${name}'; known: ${Object.keys(MODES).join(', ')}`);
setNumThreads(Number(args.threads));
const size = Number(args.size);
const models = names.map((name) => {
  const model = createModelByName(args.model as never, {} as never) as unknown as Parameters<typeof prepareForInference>[0];
  return prepareForInference(model, MODES[name]);
});
const cpu = cpuReport();
const results: { batchSize: number; mode: string; imagesPerSecond: number; timesMs: number[] }[] = [];
for (const batchSize of args['batch-size'].split(',').map(Number)) {
  const timers = models.map((model) => new InferenceTimer(model, { batchSize, size }));
  for (const timer of timers) timer.time(Number(args.warmup));
  const times: number[][] = timers.map(() => []);
  for (let run = 0; run < Number(args.runs); run++) timers.forEach((timer, i) => times[i].push(...timer.time(1)));
  names.forEach((mode, i) => results.push({ batchSize, mode, imagesPerSecond: (batchSize * 1000) / median(times[i]), timesMs: times[i] }));
  for (const timer of timers) timer.dispose();
}
const finalCpu = cpuReport();
if (args.json) {
  console.log(JSON.stringify({ model: args.model, size, threads: Number(args.threads), cpu, loadAfter: finalCpu.loadAverage, results }, null, 2));
} else {
  console.log(`${args.model} ${size}x${size}, ${args.threads} threads, median of ${args.runs} alternating runs after ${args.warmup} warm-up runs`);
  console.log(formatCpuReport(cpu));
  for (const row of results) {
    const base = results.find((r) => r.batchSize === row.batchSize)!;
    console.log(`batch ${row.batchSize}  ${row.mode.padEnd(20)} ${row.imagesPerSecond.toFixed(2).padStart(8)} img/s  ${(row.imagesPerSecond / base.imagesPerSecond).toFixed(2)}x`);
  }
  console.log(`load average after: ${finalCpu.loadAverage.map((v) => v.toFixed(2)).join(' ')}`);
}
for (const model of models) model.dispose();
