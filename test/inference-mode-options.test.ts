// completeMode's refusals: a mode that names what the plan would not run is an error, not a mislabelled run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { completeMode, modeName } from '../src/tools/inference-modes.js';
import type { ConvAlgorithm } from '../src/tools/dnnl/lower.js';
import { resnets } from './helpers/cli.js';

describe('inference mode options', () => {
  it('refuses an unknown convAlgorithm, naming the accepted ones', () => {
    assert.throws(() => completeMode({ convAlgorithm: 'fft' as ConvAlgorithm }), /convAlgorithm must be one of direct, winograd, auto, tuned, got 'fft'/);
  });

  it('refuses Winograd or auto with bf16 (the plan runs bf16 convolutions direct)', () => {
    for (const convAlgorithm of ['winograd', 'auto'] as const) {
      assert.throws(() => completeMode({ precision: 'bf16', convAlgorithm }), new RegExp(`convAlgorithm '${convAlgorithm}' applies to precision 'fp32' only`));
    }
    assert.equal(modeName(completeMode({ precision: 'bf16', convAlgorithm: 'direct' })), 'fused+dnnl+bf16');
    assert.equal(modeName(completeMode({ convAlgorithm: 'winograd' })), 'fused+dnnl+winograd');
    // Tuning picks among the direct kernels in bf16, so it is allowed there.
    assert.equal(modeName(completeMode({ precision: 'bf16', convAlgorithm: 'tuned' })), 'fused+dnnl+bf16+tuned');
  });

  it('bench --precision bf16 --conv-algorithm winograd is refused before any run', async () => {
    const result = await resnets('bench', 'resnet20', '--precision', 'bf16', '--conv-algorithm', 'winograd', '--batch-size', '1', '--runs', '1', '--warmup', '0');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--conv-algorithm winograd applies to --precision fp32 only/);
  });

  it('bench --torch-mode without --compare-torch is refused, not ignored', async () => {
    const result = await resnets('bench', 'resnet20', '--torch-mode', 'jit-optimized', '--batch-size', '1', '--runs', '1', '--warmup', '0');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--torch-mode jit-optimized applies with --compare-torch/);
  });
});
