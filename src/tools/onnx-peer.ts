// onnxruntime-node as the peer of our benchmarks: the model exported to ONNX (dynamic
// batch) and run by onnxruntime's CPU provider with the same thread count. It is an
// optional dependency (its install step downloads CUDA libraries unless told not to, and
// fails offline), so it is loaded only when asked for.
import type * as Ort from 'onnxruntime-node';
import type { Module } from '../nn/module.js';
import { randn } from '../torch/creation.js';
import { noGrad } from '../torch/runtime.js';
import type { Tensor } from '../torch/tensor.js';
import type { InferencePeer } from './bench-compare.js';
import { exportOnnx } from './onnx/export.js';

export interface OnnxPeerOptions {
  size: number;
  channels?: number;
  threads: number;
}

export class OnnxRuntimePeer implements InferencePeer {
  readonly #inputs = new Map<number, Ort.Tensor>();

  private constructor(
    readonly ort: typeof Ort,
    readonly session: Ort.InferenceSession,
    readonly threads: number,
    readonly options: OnnxPeerOptions,
    /** Largest |ours - onnxruntime| over the largest |ours|, on one random batch. */
    readonly difference: number,
  ) {}

  get description(): string {
    return `onnxruntime-node ${this.ort.env.versions.node ?? ''} (CPU provider, all graph optimisations)`.replace('  ', ' ');
  }

  /** Exports `model` (in eval mode) and opens it in onnxruntime with `threads` intra-op threads. */
  static async start(model: Module<Tensor, unknown>, options: OnnxPeerOptions): Promise<OnnxRuntimePeer> {
    const ort = await loadOnnxRuntime();
    const channels = options.channels ?? 3;
    model.eval();
    const bytes = exportOnnx(model, { input: [1, channels, options.size, options.size], dynamicBatch: true });
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Its pool would otherwise spin between runs and take the cores from our alternating runs.
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
    const probe = randn([2, channels, options.size, options.size]);
    const ours = noGrad(() => model.call(probe) as Tensor).toTypedArray() as Float32Array;
    const outputs = await session.run({ input: new ort.Tensor('float32', probe.toTypedArray() as Float32Array, probe.shape) });
    const theirs = (outputs.output as Ort.Tensor).data as Float32Array;
    probe.dispose();
    let scale = 1e-12;
    let worst = 0;
    for (let i = 0; i < ours.length; i++) {
      scale = Math.max(scale, Math.abs(ours[i]));
      worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    }
    return new OnnxRuntimePeer(ort, session, options.threads, options, worst / scale);
  }

  #input(batchSize: number): Ort.Tensor {
    let input = this.#inputs.get(batchSize);
    if (!input) {
      const { size, channels = 3 } = this.options;
      const data = Float32Array.from({ length: batchSize * channels * size * size }, () => Math.random() * 2 - 1);
      input = new this.ort.Tensor('float32', data, [batchSize, channels, size, size]);
      this.#inputs.set(batchSize, input);
    }
    return input;
  }

  async time(batchSize: number, count: number): Promise<number[]> {
    const feeds = { input: this.#input(batchSize) };
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      await this.session.run(feeds);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return times;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** onnxruntime-node, or a clear error when the optional dependency is not installed. */
async function loadOnnxRuntime(): Promise<typeof Ort> {
  try {
    return await import('onnxruntime-node');
  } catch (error) {
    throw new Error(`--engine onnxruntime needs the optional package onnxruntime-node, which is not installed (${(error as Error).message.split('\n')[0]}); install it with ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0`);
  }
}
