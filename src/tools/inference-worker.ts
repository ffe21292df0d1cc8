// Inference off the main thread: a worker thread holds the model and runs each forward
// pass, so a Node server stays responsive while a batch is computed. Requests queue in
// the worker and are answered in order; each has its own promise.
import { Worker } from 'node:worker_threads';
import { fromBytes } from '../torch/creation.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

export interface InferenceWorkerOptions {
  /** A registered model name (see listModels()). */
  model: string;
  /** Weights (.safetensors, .pth/.pt); a training run's file also names the model's options. Without: fresh weights. */
  weights?: string;
  numClasses?: number;
  /** 'fastest' (the default): the fastest inference mode whose outputs stay within 1e-4 of the plain model's; 'plain': the eval model as it is. */
  mode?: 'fastest' | 'plain';
  /** [channels, height, width] of the probe that checks the fast modes (default: the model's input size). */
  inputSize?: [number, number, number];
  /** libtorch threads of the worker. */
  threads?: number;
}

/** @internal The messages between the two sides. */
export interface InferenceRequest {
  id: number;
  data: Float32Array;
  shape: number[];
}

/** @internal */
export type WorkerReply =
  | { type: 'ready'; mode: string; difference: number }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; data: Float32Array; shape: number[] }
  | { type: 'error'; id: number; message: string };

interface Pending {
  resolve: (output: Tensor) => void;
  reject: (error: Error) => void;
}

const fromSources = import.meta.url.endsWith('.ts');
/** The worker script beside this file: .js in dist/, .ts when running from the sources. */
const workerScript = new URL(`./inference-worker-thread${fromSources ? '.ts' : '.js'}`, import.meta.url);

/** From the sources (the tests), the worker first registers tsx, which loader hooks of the main thread do not reach. */
function startWorker(workerData: InferenceWorkerOptions): Worker {
  if (!fromSources) return new Worker(workerScript, { workerData });
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(workerScript.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

export class InferenceWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed: Error | undefined;
  /** The inference mode the worker chose ('fused+mkldnn', ..., 'plain'). */
  readonly mode: string;
  /** Largest output difference of that mode from the plain eval model, relative. */
  readonly difference: number;

  private constructor(worker: Worker, ready: { mode: string; difference: number }) {
    this.#worker = worker;
    this.mode = ready.mode;
    this.difference = ready.difference;
    worker.on('message', (reply: WorkerReply) => this.#settle(reply));
    worker.on('error', (error) => this.#fail(new Error(`inference worker failed: ${error.message}`)));
    worker.on('exit', (code) => this.#fail(new Error(`inference worker exited (code ${code})`)));
  }

  /** Starts a worker and loads the model; rejects with the loading error (an unknown model, a checkpoint that does not fit). */
  static start(options: InferenceWorkerOptions): Promise<InferenceWorker> {
    const modes = ['fastest', 'plain'];
    if (options.mode !== undefined && !modes.includes(options.mode)) {
      return Promise.reject(new Error(`InferenceWorker: unknown mode ${JSON.stringify(options.mode)}; expected one of ${modes.map((m) => `'${m}'`).join(', ')}`));
    }
    const worker = startWorker(options);
    return new Promise((resolve, reject) => {
      const onMessage = (reply: WorkerReply) => {
        cleanup();
        if (reply.type === 'ready') resolve(new InferenceWorker(worker, reply));
        else reject(new Error(reply.type === 'failed' ? reply.message : `unexpected first message '${reply.type}' from the inference worker`));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`inference worker exited (code ${code}) before the model was ready`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  /** The model's output for `input` ([N, C, H, W], converted to float32); the caller owns the returned tensor. */
  run(input: Tensor): Promise<Tensor> {
    if (this.#closed) return Promise.reject(this.#closed);
    const data = tidy(() => input.float().contiguous().toTypedArray() as Float32Array);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, data, shape: input.shape } satisfies InferenceRequest, [data.buffer as ArrayBuffer]);
    });
  }

  /** Requests still waiting for their answer. */
  get queued(): number {
    return this.#pending.size;
  }

  /** Stops the worker; waiting requests are rejected. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#fail(new Error('the inference worker is closed'));
    await this.#worker.terminate();
  }

  #settle(reply: WorkerReply): void {
    if (reply.type !== 'result' && reply.type !== 'error') return;
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (reply.type === 'error') pending.reject(new Error(reply.message));
    else pending.resolve(fromBytes(new Uint8Array(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength), 'float32', reply.shape));
  }

  #fail(error: Error): void {
    this.#closed ??= error;
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
  }
}
