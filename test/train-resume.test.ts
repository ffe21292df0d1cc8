// Checkpoints survive interruption: a checkpoint write killed halfway leaves the previous
// file whole, and a run stopped with Ctrl-C and resumed ends with the same weights as one
// that was never stopped.
//
// Run with RESNETS_TEST_CHECKPOINT_WRITER=DIR, this file is the child process of the
// kill test instead: it rewrites DIR/last.safetensors forever with new values.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { nn, torch } from '../src/index.js';
import { loadSafetensors } from '../src/io/safetensors.js';
import { RunDirectory, readWeightsInfo } from '../src/train/checkpoint.js';
import { metricsWithoutTimes, trainStraightAndInterrupted, weightBytes } from './helpers/interrupted-run.js';
import { tempDir } from './helpers/python.js';

const writerDir = process.env.RESNETS_TEST_CHECKPOINT_WRITER;
const info = { model: 'linear', modelOptions: {}, classes: ['a', 'b'], inputShape: [1, 1, 1] as [number, number, number], mean: [0], std: [1], cropPct: 1 };

const ATTEMPTS = 25;

/** Large enough (16 MB) that a kill often lands during a write. */
const makeModel = () => new nn.Linear(2048, 2048, { bias: false });

if (writerDir) {
  const model = makeModel();
  const run = new RunDirectory(writerDir, info);
  for (let version = 1; ; version++) {
    torch.noGrad(() => model.weight.fill_(version));
    run.saveWeights('last', model);
    if (version === 1) process.stdout.write('ready\n');
  }
} else {
  describe('atomic checkpoint writes', () => {
    it('a write killed halfway leaves the previous checkpoint intact', async () => {
      const dir = tempDir();
      try {
        let leftovers = 0;
        // A kill lands inside a write only some of the time (encoding the tensors takes a
        // share of each cycle): try until one does; the checks below run after every kill.
        for (let attempt = 0; attempt < ATTEMPTS && leftovers === 0; attempt++) {
          const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
            env: { ...process.env, RESNETS_TEST_CHECKPOINT_WRITER: dir.path, RESNETS_NUM_THREADS: '1' },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          await new Promise<void>((resolve, reject) => {
            child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
            child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
          });
          await new Promise((resolve) => setTimeout(resolve, 150 + 37 * attempt));
          child.kill('SIGKILL');
          await new Promise((resolve) => child.on('exit', resolve));
          // Whatever moment the kill hit, the checkpoint is one complete version.
          const weights = loadSafetensors(join(dir.path, 'last.safetensors'));
          const values = weights.weight.toTypedArray() as Float32Array;
          assert.equal(values.length, 2048 * 2048);
          assert.ok(values[0] >= 1 && Number.isInteger(values[0]));
          assert.ok(values.every((v) => v === values[0]), 'a checkpoint mixes two versions');
          assert.equal(readWeightsInfo(join(dir.path, 'last.safetensors'))?.model, 'linear');
          torch.dispose(weights);
          leftovers = readdirSync(dir.path).filter((name) => name.startsWith('last.safetensors.tmp-')).length;
        }
        assert.ok(leftovers > 0, `no kill landed during a write in ${ATTEMPTS} attempts, so the test proved nothing`);
      } finally {
        dir.cleanup();
      }
    });
  });

  describe('Ctrl-C and --resume', () => {
    // A tiny run: resnet20 on 256 Fashion-MNIST images, 16 steps per epoch, one thread
    // so that every run computes bit for bit the same; with stochastic depth on, so the
    // drop-path masks must repeat after a resume too.
    const args = (out: string) =>
      ['src/cli/main.ts', 'train', 'resnet20', '--data', 'fashion-mnist', '--limit-train', '256', '--limit-test', '64', '--batch-size', '16',
        '--epochs', '3', '--seed', '4', '--threads', '1', '--drop-path-rate', '0.2', '--no-progress', '--out', out];
    const cli = ['--import', 'tsx'];
    const env = { ...process.env, RESNETS_NUM_THREADS: '1', RESNETS_DEBUG: '' };

    const weights = weightBytes;
    const metrics = metricsWithoutTimes;

    it('a run stopped by SIGINT and resumed ends with the same weights as an uninterrupted one', async () => {
      const dir = tempDir();
      try {
        // Ctrl-C once the first epoch is reported: the stop lands inside the second.
        const { straight, stopped, code, stdout, stderr } = await trainStraightAndInterrupted((out) => [...cli, ...args(out)], env, dir.path);
        assert.equal(code, 130, `a stop by Ctrl-C exits with 130\n${stderr}`);
        const where = /stopped in epoch 2 at batch (\d+) \(step (\d+)\); resumable checkpoint saved to .*state\.safetensors/.exec(stdout);
        assert.ok(where, `expected a mid-epoch stop message, got:\n${stdout}`);
        assert.equal(Number(where[2]), 16 + Number(where[1]));
        assert.match(stdout, new RegExp(`resume with: resnets train --resume ${stopped.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        assert.equal(metrics(stopped).length, 1);

        const resumed = await promisify(execFile)(process.execPath, [...cli, 'src/cli/main.ts', 'train', '--resume', stopped, '--no-progress', '--threads', '1'], { env });
        assert.match(resumed.stdout, /resuming .* at epoch 2, batch \d+ of 16/);
        assert.match(resumed.stdout, /finished 3 epochs/);

        assert.deepEqual(weights(join(stopped, 'last.safetensors')), weights(join(straight, 'last.safetensors')));
        assert.deepEqual(weights(join(stopped, 'best.safetensors')), weights(join(straight, 'best.safetensors')));
        assert.deepEqual(metrics(stopped), metrics(straight));
      } finally {
        dir.cleanup();
      }
    });
  });
}
