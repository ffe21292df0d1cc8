// Checks gradients from backward() against central finite differences, in float64.
import assert from 'node:assert/strict';
import { torch } from '../../src/index.js';

type Tensor = torch.Tensor;

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  atol?: number;
  rtol?: number;
}

export interface GradcheckReport {
  /** Largest |analytic - numeric| over every checked element. */
  maxAbsError: number;
  /** How many gradient elements were compared. */
  checked: number;
}

/**
 * Compares, for every input that requires grad, the gradient backward() gives with the
 * central difference (f(x + eps) - f(x - eps)) / 2eps of each element. A non-scalar
 * output is reduced with fixed random weights, so every output element takes part.
 * Inputs must be contiguous float64 tensors; they are restored exactly after each probe.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-4 } = options;
  const checkedInputs = inputs.filter((x) => x.requiresGrad);
  assert.ok(checkedInputs.length > 0, 'gradcheck: no input requires grad');
  for (const x of inputs) assert.equal(x.dtype, 'float64', 'gradcheck: inputs must be float64');

  const outputShape = torch.tidy(() => torch.noGrad(() => fn(...inputs)).shape);
  const weights = torch.randn(outputShape, { dtype: 'float64' });
  const objective = (): number => torch.tidy(() => torch.noGrad(() => fn(...inputs).mul(weights).sum().item()));

  for (const x of checkedInputs) x.zeroGrad();
  const analytic = torch.tidy(() => {
    fn(...inputs).mul(weights).sum().backward();
    return checkedInputs.map((x, i) => {
      const grad = x.grad;
      assert.ok(grad, `gradcheck: input ${inputs.indexOf(x)} received no gradient`);
      assert.deepEqual(grad.shape, x.shape, `gradcheck: gradient ${i} has the wrong shape`);
      return grad.toTypedArray() as Float64Array;
    });
  });

  let maxAbsError = 0;
  let checked = 0;
  checkedInputs.forEach((x, k) => {
    const position = inputs.indexOf(x);
    const original = x.toTypedArray() as Float64Array;
    // A detached flat view shares x's storage: filling one element probes it in place.
    const flat = torch.tidy(() => x.detach().view(-1));
    for (let i = 0; i < original.length; i++) {
      const element = flat.narrow(0, i, 1);
      torch.noGrad(() => element.fill_(original[i] + eps));
      const plus = objective();
      torch.noGrad(() => element.fill_(original[i] - eps));
      const minus = objective();
      torch.noGrad(() => element.fill_(original[i]));
      element.dispose();
      const numeric = (plus - minus) / (2 * eps);
      const error = Math.abs(analytic[k][i] - numeric);
      maxAbsError = Math.max(maxAbsError, error);
      checked++;
      assert.ok(
        error <= atol + rtol * Math.abs(numeric),
        `gradcheck: input ${position}, element ${i}: backward() gives ${analytic[k][i]}, finite differences give ${numeric}`,
      );
    }
    flat.dispose();
  });
  weights.dispose();
  return { maxAbsError, checked };
}
