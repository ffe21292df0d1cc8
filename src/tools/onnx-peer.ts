// onnxruntime-node as the peer of our benchmarks: the model exported to ONNX (dynamic
// batch) and run by onnxruntime's CPU provider with the same thread count.
import * as ort from 'onnxruntime-node';
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
  readonly #inputs = new Map<number, ort.Tensor>();

  private constructor(
    readonly session: ort.InferenceSession,
    readonly threads: number,
    readonly options: OnnxPeerOptions,
    /** Largest |ours - onnxruntime| over the largest |ours|, on one random batch. */
    readonly difference: number,
  ) {}

  get description(): string {
    return `onnxruntime-node ${ort.env.versions.node ?? ''} (CPU provider, all graph optimisations)`.replace('  ', ' ');
  }

  /** Exports `model` (in eval mode) and opens it in onnxruntime with `threads` intra-op threads. */
  static async start(model: Module<Tensor, unknown>, options: OnnxPeerOptions): Promise<OnnxRuntimePeer> {
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
    const theirs = (outputs.output as ort.Tensor).data as Float32Array;
    probe.dispose();
    let scale = 1e-12;
    let worst = 0;
    for (let i = 0; i < ours.length; i++) {
      scale = Math.max(scale, Math.abs(ours[i]));
      worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    }
    return new OnnxRuntimePeer(session, options.threads, options, worst / scale);
  }

  #input(batchSize: number): ort.Tensor {
    let input = this.#inputs.get(batchSize);
    if (!input) {
      const { size, channels = 3 } = this.options;
      const data = Float32Array.from({ length: batchSize * channels * size * size }, () => Math.random() * 2 - 1);
      input = new ort.Tensor('float32', data, [batchSize, channels, size, size]);
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
