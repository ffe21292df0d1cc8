// Gradients beyond backward(): torch.autograd.grad (with a second derivative through
// createGraph), retainGrad() on an intermediate, tensor hooks, and a module's full
// backward hook, each against PyTorch on the same numbers (scripts/autograd_reference.py).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as nn from '../src/nn/index.js';
import * as tools from '../src/tools/index.js';
import * as torch from '../src/torch/index.js';
import { runPython } from './helpers/python.js';

type Nested = number[] | number[][];
const reference = JSON.parse(runPython('autograd_reference.py')) as {
  x: number[][];
  w: number[];
  gradX: number[][];
  gradW: number[];
  gradGradX: number[][];
  retained: number[][];
  net: Record<string, Nested>;
  inputs: number[][];
  hook: { gradInput: number[][]; gradOutput: number[][] };
};

function assertClose(actual: torch.Tensor | null, expected: Nested, what: string): void {
  assert.ok(actual, `${what} is defined`);
  torch.tidy(() => {
    const want = torch.tensor(expected, { dtype: 'float32' });
    assert.ok(actual.allclose(want, 1e-5, 1e-6), `${what}: got ${String(actual)}, expected ${String(want)}`);
  });
}

describe('autograd.grad, retainGrad and hooks', () => {
  it('autograd.grad gives first and second derivatives as PyTorch', () => {
    torch.tidy(() => {
      const x = torch.tensor(reference.x).requiresGrad_();
      const w = torch.tensor(reference.w).requiresGrad_();
      const y = x.pow(3).mul(w).sum();
      const [gx, gw] = torch.autograd.grad(y, [x, w], { createGraph: true });
      assertClose(gx, reference.gradX, 'dy/dx');
      assertClose(gw, reference.gradW, 'dy/dw');
      assert.equal(x.grad, null, 'no .grad is touched');
      const [ggx] = torch.autograd.grad(gx!.sum(), x);
      assertClose(ggx, reference.gradGradX, 'd(sum dy/dx)/dx');
      const unused = torch.randn([2]).requiresGrad_();
      assert.throws(() => torch.autograd.grad(x.sum(), [x, unused]), /not have been used in the graph|allow_unused/);
      assert.equal(torch.autograd.grad(x.sum(), [x, unused], { allowUnused: true })[1], null);
    });
  });

  it('retainGrad keeps an intermediate gradient; a tensor hook sees it and may replace it', () => {
    torch.tidy(() => {
      const x = torch.tensor(reference.x).requiresGrad_();
      const w = torch.tensor(reference.w).requiresGrad_();
      const h = x.mul(w).retainGrad();
      assert.ok(h.retainsGrad);
      let seen: torch.Tensor | undefined;
      const remove = h.registerHook((grad) => {
        seen = grad;
      });
      h.tanh().sum().backward();
      assertClose(h.grad, reference.retained, 'h.grad');
      assertClose(seen!, reference.retained, 'the hook saw the gradient');
      remove();

      x.zeroGrad();
      const z = x.mul(2);
      z.registerHook((grad) => grad.mul(0));
      z.sum().backward();
      assertClose(x.grad, reference.x.map((row) => row.map(() => 0)), 'a hook that returns zeros stops the gradient');
      const thrower = x.mul(3);
      thrower.registerHook(() => {
        throw new Error('from the hook');
      });
      assert.throws(() => thrower.sum().backward(), /a tensor hook threw: from the hook/);
      assert.throws(() => torch.randn([2]).registerHook(() => {}), /does not require grad/);
    });
  });

  it("a module's full backward hook gets the gradients of its input and output", () => {
    const net = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
    try {
      torch.tidy(() => {
        net.loadStateDict(Object.fromEntries(Object.entries(reference.net).map(([key, value]) => [key, torch.tensor(value)])));
        const seen: { gradInput?: torch.Tensor | null; gradOutput?: torch.Tensor; calls: number } = { calls: 0 };
        const remove = net.getSubmodule('2').registerFullBackwardHook((module, gradInput, gradOutput) => {
          assert.equal(module, net.getSubmodule('2'));
          Object.assign(seen, { gradInput, gradOutput, calls: seen.calls + 1 });
        });
        net.call(torch.tensor(reference.inputs)).pow(2).sum().backward();
        assert.equal(seen.calls, 1);
        assertClose(seen.gradInput ?? null, reference.hook.gradInput, 'grad_input');
        assertClose(seen.gradOutput ?? null, reference.hook.gradOutput, 'grad_output');
        remove();
        net.zeroGrad();
        net.call(torch.tensor(reference.inputs)).sum().backward();
        assert.equal(seen.calls, 1, 'a removed hook stays silent');
      });
    } finally {
      net.dispose();
    }
  });

  it('hooks still fire on this thread once a worker thread has loaded the addon too', async () => {
    const worker = await tools.InferenceWorker.start({ model: 'resnet20', mode: 'plain', threads: 1 });
    try {
      torch.tidy(() => {
        const x = torch.tensor(reference.x).requiresGrad_();
        let calls = 0;
        const y = x.mul(2);
        y.registerHook(() => {
          calls++;
        });
        y.sum().backward();
        assert.equal(calls, 1);
      });
    } finally {
      await worker.close();
    }
  });
});
