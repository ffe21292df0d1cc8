// The command-line face of activation checkpointing: summary --training-memory measures
// the activation memory per image with and without it; train --checkpoint-activations
// trains with it, and --segments alone is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { resnets } from './helpers/cli.js';
import { tempDir } from './helpers/python.js';

describe('resnets summary --training-memory', () => {
  it('reports less kept memory per image with checkpointing (JSON and text)', async () => {
    const json = await resnets('summary', 'resnet20', '--input', '2x3x32x32', '--json', '--training-memory');
    assert.equal(json.code, 0, json.stderr);
    const { trainingMemory } = JSON.parse(json.stdout) as { trainingMemory: { plain: { keptBytesPerImage: number }; checkpointed: { keptBytesPerImage: number } } };
    assert.ok(trainingMemory.checkpointed.keptBytesPerImage * 3 < trainingMemory.plain.keptBytesPerImage, JSON.stringify(trainingMemory));
    const text = await resnets('summary', 'resnet20', '--input', '2x3x32x32', '--training-memory', '--segments', '3');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /kept for backward: +[\d.]+ MiB, with checkpointing \(3 segments\) [\d.]+ MiB \([\d.]+x less\)/);
    const refused = await resnets('summary', 'resnet20', '--segments', '3');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /--segments applies with --training-memory/);
  });
});

describe('resnets train --checkpoint-activations', () => {
  it('trains a short run with checkpointing; --segments without it is refused', async () => {
    const dir = tempDir();
    try {
      const out = join(dir.path, 'run');
      const run = await resnets('train', 'resnet20', '--data', 'fashion-mnist', '--limit-train', '64', '--limit-test', '32', '--batch-size', '32',
        '--epochs', '1', '--no-progress', '--checkpoint-activations', '--segments', '4', '--out', out);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /finished 1 epoch in/);
      const refused = await resnets('train', 'resnet20', '--data', 'fashion-mnist', '--segments', '4', '--out', join(dir.path, 'other'));
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /--segments applies with --checkpoint-activations/);
    } finally {
      dir.cleanup();
    }
  });
});
