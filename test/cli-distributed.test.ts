// `resnets train --nproc 2`: the same result as one process (with --sync-bn), Ctrl-C to
// the launcher stops every rank and saves once, the run resumes exactly at its world
// size (and refuses another), a rank killed with SIGKILL stops the run naming it with the
// last checkpoint intact, and a wrong master address or a port in use fails fast.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resnets } from './helpers/cli.js';
import { metricsWithoutTimes, weightBytes } from './helpers/interrupted-run.js';
import { tempDir } from './helpers/python.js';
import { loadSafetensors } from '../src/io/safetensors.js';
import { torch } from '../src/index.js';

const env = { ...process.env, RESNETS_NUM_THREADS: '1', RESNETS_DEBUG: '' };
const trainArgs = (out: string, ...extra: string[]) => [
  'train', 'resnet20', '--data', 'fashion-mnist', '--limit-test', '16', '--threads', '1', '--no-progress', '--out', out, ...extra,
];

/** Runs the CLI; `onOutput` sees stdout and stderr as they come, with the child to signal. */
async function cli(args: string[], onOutput?: (stdout: string, stderr: string, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    onOutput?.(stdout, stderr, child);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    onOutput?.(stdout, stderr, child);
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

function worstDifference(fileA: string, fileB: string): number {
  const [a, b] = [loadSafetensors(fileA), loadSafetensors(fileB)];
  let worst = 0;
  for (const key of Object.keys(b)) {
    const x = a[key].toTypedArray() as ArrayLike<number | bigint>;
    const y = b[key].toTypedArray() as ArrayLike<number | bigint>;
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(Number(x[i]) - Number(y[i])) / (1 + Math.abs(Number(y[i]))));
  }
  torch.dispose([a, b]);
  return worst;
}

describe('resnets train --nproc', () => {
  it('2 ranks with --sync-bn reach the weights of one process with the same global batch', async () => {
    const dir = tempDir('resnets-ddp-');
    try {
      const common = ['--limit-train', '48', '--batch-size', '16', '--epochs', '1', '--lr', '0.01', '--no-augment'];
      // The ranks train dense (--sync-bn needs dense batch statistics), so the single process does too.
      const one = await resnets(...trainArgs(join(dir.path, 'one'), ...common, '--no-mkldnn'));
      assert.equal(one.code, 0, one.stderr);
      const two = await resnets(...trainArgs(join(dir.path, 'two'), ...common, '--nproc', '2', '--sync-bn'));
      assert.equal(two.code, 0, two.stderr);
      assert.match(two.stdout, /data-parallel: 2 ranks, 8 images each per step \(global batch 16\)/);
      assert.match(two.stderr, /started 2 ranks on 127\.0\.0\.1:\d+, 1 thread each/);
      assert.equal(two.stdout.match(/^epoch 1\/1/gm)?.length, 1, 'only rank 0 prints the epoch line');
      // Float sums in another order, through 3 steps of batch norm on small batches.
      const worst = worstDifference(join(dir.path, 'two', 'last.safetensors'), join(dir.path, 'one', 'last.safetensors'));
      assert.ok(worst < 1e-4, `worst relative difference ${worst}`);
      assert.ok(!existsSync(join(dir.path, 'two', 'rank1')), 'nothing else written');
    } finally {
      dir.cleanup();
    }
  });

  it('Ctrl-C to the launcher stops both ranks and saves once; --resume at world size 2 continues exactly; another world size is refused', async () => {
    const dir = tempDir('resnets-ddp-');
    try {
      // 256 images in global batches of 8: 32 steps per epoch, so the stop lands mid-epoch.
      const args = (out: string) => trainArgs(out, '--limit-train', '256', '--batch-size', '8', '--epochs', '2', '--nproc', '2');
      const straight = join(dir.path, 'straight');
      const stopped = join(dir.path, 'stopped');
      assert.equal((await cli(args(straight))).code, 0);
      let signalled = false;
      const first = await cli(args(stopped), (stdout, _stderr, child) => {
        if (!signalled && /^epoch 1\/2/m.test(stdout)) {
          signalled = true;
          child.kill('SIGINT');
        }
      });
      assert.ok(signalled, first.stdout + first.stderr);
      assert.equal(first.code, 130, first.stdout + first.stderr);
      assert.equal(first.stdout.match(/resumable checkpoint saved/g)?.length, 1, `saved once:\n${first.stdout}`);
      assert.match(first.stdout, /resume with: resnets train --resume \S+ --nproc 2/);
      const refused = await resnets('train', '--resume', stopped, '--threads', '1', '--no-progress');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /was trained by 2 processes; resume it at the same world size \(--nproc 2\), not 1/);
      const resumed = await cli(['train', '--resume', stopped, '--threads', '1', '--no-progress', '--nproc', '2']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.deepEqual(weightBytes(join(stopped, 'last.safetensors')), weightBytes(join(straight, 'last.safetensors')), 'the same weights as the run that never stopped');
      assert.deepEqual(metricsWithoutTimes(stopped), metricsWithoutTimes(straight));
    } finally {
      dir.cleanup();
    }
  });

  it('a rank killed with SIGKILL mid-epoch stops the run within the timeout, naming it; the last checkpoint resumes', async () => {
    const dir = tempDir('resnets-ddp-');
    try {
      const out = join(dir.path, 'run');
      const args = trainArgs(out, '--limit-train', '256', '--batch-size', '8', '--epochs', '2', '--nproc', '2', '--dist-timeout', '10');
      let killedAt = 0;
      const run = await cli(args, (stdout, stderr) => {
        const pid = /rank 1 pid (\d+)/.exec(stderr);
        if (killedAt === 0 && pid && /^epoch 1\/2/m.test(stdout)) {
          killedAt = performance.now();
          process.kill(Number(pid[1]), 'SIGKILL');
        }
      });
      const seconds = (performance.now() - killedAt) / 1000;
      assert.ok(killedAt > 0, run.stdout + run.stderr);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stderr, /rank 1 was killed by SIGKILL/);
      assert.match(run.stderr, /rank 0: rank 1 stopped responding/);
      assert.match(run.stderr, /the last checkpoint in \S+ is intact: resume with resnets train --resume/);
      assert.ok(seconds < 10, `stopped ${seconds.toFixed(1)} s after the kill, within the 10 s timeout`);
      const resumed = await cli(['train', '--resume', out, '--threads', '1', '--no-progress', '--nproc', '2']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /resuming \S+ at epoch 2, batch 0/);
      assert.match(resumed.stdout, /^epoch 2\/2/m);
    } finally {
      dir.cleanup();
    }
  });

  it('a wrong master address or a master port in use fails at once with a clear message', async () => {
    const base = ['train', 'resnet20', '--data', 'fashion-mnist', '--limit-train', '16', '--no-progress', '--out', join(tempDir().path, 'x')];
    const wrong = await resnets(...base, '--world-size', '2', '--rank', '0', '--master-addr', '203.0.113.7');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /rank 0 serves the rendezvous store, so the master address must be one of this machine's; '203\.0\.113\.7'/);
    const server: Server = await new Promise((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const { port } = server.address() as { port: number };
      const started = performance.now();
      const busy = await resnets(...base, '--world-size', '1', '--rank', '0', '--master-port', String(port));
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, new RegExp(`master port ${port} is in use on this machine`));
      assert.ok(performance.now() - started < 15_000);
    } finally {
      server.close();
    }
    const clash = await resnets(...base, '--nproc', '2', '--rank', '1');
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /--nproc starts the ranks itself; leave out --rank/);
    const uneven = await resnets(...base, '--nproc', '2', '--batch-size', '15');
    assert.equal(uneven.code, 1);
    assert.match(uneven.stderr, /--batch-size 15 is the global batch and must divide evenly over the 2 ranks/);
    assert.doesNotMatch(uneven.stderr, /started 2 ranks/, 'refused before any rank starts');
    const alone = await resnets(...base, '--sync-bn');
    assert.match(alone.stderr, /--sync-bn applies to data-parallel training; add --nproc N/);
  });
});
