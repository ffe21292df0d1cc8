// DistributedDataParallel: the module's replicas start equal (rank 0's parameters and
// buffers are broadcast when the wrapper is made) and stay equal, because c10d's Reducer
// (the engine of torch.nn.parallel.DistributedDataParallel) averages the gradients over
// the ranks during backward: gradients are packed into buckets in reverse parameter
// order, and each bucket's all-reduce starts on Gloo's threads as soon as its last
// gradient is ready, overlapping the rest of the backward pass.
import { Module } from '../../nn/module.js';
import { native } from '../../native.js';
import { isGradEnabled } from '../../torch/runtime.js';
import { Tensor } from '../../torch/tensor.js';
import { processGroup } from './process-group.js';

export interface DistributedDataParallelOptions {
  /** Bucket size in MiB (PyTorch's bucket_cap_mb, default 25); the first bucket is at most 1 MiB so the first all-reduce starts early. */
  bucketCapMb?: number;
  /** Broadcast rank 0's buffers (BatchNorm's running statistics) before every forward, as PyTorch's default. */
  broadcastBuffers?: boolean;
}

/** The message size DistributedDataParallel broadcasts module states in (its broadcast_bucket_size, 250 MiB). */
const BROADCAST_BUCKET_BYTES = 250 * 1024 * 1024;
const FIRST_BUCKET_BYTES = 1024 * 1024;

/**
 * Wraps `module` for data-parallel training; call it as the module. The wrapped module
 * is `.module` (its state dict is the one to save: the wrapper's keys gain 'module.', as
 * in PyTorch). Make the optimizer over the module's parameters as usual.
 */
export class DistributedDataParallel<In = Tensor, Out = Tensor> extends Module<In, Out> {
  readonly module: Module<In, Out>;
  readonly broadcastBuffers: boolean;
  readonly bucketCapMb: number;
  /** How many buckets the gradients travel in. */
  readonly buckets: number;
  #reducer: object | undefined;
  #syncGradients = true;

  constructor(module: Module<In, Out>, options: DistributedDataParallelOptions = {}) {
    super();
    processGroup();
    const bucketCapMb = options.bucketCapMb ?? 25;
    if (!(bucketCapMb > 0) || !Number.isFinite(bucketCapMb)) throw new Error(`DistributedDataParallel: bucketCapMb must be a positive number, got ${bucketCapMb}`);
    this.module = this.registerModule('module', module as unknown as Module<never, unknown>) as unknown as Module<In, Out>;
    this.broadcastBuffers = options.broadcastBuffers ?? true;
    this.bucketCapMb = bucketCapMb;
    // Every replica starts from rank 0's state (torch's _sync_module_states).
    const states = [...module.parameters(), ...module.buffers()].map((t) => t.handle);
    if (states.length > 0) native.ddpBroadcastCoalesced(states, BROADCAST_BUCKET_BYTES, 0);
    const trained = [...module.namedParameters()].filter(([, p]) => p.requiresGrad);
    const capBytes = Math.max(1, Math.round(bucketCapMb * 1024 * 1024));
    const created = native.ddpCreate(trained.map(([, p]) => p.handle), trained.map(([name]) => name), capBytes, Math.min(FIRST_BUCKET_BYTES, capBytes));
    this.#reducer = created.handle;
    this.buckets = created.buckets;
  }

  #handle(): object {
    if (!this.#reducer) throw new Error('DistributedDataParallel: this wrapper was disposed');
    return this.#reducer;
  }

  forward(input: In): Out {
    const reducer = this.#handle();
    const reduce = isGradEnabled() && this.#syncGradients;
    if (reduce) native.ddpPrepareForward(reducer);
    if (this.broadcastBuffers) {
      const buffers = this.module.buffers().map((b) => b.handle);
      if (buffers.length > 0) native.ddpBroadcastCoalesced(buffers, BROADCAST_BUCKET_BYTES, 0);
    }
    const output = this.module.call(input);
    // The next backward all-reduces the gradients (find_unused_parameters=False: every parameter must receive one).
    if (reduce) native.ddpPrepareBackward(reducer, output instanceof Tensor ? [output.handle] : []);
    return output;
  }

  /** Runs `fn` (forward and backward) without all-reducing: gradients accumulate locally, as PyTorch's no_sync(). */
  noSync<T>(fn: () => T): T {
    const previous = this.#syncGradients;
    this.#syncGradients = false;
    try {
      return fn();
    } finally {
      this.#syncGradients = previous;
    }
  }

  /** Frees the Reducer's buckets; the wrapped module stays the caller's (dispose it separately). */
  override dispose(): void {
    if (this.#reducer) native.ddpDestroy(this.#reducer);
    this.#reducer = undefined;
  }
}
