// Our inference throughput against a peer's (PyTorch eager, onnxruntime), measured in the
// same run: the two alternate run by run (never at once), so a change in the machine's
// load hits both.
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { benchResult, InferenceTimer, type InferenceBenchOptions, type InferenceBenchResult } from './bench.js';

/** Another engine that runs the same model on the same input size and thread count. */
export interface InferencePeer {
  /** The engine's name and version, for reports ('PyTorch 1.13.0', 'onnxruntime 1.30.0'). */
  readonly description: string;
  readonly threads: number;
  /** Runs `count` timed forwards of a batch; their times in milliseconds. */
  time(batchSize: number, count: number): Promise<number[]>;
  close(): Promise<void>;
}

export interface ComparedResult {
  resnets: InferenceBenchResult;
  peer: InferenceBenchResult;
  /** Our images/s over the peer's. */
  ratio: number;
}

export async function benchmarkAgainstPeer(model: Module<Tensor, unknown>, peer: InferencePeer, options: InferenceBenchOptions): Promise<ComparedResult> {
  const { warmup = 3, runs = 10 } = options;
  if (runs < 1) throw new Error(`bench: runs must be at least 1, got ${runs}`);
  const timer = new InferenceTimer(model, options);
  try {
    timer.time(warmup);
    await peer.time(options.batchSize, warmup);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(...timer.time(1));
      theirs.push(...(await peer.time(options.batchSize, 1)));
    }
    const resnets = benchResult(options, warmup, ours);
    const other = benchResult(options, warmup, theirs, peer.threads);
    return { resnets, peer: other, ratio: resnets.imagesPerSecond / other.imagesPerSecond };
  } finally {
    timer.dispose();
  }
}
