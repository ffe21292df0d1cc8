// PyTorch as the peer of our benchmarks: bench/inference.py, run by Debian's
// python3-torch with the same model, input size and thread count (eager, jit-optimized
// or autocast bfloat16), in a child process that takes timing commands, so its runs can
// alternate with ours (never overlap).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../native.js';
import type { InferencePeer } from './bench-compare.js';

/** Debian's interpreter by path: a python3 earlier on PATH may lack torch. */
export const peerPython = (): string => process.env.RESNETS_PYTHON ?? '/usr/bin/python3';

/** How bench/inference.py runs the model (see its --mode). */
export const TORCH_MODES = ['eager', 'jit-optimized', 'autocast-bf16'] as const;
export type TorchMode = (typeof TORCH_MODES)[number];

const MODE_DESCRIPTIONS: Record<TorchMode, string> = {
  eager: 'eager under torch.no_grad()',
  'jit-optimized': 'jit.trace + freeze + optimize_for_inference',
  'autocast-bf16': 'autocast bfloat16, channels-last',
};

export interface TorchPeerOptions {
  /** A torchvision model name. */
  model: string;
  /** Default 'eager'. */
  mode?: TorchMode;
  size: number;
  channels?: number;
  threads: number;
}

type Reply = Record<string, unknown>;

export class TorchPeer implements InferencePeer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: { resolve: (reply: Reply) => void; reject: (error: Error) => void }[] = [];
  #stderr = '';
  #exited: Error | null = null;
  /** PyTorch's version and intra-op thread count, as the peer reports them. */
  version = '';
  threads = 0;
  mode: TorchMode = 'eager';

  get description(): string {
    return `PyTorch ${this.version} ${MODE_DESCRIPTIONS[this.mode]}`;
  }

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => (this.#stderr = (this.#stderr + text).slice(-4000)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      this.#waiting.shift()?.resolve(JSON.parse(line) as Reply);
    });
    const fail = (error: Error) => {
      this.#exited = error;
      for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
    };
    child.on('error', (error) => fail(new Error(`cannot run ${peerPython()} for the PyTorch comparison: ${error.message}`)));
    child.on('exit', (code) => {
      const reason = this.#stderr.trim().split('\n').at(-1) || `exit code ${code}`;
      fail(new Error(`the PyTorch comparison stopped: ${reason}`));
    });
  }

  /** Starts the peer and waits until its model is built. */
  static async start(options: TorchPeerOptions): Promise<TorchPeer> {
    const script = join(packageRoot, 'bench', 'inference.py');
    if (!existsSync(script)) throw new Error(`the PyTorch benchmark script ${script} is missing`);
    const threads = String(options.threads);
    const mode = options.mode ?? 'eager';
    const args = [script, options.model, '--serve', '--mode', mode, '--size', String(options.size), '--channels', String(options.channels ?? 3), '--threads', threads];
    const child = spawn(peerPython(), args, { env: { ...process.env, OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads } });
    const peer = new TorchPeer(child);
    const ready = await peer.#next();
    peer.version = String(ready.torch);
    peer.threads = Number(ready.threads);
    peer.mode = mode;
    return peer;
  }

  #next(): Promise<Reply> {
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Runs `count` timed forwards of a batch; their times in milliseconds. */
  async time(batchSize: number, count: number): Promise<number[]> {
    const reply = this.#next();
    this.#child.stdin.write(`time ${batchSize} ${count}\n`);
    const answer = await reply;
    if (typeof answer.error === 'string') throw new Error(`the PyTorch peer: ${answer.error}`);
    return answer.timesMs as number[];
  }

  /** Asks the peer to exit and waits for it. */
  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin.end('quit\n');
    await exited;
  }
}
