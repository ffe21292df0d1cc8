// The process group of a data-parallel run, as torch.distributed's default group: one
// per process, made by a rendezvous at the master's TCPStore (served by rank 0), with
// Gloo's collectives over TCP. Settings come from the options or, as torchrun sets them,
// from WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT (and GLOO_SOCKET_IFNAME).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { native } from '../../native.js';
import type { Tensor } from '../../torch/tensor.js';

export type Backend = 'gloo';
export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'product';

/** How long a collective or the rendezvous may wait for another rank (default 30 s). */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MASTER_PORT = 29500;

export interface InitOptions {
  /** Only Gloo (CPU tensors over TCP) is built into Debian's libtorch. */
  backend?: Backend;
  /** Default: WORLD_SIZE. */
  worldSize?: number;
  /** Default: RANK. */
  rank?: number;
  /** The host serving the rendezvous store (rank 0's); default MASTER_ADDR, else 127.0.0.1. */
  masterAddr?: string;
  /** Default MASTER_PORT, else 29500. */
  masterPort?: number;
  /** A dead or missing rank is reported after this long (rendezvous and every collective). Default 30000. */
  timeoutMs?: number;
  /** The network interface Gloo sends on ('eth0'); default GLOO_SOCKET_IFNAME, else the address the host name resolves to. */
  interface?: string;
}

export interface ProcessGroupInfo {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  timeoutMs: number;
}

let current: ProcessGroupInfo | undefined;
let joining = false;

function integerFrom(name: string, given: number | undefined, env: string | undefined, fallback?: number): number {
  const value = given ?? (env !== undefined && env !== '' ? Number(env) : fallback);
  if (value === undefined) throw new Error(`distributed.init: ${name} is not set (give it, or set the ${envName(name)} environment variable)`);
  if (!Number.isSafeInteger(value)) throw new Error(`distributed.init: ${name} must be an integer, got ${given ?? JSON.stringify(env)}`);
  return value;
}

const envName = (option: string) => ({ worldSize: 'WORLD_SIZE', rank: 'RANK', masterPort: 'MASTER_PORT' })[option] ?? option;

/** The options with the torchrun variables filled in and checked. */
export function resolveInitOptions(options: InitOptions = {}, env: NodeJS.ProcessEnv = process.env): Required<Omit<InitOptions, 'interface'>> & { interface?: string } {
  const backend = options.backend ?? 'gloo';
  if (backend !== 'gloo') throw new Error(`distributed.init: backend '${String(backend)}' is not available; Debian's libtorch has 'gloo' (CPU tensors over TCP)`);
  const worldSize = integerFrom('worldSize', options.worldSize, env.WORLD_SIZE);
  if (worldSize < 1) throw new Error(`distributed.init: worldSize must be at least 1, got ${worldSize}`);
  const rank = integerFrom('rank', options.rank, env.RANK);
  if (rank < 0 || rank >= worldSize) throw new Error(`distributed.init: rank must be in [0, ${worldSize - 1}] for a world of ${worldSize}, got ${rank}`);
  const masterPort = integerFrom('masterPort', options.masterPort, env.MASTER_PORT, DEFAULT_MASTER_PORT);
  if (masterPort < 1 || masterPort > 65535) throw new Error(`distributed.init: masterPort must be in [1, 65535], got ${masterPort}`);
  const masterAddr = options.masterAddr ?? (env.MASTER_ADDR || '127.0.0.1');
  if (masterAddr.trim() === '') throw new Error('distributed.init: masterAddr is empty');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 100) throw new Error(`distributed.init: timeoutMs must be an integer of at least 100, got ${timeoutMs}`);
  const iface = options.interface ?? (env.GLOO_SOCKET_IFNAME || undefined);
  if (iface !== undefined && !networkInterfaces()[iface]) {
    throw new Error(`distributed.init: network interface '${iface}' does not exist here; this machine has ${Object.keys(networkInterfaces()).join(', ')}`);
  }
  return { backend, worldSize, rank, masterAddr, masterPort, timeoutMs, ...(iface ? { interface: iface } : {}) };
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}

/**
 * Fails fast where the rendezvous could only time out: a master name that does not
 * resolve, or (on rank 0, which serves the store) an address that is not this machine's.
 */
async function checkMasterAddress(masterAddr: string, rank: number): Promise<void> {
  let address: string;
  try {
    address = isIP(masterAddr) ? masterAddr : (await lookup(masterAddr)).address;
  } catch (error) {
    throw new Error(`distributed.init: master address '${masterAddr}' does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (rank !== 0 || isLoopback(address) || address === '0.0.0.0') return;
  const local = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
  if (!local.includes(address)) {
    throw new Error(
      `distributed.init: rank 0 serves the rendezvous store, so the master address must be one of this machine's; ` +
        `'${masterAddr}' (${address}) is not (this machine has ${local.join(', ')})`,
    );
  }
}

/** libtorch's rendezvous messages, said in the options' terms. */
function rendezvousError(message: string, options: ProcessGroupInfo): Error {
  const where = `${options.masterAddr}:${options.masterPort}`;
  const seconds = options.timeoutMs / 1000;
  if (/address already in use|errno: 98/i.test(message)) {
    return new Error(`distributed.init: master port ${options.masterPort} is in use on this machine, so rank 0 cannot serve the rendezvous store there; pick another port (libtorch: ${firstLine(message)})`);
  }
  const joined = /(\d+)\/(\d+) clients joined/.exec(message);
  if (joined) {
    return new Error(`distributed.init: rendezvous at ${where} timed out after ${seconds} s with ${Number(joined[1])} of ${options.worldSize - 1} other ranks joined (are all ${options.worldSize} ranks started, with the same world size?)`);
  }
  if (/client socket|connect/i.test(message) && /timed out|timeout/i.test(message)) {
    return new Error(`distributed.init: rank ${options.rank} could not reach the rendezvous store at ${where} within ${seconds} s (is rank 0 running there, and are the master address and port right?)`);
  }
  return new Error(`distributed.init: rendezvous at ${where} failed: ${firstLine(message)}`);
}

const firstLine = (message: string) => message.split('\n')[0];

/** Joins the process group; resolves when every rank has joined. */
export async function init(options: InitOptions = {}): Promise<ProcessGroupInfo> {
  if (current) throw new Error(`distributed.init: already initialised as rank ${current.rank} of ${current.worldSize}; call destroy() first`);
  if (joining) throw new Error('distributed.init: a rendezvous is already in progress in this process');
  const resolved = resolveInitOptions(options);
  joining = true;
  try {
    await checkMasterAddress(resolved.masterAddr, resolved.rank);
    const info: ProcessGroupInfo = { rank: resolved.rank, worldSize: resolved.worldSize, masterAddr: resolved.masterAddr, masterPort: resolved.masterPort, timeoutMs: resolved.timeoutMs };
    try {
      await native.distInit({ ...info, interface: resolved.interface });
    } catch (error) {
      throw rendezvousError((error as Error).message, info);
    }
    current = info;
    return info;
  } finally {
    joining = false;
  }
}

/** Leaves the process group (and, on rank 0, stops serving the store). */
export function destroy(): void {
  native.distDestroy();
  current = undefined;
}

export function isInitialized(): boolean {
  return current !== undefined;
}

/** The group this process belongs to; throws before init(). */
export function processGroup(): ProcessGroupInfo {
  if (!current) throw new Error('the distributed process group is not initialised (call train.distributed.init first)');
  return current;
}

export const getRank = (): number => current?.rank ?? 0;
export const getWorldSize = (): number => current?.worldSize ?? 1;

const handles = (tensors: Tensor | Tensor[]) => (Array.isArray(tensors) ? tensors : [tensors]).map((t) => t.handle);

/**
 * Reduces each tensor in place across the ranks ('avg' sums then divides, as Gloo has no
 * average). Waits on a worker thread, so the event loop runs meanwhile; leave the tensors
 * alone until the promise settles. Every rank must make the same calls in the same order.
 */
export async function allReduce(tensors: Tensor | Tensor[], op: ReduceOp = 'sum'): Promise<void> {
  processGroup();
  await native.distAllReduce(handles(tensors), op, true);
}

/** allReduce that waits on this thread (for use inside a synchronous training step). */
export function allReduceSync(tensors: Tensor | Tensor[], op: ReduceOp = 'sum'): void {
  processGroup();
  native.distAllReduce(handles(tensors), op, false);
}

/** Copies rank `root`'s tensors into every other rank's, in place. */
export async function broadcast(tensors: Tensor | Tensor[], root = 0): Promise<void> {
  processGroup();
  await native.distBroadcast(handles(tensors), root, true);
}

/** Resolves once every rank has called barrier(). */
export async function barrier(): Promise<void> {
  processGroup();
  await native.distBarrier(true);
}
