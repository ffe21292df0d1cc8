// nn.Module against torch.nn: the same network gives the same state-dict keys, shapes and
// parameter names; loadStateDict's strict checks; train/eval, to(), apply; shared modules
// counted once as PyTorch counts them; forward errors naming the module path; and the
// default initialisation within PyTorch's bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as nn from '../src/nn/index.js';
import { randn, withDefaultDevice, zeros } from '../src/torch/creation.js';
import { manualSeed, memory } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';
import { runPythonCode } from './helpers/python.js';

/** The same network in both: nested Sequentials, BatchNorm buffers, grouped conv, PReLU. */
const PYTHON_NET = `
import json, torch.nn as nn
net = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
    nn.Sequential(nn.Conv2d(8, 8, 3, groups=2), nn.PReLU(8)),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5), nn.BatchNorm1d(5))
print(json.dumps({
    'state': [[k, list(v.shape)] for k, v in net.state_dict().items()],
    'parameters': [k for k, _ in net.named_parameters()],
    'buffers': [k for k, _ in net.named_buffers()],
}))
`;

function buildNet(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(3, 8, 3, { padding: 1, bias: false }),
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.Sequential(new nn.Conv2d(8, 8, 3, { groups: 2 }), new nn.PReLU(8)),
    new nn.AdaptiveAvgPool2d(1),
    new nn.Flatten(),
    new nn.Linear(8, 5),
    new nn.BatchNorm1d(5),
  );
}

/** Two heads sharing one Linear, as a tied-weights model would. */
class SharedHead extends nn.Module {
  readonly left: nn.Linear;
  readonly right: nn.Sequential;
  constructor() {
    super();
    const shared = new nn.Linear(4, 4);
    this.left = this.registerModule('left', shared);
    this.right = this.registerModule('right', new nn.Sequential(shared, new nn.ReLU()));
  }
  forward(input: ReturnType<typeof randn>) {
    return this.right.call(this.left.call(input));
  }
}

describe('nn.Module', () => {
  it('has the state-dict keys, shapes, parameter and buffer names of the same torch.nn network', () => {
    const reference = JSON.parse(runPythonCode(PYTHON_NET)) as { state: [string, number[]][]; parameters: string[]; buffers: string[] };
    const net = buildNet();
    try {
      assert.deepEqual(
        Object.entries(net.stateDict()).map(([key, tensor]) => [key, tensor.shape]),
        reference.state,
      );
      assert.deepEqual([...net.namedParameters()].map(([name]) => name), reference.parameters);
      assert.deepEqual([...net.namedBuffers()].map(([name]) => name), reference.buffers);
    } finally {
      net.dispose();
    }
  });

  it('loadStateDict copies values and lists missing, unexpected and mismatched keys by name', () => {
    manualSeed(1);
    const [source, target] = [buildNet(), buildNet()];
    try {
      target.loadStateDict(source.stateDict());
      for (const [key, tensor] of Object.entries(target.stateDict())) {
        assert.deepEqual(tensor.toArray(), source.stateDict()[key].toArray(), key);
      }
      const partial = { ...source.stateDict() };
      delete partial['1.running_mean'];
      partial['9.weight'] = partial['6.weight'];
      partial.constructor = partial['6.weight']; // inherited names are keys like any other
      assert.throws(() => target.loadStateDict(partial), (error: Error) => /missing keys \(1\): 1\.running_mean/.test(error.message) && /unexpected keys \(2\): 9\.weight, constructor/.test(error.message));
      assert.deepEqual(target.loadStateDict(partial, { strict: false }), { missingKeys: ['1.running_mean'], unexpectedKeys: ['9.weight', 'constructor'], mismatchedKeys: [] });
      tidy(() => {
        const wrong = { ...source.stateDict(), '6.weight': zeros([5, 9]), '6.bias': zeros([5]) };
        assert.throws(() => target.loadStateDict(wrong), /6\.weight: checkpoint has \[5, 9\], model expects \[5, 8\]/);
        const before = target.getSubmodule('6').stateDict()['weight'].toArray();
        const result = target.loadStateDict(wrong, { strict: false });
        assert.deepEqual(result.mismatchedKeys, [{ key: '6.weight', checkpoint: [5, 9], model: [5, 8] }]);
        assert.deepEqual(target.getSubmodule('6').stateDict()['weight'].toArray(), before, 'a mismatched key is skipped');
        assert.deepEqual(target.getSubmodule('6').stateDict()['bias'].toArray(), [0, 0, 0, 0, 0], 'the matching keys load');
      });
    } finally {
      source.dispose();
      target.dispose();
    }
  });

  it('dispose() frees every tensor a network made while building', () => {
    const before = memory();
    buildNet().dispose();
    new nn.BatchNorm2d(3, { affine: false }).dispose();
    assert.deepEqual(memory(), before);
  });

  it("builds on the 'meta' device with shapes and counts but no storage", () => {
    const before = memory();
    const meta = withDefaultDevice('meta', buildNet);
    const cpu = buildNet();
    try {
      assert.ok(meta.parameters().every((p) => p.device === 'meta'));
      assert.equal(meta.countParameters(), cpu.countParameters());
      tidy(() =>
        assert.deepEqual(
          Object.entries(meta.stateDict()).map(([key, t]) => [key, t.shape]),
          Object.entries(cpu.stateDict()).map(([key, t]) => [key, t.shape]),
        ),
      );
      cpu.dispose();
      assert.equal(memory().nativeBytes, before.nativeBytes, 'meta tensors hold no bytes');
      assert.equal(zeros([2]).device, 'cpu', 'the default ends with the call');
      assert.throws(() => withDefaultDevice('meta', async () => 1), /must be synchronous/);
    } finally {
      meta.dispose();
    }
  });

  it('train(), eval(), to() and apply() reach every module', () => {
    const net = buildNet();
    try {
      net.eval();
      assert.ok([...net.namedModules()].every(([, m]) => !m.training));
      net.train();
      assert.ok([...net.namedModules()].every(([, m]) => m.training));
      net.to('float64');
      assert.ok(net.parameters().every((p) => p.dtype === 'float64' && p.requiresGrad));
      assert.throws(() => net.to('int64'), /parameters must be floating point, got int64/);
      assert.ok(net.parameters().every((p) => p.dtype === 'float64'), 'a refused to() changes nothing');
      assert.equal(net.stateDict()['1.num_batches_tracked'].dtype, 'int64');
      const visited: string[] = [];
      net.apply((module) => visited.push(module.constructor.name));
      assert.equal(visited.length, [...net.namedModules()].length);
      assert.equal(visited.at(-1), 'Sequential');
    } finally {
      net.dispose();
    }
  });

  it('a shared module counts once in parameters() and appears under each path in stateDict(), as in PyTorch', () => {
    const reference = JSON.parse(
      runPythonCode(`
import json, torch.nn as nn
class SharedHead(nn.Module):
    def __init__(self):
        super().__init__()
        shared = nn.Linear(4, 4)
        self.left = shared
        self.right = nn.Sequential(shared, nn.ReLU())
net = SharedHead()
print(json.dumps({'state': list(net.state_dict()), 'parameters': [k for k, _ in net.named_parameters()],
                  'modules': [k for k, _ in net.named_modules()], 'count': sum(p.numel() for p in net.parameters())}))
`),
    ) as { state: string[]; parameters: string[]; modules: string[]; count: number };
    const before = memory().liveTensors;
    const net = new SharedHead();
    tidy(() => assert.deepEqual(Object.keys(net.stateDict()), reference.state));
    assert.deepEqual([...net.namedParameters()].map(([name]) => name), reference.parameters);
    assert.deepEqual([...net.namedModules()].map(([name]) => name), reference.modules);
    assert.equal(net.countParameters(), reference.count);
    net.dispose();
    assert.equal(memory().liveTensors, before, 'dispose frees the shared parameters once');
  });

  it('a forward error names the module path, its type and the input shape', () => {
    const net = buildNet();
    try {
      tidy(() => {
        assert.throws(() => net.call(randn([2, 4, 8, 8])), (error: Error) => /^0 \(Conv2d\) with input \[2, 4, 8, 8\]: .*weight of size \[8, 3, 3, 3\]/.test(error.message));
        const nested = new nn.Sequential(new nn.Identity(), buildNet());
        try {
          assert.throws(() => nested.call(randn([2, 3, 2, 2])), (error: Error) => /^1\.3\.0 \(Conv2d\) with input \[2, 8, 2, 2\]: /.test(error.message));
        } finally {
          nested.dispose();
        }
      });
    } finally {
      net.dispose();
    }
  });

  it("initialises as PyTorch does: weights and biases within 1/sqrt(fan_in), BatchNorm and PReLU as torch.nn's", () => {
    manualSeed(0);
    const conv = new nn.Conv2d(16, 32, 3, { groups: 2 });
    const linear = new nn.Linear(64, 10);
    const norm = new nn.BatchNorm2d(6);
    const prelu = new nn.PReLU(3);
    try {
      for (const [layer, fanIn] of [
        [conv, 8 * 9],
        [linear, 64],
      ] as const) {
        const bound = 1 / Math.sqrt(fanIn);
        const largest = (tensor: nn.Parameter) => (tensor.toTypedArray() as Float32Array).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        // Hundreds of uniform weights reach near the bound; the few biases only stay inside it.
        assert.ok(largest(layer.weight) <= bound && largest(layer.weight) > 0.9 * bound, `weights uniform within ±${bound}`);
        assert.ok(largest(layer.bias!) <= bound && largest(layer.bias!) > 0, `biases uniform within ±${bound}`);
      }
      const reference = JSON.parse(
        runPythonCode(`
import json, torch.nn as nn
bn, prelu = nn.BatchNorm2d(6), nn.PReLU(3)
print(json.dumps({'bn': {k: v.tolist() for k, v in bn.state_dict().items()}, 'prelu': prelu.weight.tolist()}))
`),
      ) as { bn: Record<string, number[] | number>; prelu: number[] };
      const state = norm.stateDict();
      assert.deepEqual(Object.keys(state), Object.keys(reference.bn));
      for (const [key, tensor] of Object.entries(state)) assert.deepEqual(tensor.toArray(), reference.bn[key], key);
      assert.deepEqual(prelu.weight.toArray(), reference.prelu);
    } finally {
      for (const layer of [conv, linear, norm, prelu]) layer.dispose();
    }
  });
});
