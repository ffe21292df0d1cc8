// Starts and supervises the ranks of a one-machine data-parallel run, as torchrun
// --standalone does: N copies of a command with RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR and MASTER_PORT set, the machine's cores shared out between them.
//
// Supervision: a rank that exits with a failure (or is killed) is reported by rank and
// cause; the others stop by themselves when their next collective fails (within the
// group's timeout) and are killed if they have not gone a little after that. Ctrl-C
// (SIGINT) is forwarded once to every rank, which finish their step together and rank 0
// saves a resumable state; the ranks run in their own process group so a terminal's
// Ctrl-C reaches them only through here (once). If this process dies, the ranks notice
// the closed IPC channel and stop the same way.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';

export interface LaunchOptions {
  /** Ranks to start. */
  nproc: number;
  /** The command each rank runs: node's arguments (script and its arguments). */
  args: string[];
  /** libtorch threads per rank (RESNETS_NUM_THREADS); default the machine's cores shared out, at least 1. */
  threadsPerRank?: number;
  /** Default: a free port. */
  masterPort?: number;
  /** The ranks' collective timeout, to bound how long survivors may take to stop. */
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  /** Where the supervisor's lines go (default stderr). */
  log?: (line: string) => void;
}

export interface LaunchResult {
  /** The exit code for the launcher: 0 when every rank succeeded, 130 after Ctrl-C, else 1. */
  code: number;
  /** How each rank ended: an exit code or a signal name. */
  ranks: { rank: number; code: number | null; signal: NodeJS.Signals | null }[];
  /** The first rank that failed, in words; undefined when none did. */
  failure?: string;
}

/** A port nothing listens on now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** libtorch threads each of `nproc` ranks gets by default: the cores shared out. */
export function defaultThreadsPerRank(nproc: number): number {
  return Math.max(1, Math.floor(availableParallelism() / nproc));
}

const describeExit = (code: number | null, signal: NodeJS.Signals | null) => (signal ? `was killed by ${signal}` : `exited with code ${code}`);

export async function launchRanks(options: LaunchOptions): Promise<LaunchResult> {
  const { nproc } = options;
  if (!Number.isInteger(nproc) || nproc < 1) throw new Error(`--nproc must be a positive integer, got ${nproc}`);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cores = availableParallelism();
  if (nproc > cores) {
    log(`note: --nproc ${nproc} starts more ranks than this machine's ${cores} cores; each rank is a full libtorch process (memory for its own model copy), and ranks sharing a core wait for each other at every all-reduce`);
  }
  const port = options.masterPort ?? (await freePort());
  const threads = options.threadsPerRank ?? defaultThreadsPerRank(nproc);
  const children: ChildProcess[] = [];
  const ended: LaunchResult['ranks'] = [];
  let failure: string | undefined;
  let interrupted = false;
  let killTimer: NodeJS.Timeout | undefined;

  const live = () => children.filter((child) => child.exitCode === null && child.signalCode === null);
  const onSigint = () => {
    interrupted = true;
    log(`Ctrl-C: stopping ${nproc === 1 ? 'the rank' : `all ${nproc} ranks`} after their current step`);
    for (const child of live()) child.kill('SIGINT');
  };
  const onSigterm = () => {
    for (const child of live()) child.kill('SIGTERM');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  try {
    const exits = Array.from({ length: nproc }, (_, rank) => {
      const child = spawn(process.execPath, options.args, {
        env: {
          ...(options.env ?? process.env),
          RANK: String(rank),
          LOCAL_RANK: String(rank),
          WORLD_SIZE: String(nproc),
          LOCAL_WORLD_SIZE: String(nproc),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
          RESNETS_NUM_THREADS: String(threads),
        },
        // Rank 0 owns the terminal (its progress display); the others' output is prefixed.
        stdio: rank === 0 ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'pipe', 'ipc'],
        detached: true,
      });
      children.push(child);
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) createInterface({ input: stream }).on('line', (line) => log(`[rank ${rank}] ${line}`));
      }
      return new Promise<void>((resolve) => {
        child.on('error', (error) => {
          failure ??= `rank ${rank} could not start: ${error.message}`;
          resolve();
        });
        child.on('exit', (code, signal) => {
          ended.push({ rank, code, signal });
          const ok = code === 0 || (interrupted && code === 130);
          if (!ok && failure === undefined) {
            failure = `rank ${rank} ${describeExit(code, signal)}`;
            if (live().length > 0) {
              log(`${failure}; waiting up to ${Math.round(options.timeoutMs / 1000) + 10} s for the other ranks to stop`);
              // The survivors stop when a collective fails, at the latest after the timeout.
              killTimer = setTimeout(() => {
                for (const other of live()) {
                  log(`rank ${children.indexOf(other)} did not stop; killing it`);
                  other.kill('SIGKILL');
                }
              }, options.timeoutMs + 10_000);
            }
          }
          resolve();
        });
      });
    });
    log(`started ${nproc} rank${nproc === 1 ? '' : 's'} on 127.0.0.1:${port}, ${threads} thread${threads === 1 ? '' : 's'} each: ${children.map((c, rank) => `rank ${rank} pid ${c.pid}`).join(', ')}`);
    await Promise.all(exits);
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
  ended.sort((a, b) => a.rank - b.rank);
  if (failure) {
    log(`${failure}; ranks ended: ${ended.map((r) => `${r.rank} ${r.signal ?? `code ${r.code}`}`).join(', ')}`);
    return { code: 1, ranks: ended, failure };
  }
  return { code: interrupted ? 130 : 0, ranks: ended };
}
