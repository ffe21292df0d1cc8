// Ctrl-C during `resnets train`, sent to a real child process: the run stops after the
// step that was running, not at the end of the epoch (the batches are read ahead, so
// without a turn of the event loop per step the signal would wait for the epoch's end),
// saves a resumable checkpoint and exits with 130.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from './helpers/python.js';

describe('resnets train and SIGINT', () => {
  it('stops within a step or two of the signal, mid-epoch, with exit code 130', async () => {
    const dir = tempDir('resnets-interrupt-');
    try {
      const out = join(dir.path, 'run');
      // 600 images in batches of 2: 300 steps per epoch, far more than the stop may take.
      const args = ['--import', 'tsx', 'src/cli/main.ts', 'train', 'resnet20', '--data', 'fashion-mnist', '--limit-train', '600', '--batch-size', '2',
        '--epochs', '2', '--threads', '1', '--no-progress', '--out', out];
      const child = spawn(process.execPath, args, { env: { ...process.env, RESNETS_NUM_THREADS: '1', RESNETS_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let signalled = false;
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        // The line before the first step: the signal lands during the first steps.
        if (!signalled && /parameters; 300 steps per epoch/.test(stdout)) {
          signalled = true;
          setTimeout(() => child.kill('SIGINT'), 300);
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.ok(signalled, `training never started:\n${stdout}\n${stderr}`);
      assert.equal(code, 130, `exit code after Ctrl-C\n${stdout}\n${stderr}`);
      const where = /stopped in epoch 1 at batch (\d+) \(step \d+\)/.exec(stdout);
      assert.ok(where, `expected a mid-epoch stop, got:\n${stdout}`);
      assert.ok(Number(where[1]) < 300, 'the stop came before the epoch ended');
      assert.ok(existsSync(join(out, 'state.safetensors')), 'a resumable checkpoint was saved');
      assert.doesNotMatch(stdout, /^epoch 1\/2/m, 'no epoch finished');
    } finally {
      dir.cleanup();
    }
  });
});
