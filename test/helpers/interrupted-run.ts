// Runs `resnets train` as a child process and interrupts it, for the resume tests: the
// run is sent SIGINT once its first epoch line is printed, so the stop lands inside the
// second epoch. Also reads back weights and metrics for comparing two runs.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { torch } from '../../src/index.js';
import { loadSafetensors } from '../../src/io/safetensors.js';

/** Runs `node ...args` (a train command) and sends SIGINT after its first epoch line; resolves with its exit code and output. */
export async function trainStoppedAfterFirstEpoch(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!signalled && /^epoch 1\//m.test(stdout)) {
      signalled = true;
      child.kill('SIGINT');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

/**
 * Trains twice into `dir`/straight and `dir`/stopped with `args(out)` (node arguments of a
 * train command): once through, once interrupted after the first epoch.
 */
export async function trainStraightAndInterrupted(args: (out: string) => string[], env: NodeJS.ProcessEnv, dir: string) {
  const straight = join(dir, 'straight');
  const stopped = join(dir, 'stopped');
  await promisify(execFile)(process.execPath, args(straight), { env });
  return { straight, stopped, ...(await trainStoppedAfterFirstEpoch(args(stopped), env)) };
}

/** A safetensors file's tensors as base64 bytes, for exact comparison. */
export function weightBytes(file: string): Record<string, string> {
  const dict = loadSafetensors(file);
  const bytes = Object.fromEntries(Object.entries(dict).map(([key, tensor]) => [key, Buffer.from(tensor.toBytes()).toString('base64')]));
  torch.dispose(dict);
  return bytes;
}

/** A run's metrics.jsonl without the timings, which differ between runs. */
export function metricsWithoutTimes(dir: string): Record<string, number>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => {
    const { seconds, trainImagesPerSecond, ...rest } = JSON.parse(line) as Record<string, number>;
    return rest;
  });
}
