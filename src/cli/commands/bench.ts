// `resnets bench MODEL`: inference images/s, optionally against PyTorch eager in the same run.
import { Option, type Command } from 'commander';
import { benchmarkInference, type InferenceBenchResult } from '../../tools/bench.js';
import { benchmarkAgainstPeer, type InferencePeer } from '../../tools/bench-compare.js';
import { OnnxRuntimePeer } from '../../tools/onnx-peer.js';
import { peakFractionLine, resolvePeak } from '../../tools/roofline.js';
import {
  checkedInferenceModel,
  DEFAULT_TOLERANCE,
  fastestFaithfulModel,
  modeName,
  type CheckedModel,
  type InferenceMode,
  type Layout,
  type RejectedMode,
} from '../../tools/inference-modes.js';
import { TorchPeer } from '../../tools/torch-peer.js';
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
  plain?: boolean;
  compareTorch?: boolean;
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
  if (options.compareTorch) return TorchPeer.start({ model: name, ...settings });
  return undefined;
}

/** The mode the flags ask for, or undefined for the fastest faithful one. */
function requestedMode(options: BenchOptions): InferenceMode | undefined {
  if (options.channelsLast && options.mkldnn) throw new Error('--channels-last and --mkldnn are two different layouts; pick one');
  if (options.plain && (options.fuse || options.channelsLast || options.mkldnn)) throw new Error('--plain excludes --fuse, --channels-last and --mkldnn');
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
    .option('--plain', 'the plain eval model: no folding, dense layout')
    .option('--compare-torch', 'also time torchvision under torch.no_grad() (Debian python3-torch), alternating runs with ours')
    .option('--engine <name>', `libtorch: resnets alone; onnxruntime: also the model exported to ONNX in onnxruntime-node, alternating runs with ours`, parseChoice(ENGINES), 'libtorch')
    .option('--json', 'print the results as JSON')
    .option('--peak <gflops|file>', "the CPU's peak, to print the fraction of it reached: GFLOP/s, or a roofline file from bench/roofline.ts --save (its float32 peak at these threads)")
    .addHelpText(
      'after',
      `\nWithout --fuse, --channels-last, --mkldnn or --plain the fastest mode whose outputs stay within ${DEFAULT_TOLERANCE} (relative) of the plain eval model is used.` +
        '\nExamples: resnets bench resnet50 --batch-size 1,8 --threads 2 --compare-torch\n          resnets bench resnet50 --batch-size 1,8 --threads 2 --engine onnxruntime',
    )
    .action(async (name: string, options: BenchOptions) => {
      const info = modelInfo(name);
      const [channels, height] = info.defaultInputSize;
      const size = options.size ?? height;
      if (options.threads !== undefined) setNumThreads(options.threads);
      const threads = getNumThreads();
      const peak = options.peak === undefined ? undefined : resolvePeak(options.peak, { threads });
      const { model, mode, difference, rejected } = chooseModel(name, options, [1, channels, size, size]);
      for (const { mode: skipped, reason } of rejected) process.stderr.write(`resnets: bench: mode ${modeName(skipped)} passed over: ${reason}\n`);
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
      if (options.json) {
        const report = { model: name, size, threads, mode: modeName(mode), difference, warmup: options.warmup, runs: options.runs, engine: options.engine, peer: peer?.description, results: rows };
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      console.log(`${name}  ${channels}x${size}x${size}  threads ${threads}  mode ${modeName(mode)} (max relative difference from plain eval ${difference.toExponential(1)})`);
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
      if (peak) console.log(peakFractionLine(() => buildModel(name, { init: false, modelOptions: options.modelOptions }), [channels, size, size], rows.map((row) => ({ batchSize: row.batchSize, imagesPerSecond: row.resnets.imagesPerSecond })), peak));
    });
}
