// onnxruntime as a benchmark peer: the exported model runs with our thread count, its
// outputs agree with ours, and `resnets bench --engine onnxruntime` prints the ratio.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel } from '../src/models/index.js';
import { benchmarkAgainstPeer } from '../src/tools/bench-compare.js';
import { OnnxRuntimePeer } from '../src/tools/onnx-peer.js';
import { assertComparedRuns } from './helpers/bench.js';
import { resnets } from './helpers/cli.js';

describe('the onnxruntime peer', () => {
  it('runs the exported model, agrees with ours and alternates runs with ours', async () => {
    const model = createModel('resnet20').eval();
    const peer = await OnnxRuntimePeer.start(model, { size: 32, threads: 1 });
    try {
      assert.ok(peer.difference < 1e-4, `onnxruntime differs by ${peer.difference}`);
      assert.match(peer.description, /^onnxruntime-node 1\.30\.0/);
      const times = await peer.time(3, 2);
      assert.equal(times.length, 2);
      assert.ok(times.every((t) => t > 0));
      const compared = await benchmarkAgainstPeer(model, peer, { batchSize: 2, size: 32, warmup: 1, runs: 3 });
      assertComparedRuns(compared, 3, 1);
    } finally {
      await peer.close();
      model.dispose();
    }
  });
});

describe('resnets bench --engine onnxruntime', () => {
  it('prints onnxruntime beside resnets with the ratio', async () => {
    const { code, stdout, stderr } = await resnets('bench', 'resnet20', '--engine', 'onnxruntime', '--batch-size', '2', '--warmup', '1', '--runs', '2', '--threads', '1', '--plain');
    assert.equal(code, 0, stderr);
    assert.match(stdout, /Batch\s+resnets img\/s\s+ms\/batch\s+onnxruntime img\/s\s+ms\/batch\s+ratio/);
    assert.match(stdout, /^\s+2\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+x$/m);
    assert.match(stdout, /onnxruntime-node 1\.30\.0 .*its runs alternating with ours/);
  });

  it('refuses an unknown engine and two peers at once', async () => {
    const unknown = await resnets('bench', 'resnet20', '--engine', 'tensorrt');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /expected one of libtorch, onnxruntime, got 'tensorrt'/);
    const both = await resnets('bench', 'resnet20', '--engine', 'onnxruntime', '--compare-torch', '--runs', '1', '--warmup', '0', '--batch-size', '1');
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--compare-torch and --engine onnxruntime each time a peer beside resnets; pick one/);
  });
});
