// ONNX export checked in onnxruntime-node: one model of each family runs there with
// outputs within 1e-4 of ours, with a fixed and a dynamic batch and with BatchNorm
// folded; the file keeps state-dict names; bad requests are clear errors.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as io from '../src/io/index.js';
import { createModel, getModelInfo, listModels } from '../src/models/index.js';
import { randn } from '../src/torch/creation.js';
import { manualSeed, memory, noGrad } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';
import type { Tensor } from '../src/torch/tensor.js';
import { onnx } from '../src/tools/onnx/builder.js';
import { exportOnnx } from '../src/tools/onnx/export.js';
import { resnets } from './helpers/cli.js';
import { liveTensorsAfterCollection } from './helpers/gc.js';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-onnx-');
after(() => temp.cleanup());

async function runOnnx(bytes: Uint8Array, x: Tensor): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(bytes);
  const outputs = await session.run({ input: new ort.Tensor('float32', x.toTypedArray() as Float32Array, x.shape) });
  await session.release();
  return outputs.output;
}

function maxRelativeDifference(ours: Float32Array, theirs: Float32Array): number {
  let scale = 0;
  for (const v of ours) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]) / scale);
  return worst;
}

/** Makes BatchNorm statistics non-trivial, so folding and eval-mode normalisation are tested. */
function randomizeStatistics(model: ReturnType<typeof createModel>): void {
  tidy(() =>
    noGrad(() => {
      for (const [key, tensor] of Object.entries(model.stateDict())) {
        if (key.endsWith('running_mean')) tensor.copy_(randn(tensor.shape).mul(0.1));
        if (key.endsWith('running_var')) tensor.copy_(randn(tensor.shape).abs().add(0.5));
      }
    }),
  );
}

// One model of each family registered (`resnets list` groups them); the large ones
// with one block per stage, which keeps every op kind and costs a fraction.
const oneBlockPerStage = { depths: [1, 1, 1, 1], numClasses: 10 };
const cases: { name: string; size: number; options?: Record<string, unknown> }[] = [
  { name: 'resnet18', size: 48, options: { numClasses: 10 } },
  { name: 'resnet20', size: 32 },
  { name: 'preact_resnet110', size: 32 },
  { name: 'resnet18d', size: 48, options: { numClasses: 10 } },
  { name: 'resnetv2_18', size: 48, options: { numClasses: 10 } },
  { name: 'seresnet18', size: 48, options: { numClasses: 10 } },
  { name: 'resnext50_32x4d', size: 48, options: oneBlockPerStage },
  { name: 'wide_resnet50_2', size: 48, options: oneBlockPerStage },
  // Face embeddings: 112x112 in, a 512-d embedding out (PReLU, the E head's BatchNorm1d).
  { name: 'fresnet18', size: 112, options: { units: [1, 1, 1, 1] } },
  { name: 'iresnet18', size: 112, options: { layers: [1, 1, 1, 1] } },
  // Concatenation (DenseNet) and mean joins (FractalNet).
  { name: 'densenet121', size: 48, options: { blockConfig: [1, 2, 1, 1], numClasses: 10 } },
  { name: 'fractalnet_cifar', size: 32, options: { columns: 3, blocks: 2, channels: [16, 32] } },
];

it('covers every family registered', () => {
  const families = new Set(listModels().map((name) => getModelInfo(name).family));
  const covered = new Set(cases.map((c) => getModelInfo(c.name).family));
  assert.deepEqual([...families].filter((family) => !covered.has(family)), []);
});

describe('exportOnnx in onnxruntime-node', () => {
  for (const { name, size, options } of cases) {
    it(`${name}: fixed batch, dynamic batch and folded BatchNorm match our outputs to 1e-4`, async () => {
      manualSeed(1);
      const model = (createModel as (name: string, options?: object) => ReturnType<typeof createModel>)(name, options).eval();
      randomizeStatistics(model);
      // Earlier garbage collected first; the count after is taken without a collection,
      // so a handle the export made and dropped (a collector would free it later) counts.
      const before = liveTensorsAfterCollection();
      const fixed = exportOnnx(model, { input: [2, 3, size, size] });
      const dynamic = exportOnnx(model, { input: [2, 3, size, size], dynamicBatch: true });
      const folded = exportOnnx(model, { input: [2, 3, size, size], dynamicBatch: true, foldBn: true });
      assert.equal(memory().liveTensors, before, 'export frees what it made');
      for (const [bytes, batch, label] of [
        [fixed, 2, 'fixed'],
        [dynamic, 3, 'dynamic, batch 3'],
        [dynamic, 1, 'dynamic, batch 1'],
        [folded, 3, 'folded'],
      ] as const) {
        const x = randn([batch, 3, size, size]);
        const ours = noGrad(() => model.call(x));
        const theirs = await runOnnx(bytes, x);
        assert.deepEqual(theirs.dims, ours.shape, label);
        const difference = maxRelativeDifference(ours.toTypedArray() as Float32Array, theirs.data as Float32Array);
        assert.ok(difference < 1e-4, `${label}: onnxruntime differs by ${difference} (relative to the largest output)`);
      }
      await assert.rejects(runOnnx(fixed, randn([3, 3, size, size])), /dimension|Got invalid dimensions/i, 'a fixed-batch file refuses another batch');
      model.dispose();
    });
  }

  it('the copy --fold-bn folds leaves no handle behind, embedding models included', () => {
    // Counted without a collection in between, so views stateDict() handed out and nobody
    // disposed count even where a collection during an export would hide them.
    for (const { name, options } of cases) {
      const model = (createModel as (name: string, options?: object) => ReturnType<typeof createModel>)(name, options).eval();
      const before = liveTensorsAfterCollection();
      model.clone().dispose();
      assert.equal(memory().liveTensors, before, `${name}: clone() frees the state-dict views it read`);
      model.dispose();
    }
  });

  it('keeps state-dict names, names input and output, and marks the batch symbolic', () => {
    const model = createModel('resnet20').eval();
    const decoded = onnx.ModelProto.decode(exportOnnx(model, { input: [1, 3, 32, 32], dynamicBatch: true, opset: 13 }));
    assert.equal(Number(decoded.opsetImport[0].version), 13);
    assert.equal(Number(decoded.irVersion), 7);
    const graph = decoded.graph!;
    assert.equal(graph.input[0].name, 'input');
    assert.equal(graph.output[0].name, 'output');
    assert.equal(graph.input[0].type!.tensorType!.shape!.dim![0].dimParam, 'batch');
    const keys = Object.keys(model.stateDict()).filter((key) => !key.endsWith('num_batches_tracked'));
    const names = new Set(graph.initializer.map((t) => t.name));
    assert.deepEqual(keys.filter((key) => !names.has(key)), [], 'every parameter and statistic is an initializer under its key');
    const conv = graph.initializer.find((t) => t.name === 'conv1.weight')!;
    assert.deepEqual(conv.dims.map(Number), [16, 3, 3, 3]);
    assert.deepEqual(
      new Float32Array(Uint8Array.from(conv.rawData!).buffer),
      model.stateDict()['conv1.weight'].toTypedArray(),
    );
    assert.ok(graph.node.some((node) => node.opType === 'Add') && graph.node.some((node) => node.opType === 'Pad'));
    model.dispose();
  });

  it('refuses a model in training mode, an input it cannot take and an unsupported opset', () => {
    const model = createModel('resnet20');
    assert.throws(() => exportOnnx(model, { input: [1, 3, 32, 32] }), /training mode.*model\.eval\(\)/);
    model.eval();
    assert.throws(() => exportOnnx(model, { input: [1, 1, 32, 32] }), /resnet20 cannot run on an input of shape \[1, 1, 32, 32\]: .*expects input \[N, 3, H, W\]/);
    assert.throws(() => exportOnnx(model, { input: [1, 3, 32] }), /\[N, C, H, W\]/);
    assert.throws(() => exportOnnx(model, { input: [1, 3, 32, 32], opset: 11 }), /opset must be an integer from 13 to 21, got 11/);
    model.dispose();
  });
});

describe('resnets export', () => {
  it('reads the class count from the weights and writes a file onnxruntime runs', async () => {
    const model = createModel('resnet20', { numClasses: 7 }).eval();
    const weights = join(temp.path, 'r20.safetensors');
    io.save(model.stateDict(), weights);
    const file = join(temp.path, 'r20.onnx');
    const result = await resnets('export', 'resnet20', '--weights', weights, '-o', file, '--dynamic-batch', '--fold-bn', '--opset', '18');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote .*r20\.onnx \(resnet20, input 1x3x32x32 with a dynamic batch, opset 18\)/);
    const x = randn([2, 3, 32, 32]);
    const theirs = await runOnnx(readFileSync(file), x);
    const ours = noGrad(() => model.call(x));
    assert.deepEqual(theirs.dims, [2, 7]);
    assert.ok(maxRelativeDifference(ours.toTypedArray() as Float32Array, theirs.data as Float32Array) < 1e-4);
    model.dispose();
  });

  it('answers bad options with one line and a non-zero exit', async () => {
    const file = join(temp.path, 'bad.onnx');
    const opset = await resnets('export', 'resnet20', '-o', file, '--opset', '9');
    assert.equal(opset.code, 2);
    assert.match(opset.stderr, /--opset.*expected an opset from 13 to 21, got 9/);
    const input = await resnets('export', 'resnet20', '-o', file, '--input', '1x3x32');
    assert.equal(input.code, 1);
    assert.match(input.stderr, /--input must have 4 sizes/);
    const unknown = await resnets('export', 'resnet21', '-o', file);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown model 'resnet21'/);
  });
});
