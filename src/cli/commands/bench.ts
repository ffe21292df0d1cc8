// `resnets bench MODEL`: inference images/s, optionally against PyTorch eager in the same run.
import { Option, type Command } from 'commander';
import { benchmarkInference, type InferenceBenchResult } from '../../tools/bench.js';
import { benchmarkAgainstPeer, type InferencePeer } from '../../tools/bench-compare.js';
import { bf16Warning, cpuReport, formatCpuReport } from '../../tools/cpu-info.js';
import { DnnlInference, type PlanTuning } from '../../tools/dnnl/inference.js';
import { PLAN_KINDS } from '../../tools/dnnl/tuning-cache.js';
import { CONV_ALGORITHMS, type ConvAlgorithm } from '../../tools/dnnl/lower.js';
import { OnnxRuntimePeer } from '../../tools/onnx-peer.js';
import { formatPeakFractions, peakFractions, resolvePeak } from '../../tools/roofline.js';
import {
  checkedInferenceModel,
  DEFAULT_TOLERANCE,
  fastestFaithfulModel,
  modeName,
  PRECISIONS,
  toleranceFor,
  type CheckedModel,
  type InferenceMode,
  type Layout,
  type Precision,
  type RejectedMode,
} from '../../tools/inference-modes.js';
import { TORCH_MODES, TorchPeer, type TorchMode } from '../../tools/torch-peer.js';
import { getNumThreads, setNumThreads } from '../../torch/runtime.js';
import { buildModel, modelInfo } from '../model-loading.js';
import { registeredModelOptionsHelp, parseChoice, parseModelOptions, parseNonNegativeInt, parsePositiveInt, parsePositiveIntList } from '../options.js';
import { formatTable } from '../table.js';

interface BenchOptions {
  modelOptions?: Record<string, unknown>;
  batchSize: number[];
  size?: number;
  threads?: number;
  warmup: number;
  runs: number;
  fuse?: boolean;
  channelsLast?: boolean;
  mkldnn?: boolean;
  dnnl?: boolean;
  plain?: boolean;
  precision: Precision;
  convAlgorithm?: ConvAlgorithm;
  compareTorch?: boolean;
  torchMode: TorchMode;
  engine: Engine;
  json?: boolean;
  /** GFLOP/s, or a roofline file (bench/roofline.ts --save), to print the fraction of the CPU's peak reached. */
  peak?: string;
}

const ENGINES = ['libtorch', 'onnxruntime'] as const;
type Engine = (typeof ENGINES)[number];

interface BenchRow {
  batchSize: number;
  resnets: InferenceBenchResult;
  /** The peer's runs: PyTorch eager (--compare-torch) or onnxruntime (--engine onnxruntime). */
  peer?: InferenceBenchResult;
  /** resnets images/s over the peer's images/s. */
  ratio?: number;
}

/** PyTorch eager, or the model exported to ONNX in onnxruntime-node, or no peer. */
async function startPeer(name: string, options: BenchOptions, settings: { size: number; channels: number; threads: number }): Promise<InferencePeer | undefined> {
  if (options.engine === 'onnxruntime') {
    if (options.compareTorch) throw new Error('--compare-torch and --engine onnxruntime each time a peer beside resnets; pick one');
    // The plain eval model is exported: onnxruntime applies its own folding and fusions.
    const plain = buildModel(name);
    try {
      const peer = await OnnxRuntimePeer.start(plain, settings);
      if (peer.difference > DEFAULT_TOLERANCE) process.stderr.write(`resnets: bench: onnxruntime's outputs differ from ours by ${peer.difference.toExponential(1)} (relative)\n`);
      return peer;
    } finally {
      plain.dispose();
    }
  }
  if (options.compareTorch) return TorchPeer.start({ model: name, mode: options.torchMode, ...settings });
  return undefined;
}

/** The mode the flags ask for, or undefined for the fastest faithful one. */
function requestedMode(options: BenchOptions): InferenceMode | undefined {
  const layouts = [options.channelsLast && '--channels-last', options.mkldnn && '--mkldnn', options.dnnl && '--dnnl'].filter(Boolean);
  if (layouts.length > 1) throw new Error(`${layouts.join(' and ')} are different layouts; pick one`);
  if (options.plain && (options.fuse || layouts.length > 0)) throw new Error('--plain excludes --fuse, --channels-last, --mkldnn and --dnnl');
  const planOnly = options.precision !== 'fp32' || options.convAlgorithm !== undefined;
  if (planOnly && (options.plain || options.mkldnn || options.channelsLast)) {
    throw new Error(`--precision ${options.precision}${options.convAlgorithm ? ` and --conv-algorithm` : ''} run in the oneDNN plan (--dnnl) only`);
  }
  if (options.precision === 'bf16' && (options.convAlgorithm === 'winograd' || options.convAlgorithm === 'auto')) {
    throw new Error(`--conv-algorithm ${options.convAlgorithm} applies to --precision fp32 only: bf16 convolutions run direct (or tuned among direct kernels)`);
  }
  if (planOnly || options.dnnl) return { fuse: true, layout: 'dnnl', precision: options.precision, ...(options.convAlgorithm ? { convAlgorithm: options.convAlgorithm } : {}) };
  if (!options.plain && !options.fuse && !options.channelsLast && !options.mkldnn) return undefined;
  const layout: Layout = options.mkldnn ? 'mkldnn' : options.channelsLast ? 'channels-last' : 'dense';
  return { fuse: Boolean(options.fuse), layout };
}

function chooseModel(name: string, options: BenchOptions, probeShape: number[]): CheckedModel & { rejected: RejectedMode[] } {
  const mode = requestedMode(options);
  const build = () => buildModel(name, { modelOptions: options.modelOptions });
  if (mode) return { ...checkedInferenceModel(build(), mode, probeShape), rejected: [] };
  return fastestFaithfulModel(build, probeShape, DEFAULT_TOLERANCE);
}

function tuningNote({ timesMs, kept, decisionCached, timed, convolutions, cacheFile }: PlanTuning): string {
  const times = PLAN_KINDS.filter((kind) => timesMs[kind] !== undefined).map((kind) => `${kind} ${timesMs[kind]!.toFixed(2)}`);
  const speedup = kept === 'direct' ? '' : `, ${(timesMs.direct! / timesMs[kept]!).toFixed(2)}x the direct plan`;
  const verdict = `${kept} plan kept${speedup} (best forward ms: ${times.join(', ')}${decisionCached ? '; measured before' : ''})`;
  const source = cacheFile ?? "this process's tuning";
  const timing = timed === 0 ? `every kernel choice read from ${source}` : `${timed} of ${convolutions} convolutions timed now${cacheFile ? `, saved to ${cacheFile}` : ''}`;
  return `${verdict}; ${timing}`;
}

/** The kernels oneDNN picked for the plan's primitives, most used first ('brgconv:avx512_core_amx_bf16 x53'). */
function planKernels(model: unknown, shape: number[]): string | undefined {
  if (!(model instanceof DnnlInference)) return undefined;
  const counts = new Map<string, number>();
  let reorders = 0;
  const info = model.describe(shape);
  for (const step of info.steps) {
    if (step.name.endsWith('(reorder in)') || step.name.endsWith('(reorder out)') || step.name.endsWith('(sum operand copy)')) reorders++;
    else counts.set(step.impl, (counts.get(step.impl) ?? 0) + 1);
  }
  const kernels = [...counts].sort((a, b) => b[1] - a[1]).map(([impl, count]) => `${impl} x${count}`);
  const tuning = info.tuning ? `; ${tuningNote(info.tuning)}` : '';
  return `${kernels.join(', ')}; ${reorders} reorder${reorders === 1 ? '' : 's'}${tuning}`;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('Inference throughput (images/s): warm-up runs, then the median of timed runs')
    .argument('<model>', "model name (see 'resnets list')")
    .option('--model-options <json>', registeredModelOptionsHelp, parseModelOptions)
    .addOption(new Option('--batch-size <list>', 'batch sizes, comma-separated').argParser(parsePositiveIntList).default([1, 8], '1,8'))
    .option('--size <n>', "input height and width (default: the model's input size)", parsePositiveInt)
    .option('--threads <n>', 'intra-op threads for resnets and PyTorch (default: all cores)', parsePositiveInt)
    .option('--warmup <n>', 'untimed runs first', parseNonNegativeInt, 3)
    .option('--runs <n>', 'timed runs; the median is reported', parsePositiveInt, 10)
    .option('--fuse', 'fold BatchNorm into the preceding convolution')
    .option('--channels-last', 'channels-last (NHWC) weights and activations')
    .option('--mkldnn', "oneDNN's blocked layout for activations, convolution weights packed once")
    .option('--dnnl', 'the model compiled to a oneDNN plan: convolutions fused with their BatchNorm, residual sum and activation')
    .option('--plain', 'the plain eval model: no folding, dense layout')
    .addOption(new Option('--precision <p>', `fp32, or bf16: bfloat16 weights and activations in the oneDNN plan (fast with AVX512-BF16 or AMX)`).argParser(parseChoice(PRECISIONS)).default('fp32'))
    .addOption(new Option('--conv-algorithm <a>', "the oneDNN plan's convolutions: direct, winograd or auto for the 3x3 stride-1 ones (fp32 only), or tuned: every kernel timed for each convolution on the first build, the fastest kept, then that plan timed against the Winograd and direct plans and the fastest of the three kept, all recorded in $RESNETS_HOME/tuning (default direct)").argParser(parseChoice(CONV_ALGORITHMS)))
    .option('--compare-torch', 'also time torchvision in Debian python3-torch (see --torch-mode), alternating runs with ours')
    .addOption(new Option('--torch-mode <mode>', 'with --compare-torch: eager (torch.no_grad()), jit-optimized (jit.trace + freeze + optimize_for_inference) or autocast-bf16 (channels-last)').argParser(parseChoice(TORCH_MODES)).default('eager'))
    .option('--engine <name>', `libtorch: resnets alone; onnxruntime: also the model exported to ONNX in onnxruntime-node, alternating runs with ours`, parseChoice(ENGINES), 'libtorch')
    .option('--json', 'print the results as JSON')
    .option('--peak <gflops|file>', "the CPU's peak, to print the fraction of it reached: GFLOP/s, or a roofline file from bench/roofline.ts --save (its peak for --precision at these threads)")
    .addHelpText(
      'after',
      `\nWithout --fuse, --channels-last, --mkldnn, --dnnl or --plain the fastest mode whose outputs stay within ${DEFAULT_TOLERANCE} (relative) of the plain eval model is used:` +
        '\nfirst the tuned oneDNN plan (kernels timed on the first build per machine and batch size, then read from $RESNETS_HOME/tuning).' +
        `\nWith --precision bf16 the outputs are checked against float32 to ${toleranceFor({ precision: 'bf16' })} (relative) and their top-1 class is reported.` +
        '\nExamples: resnets bench resnet50 --batch-size 1,8 --threads 2 --compare-torch --torch-mode jit-optimized\n          resnets bench resnet50 --batch-size 1,8 --threads 2 --engine onnxruntime' +
        '\n          resnets bench resnet50 --batch-size 8 --threads 2 --precision bf16 --compare-torch --torch-mode autocast-bf16' +
        '\n          resnets bench resnet50 --batch-size 1,8 --threads 2 --dnnl --engine onnxruntime   (the direct plan: the kernels oneDNN ranks first)',
    )
    .action(async (name: string, options: BenchOptions, cmd: Command) => {
      if (cmd.getOptionValueSource('torchMode') === 'cli' && !options.compareTorch) {
        throw new Error(`--torch-mode ${options.torchMode} applies with --compare-torch; add it or leave out --torch-mode`);
      }
      const info = modelInfo(name);
      const [channels, height] = info.defaultInputSize;
      const size = options.size ?? height;
      if (options.threads !== undefined) setNumThreads(options.threads);
      const threads = getNumThreads();
      // The peak of the precision asked for, resolved before any model is built so a bad --peak fails at once.
      const peak = options.peak === undefined ? undefined : resolvePeak(options.peak, { threads, dtype: options.precision === 'bf16' ? 'bfloat16' : 'float32' });
      const cpu = cpuReport();
      const { model, mode, difference, rejected, top1Agreement } = chooseModel(name, options, [1, channels, size, size]);
      for (const { mode: skipped, reason } of rejected) process.stderr.write(`resnets: bench: mode ${modeName(skipped)} passed over: ${reason}\n`);
      const tolerance = toleranceFor(mode);
      if (difference > tolerance) process.stderr.write(`resnets: bench: mode ${modeName(mode)} differs from the plain model by ${difference.toExponential(1)} (relative), over ${tolerance}\n`);
      const slowBf16 = mode.precision === 'bf16' ? bf16Warning(cpu) : undefined;
      if (slowBf16) process.stderr.write(`resnets: bench: ${slowBf16}\n`);
      const kernels = planKernels(model, [options.batchSize[0], channels, size, size]);
      const rows: BenchRow[] = [];
      let peer: InferencePeer | undefined;
      try {
        peer = await startPeer(name, options, { size, channels, threads });
        for (const batchSize of options.batchSize) {
          const settings = { batchSize, size, channels, warmup: options.warmup, runs: options.runs, channelsLast: mode.layout === 'channels-last' };
          if (peer) {
            rows.push({ batchSize, ...(await benchmarkAgainstPeer(model, peer, settings)) });
          } else {
            rows.push({ batchSize, resnets: benchmarkInference(model, settings) });
          }
        }
      } finally {
        model.dispose();
        await peer?.close();
      }
      const ofPeak = peak ? peakFractions(() => buildModel(name, { init: false, modelOptions: options.modelOptions }), [channels, size, size], rows.map((row) => ({ batchSize: row.batchSize, imagesPerSecond: row.resnets.imagesPerSecond })), peak) : undefined;
      if (options.json) {
        const report = {
          model: name,
          size,
          threads,
          mode: modeName(mode),
          precision: mode.precision ?? 'fp32',
          difference,
          ...(top1Agreement === undefined ? {} : { top1Agreement }),
          ...(kernels ? { kernels } : {}),
          cpu,
          warmup: options.warmup,
          runs: options.runs,
          engine: options.engine,
          peer: peer?.description,
          results: rows,
          ...(ofPeak ? { ofPeak } : {}),
        };
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      const agreement = top1Agreement === undefined ? '' : `, top-1 agreement ${(top1Agreement * 100).toFixed(0)}%`;
      console.log(`${name}  ${channels}x${size}x${size}  threads ${threads}  mode ${modeName(mode)} (max relative difference from plain eval ${difference.toExponential(1)}${agreement})`);
      console.log(formatCpuReport(cpu));
      if (kernels) console.log(`oneDNN kernels: ${kernels}`);
      if (slowBf16) console.log(`note: ${slowBf16}`);
      const header = ['Batch', 'resnets img/s', 'ms/batch'];
      if (peer) header.push(`${options.engine === 'onnxruntime' ? 'onnxruntime' : 'PyTorch'} img/s`, 'ms/batch', 'ratio');
      const table = rows.map((row) => {
        const cells = [String(row.batchSize), row.resnets.imagesPerSecond.toFixed(2), row.resnets.medianMs.toFixed(1)];
        if (row.peer) cells.push(row.peer.imagesPerSecond.toFixed(2), row.peer.medianMs.toFixed(1), `${row.ratio!.toFixed(2)}x`);
        return cells;
      });
      console.log(formatTable(header, table, { alignRight: [0, 1, 2, 3, 4, 5] }));
      const peerNote = peer ? `; ${peer.description}, its runs alternating with ours` : '';
      console.log(`median of ${options.runs} runs after ${options.warmup} warm-up runs${peerNote}`);
      if (ofPeak) console.log(formatPeakFractions(ofPeak));
    });
}
