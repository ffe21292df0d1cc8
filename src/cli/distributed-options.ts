// The train command's data-parallel options: `--nproc N` starts and supervises N ranks on
// this machine; `--world-size --rank --master-addr --master-port` (or torchrun's
// WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT) make this process one rank of a group that
// may span machines. The CLI only parses: train/distributed/ does the work.
import type { Command } from 'commander';
import { DEFAULT_TIMEOUT_MS, init, type ProcessGroupInfo } from '../train/distributed/process-group.js';
import { launchRanks } from '../train/distributed/launch.js';
import { parseNonNegativeInt, parsePositiveInt, parsePositiveNumber } from './options.js';

export interface DistributedCommandOptions {
  nproc?: number;
  worldSize?: number;
  rank?: number;
  masterAddr?: string;
  masterPort?: number;
  distTimeout?: number;
  syncBn?: boolean;
  bucketCapMb?: number;
}

/** Options that may change on --resume (they do not shape the result). */
export const distributedRuntimeOptions = ['nproc', 'worldSize', 'rank', 'masterAddr', 'masterPort', 'distTimeout', 'bucketCapMb'];

function parsePort(text: string): number {
  const port = parsePositiveInt(text);
  if (port > 65535) throw new Error(`--master-port must be in [1, 65535], got ${text}`);
  return port;
}

export function addDistributedOptions(command: Command): Command {
  return command
    .option('--nproc <n>', 'data-parallel training on this machine: start and supervise N ranks (--threads is per rank; by default the cores are shared out); --batch-size stays the global batch', parsePositiveInt)
    .option('--world-size <n>', 'ranks in a multi-machine run (default: WORLD_SIZE); this process is one of them', parsePositiveInt)
    .option('--rank <r>', "this process's rank, 0 to world size - 1 (default: RANK); rank 0 serves the rendezvous and writes the run", parseNonNegativeInt)
    .option('--master-addr <host>', "rank 0's address (default: MASTER_ADDR, else 127.0.0.1)")
    .option('--master-port <port>', 'the rendezvous port on rank 0 (default: MASTER_PORT, else 29500; with --nproc a free port)', parsePort)
    .option('--dist-timeout <s>', `seconds a rank waits for the others (rendezvous and each collective) before the run stops naming the missing rank (default ${DEFAULT_TIMEOUT_MS / 1000})`, parsePositiveNumber)
    .option('--sync-bn', 'data-parallel: batch-norm statistics over the global batch (SyncBatchNorm) instead of each rank\'s share')
    .option('--bucket-cap-mb <mb>', 'data-parallel: gradient bucket size of DistributedDataParallel in MiB (default 25)', parsePositiveNumber);
}

const timeoutMsOf = (options: DistributedCommandOptions) => Math.round((options.distTimeout ?? DEFAULT_TIMEOUT_MS / 1000) * 1000);

/** How this invocation runs: as the launcher of --nproc ranks, as one rank, or alone. */
export function distributedRole(options: DistributedCommandOptions, env: NodeJS.ProcessEnv = process.env): 'launcher' | 'rank' | 'single' {
  if (options.nproc !== undefined) {
    const clash = (['worldSize', 'rank'] as const).find((key) => options[key] !== undefined);
    if (clash) throw new Error(`--nproc starts the ranks itself; leave out --${clash === 'worldSize' ? 'world-size' : 'rank'}`);
    return 'launcher';
  }
  if (options.worldSize !== undefined || options.rank !== undefined || (env.WORLD_SIZE ?? '') !== '') return 'rank';
  if (options.syncBn || options.bucketCapMb !== undefined) {
    throw new Error(`--${options.syncBn ? 'sync-bn' : 'bucket-cap-mb'} applies to data-parallel training; add --nproc N (or --world-size and --rank)`);
  }
  return 'single';
}

/** The same command line for each rank, without --nproc (node's own flags kept, so tsx runs stay tsx runs). */
export function rankArguments(argv: string[] = process.argv): string[] {
  const args = argv.slice(1);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--nproc') i++;
    else if (!args[i].startsWith('--nproc=')) out.push(args[i]);
  }
  return [...process.execArgv, ...out];
}

/** Runs --nproc ranks of this very command; resolves to the launcher's exit code and the failure, if any. */
export async function launchFromCommandLine(options: DistributedCommandOptions & { threads?: number }) {
  return launchRanks({
    nproc: options.nproc!,
    args: rankArguments(),
    // An explicit --threads is in the ranks' arguments already (it is per rank).
    threadsPerRank: options.threads,
    masterPort: options.masterPort,
    timeoutMs: timeoutMsOf(options),
  });
}

/** Joins the group as one rank (options first, then the torchrun variables). */
export async function joinFromCommandLine(options: DistributedCommandOptions): Promise<ProcessGroupInfo> {
  return init({ worldSize: options.worldSize, rank: options.rank, masterAddr: options.masterAddr, masterPort: options.masterPort, timeoutMs: timeoutMsOf(options) });
}
