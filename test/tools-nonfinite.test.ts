// Non-finite inputs through the fast inference modes: each either gives what the plain
// eval model gives (NaN stays NaN, infinities keep their place and sign) or refuses the
// input, and the mode check probes with NaN and infinite inputs, not only random ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel } from '../src/models/index.js';
import { full, randn, tensor, zeros } from '../src/torch/creation.js';
import { countNonFinite } from '../src/torch/functional.js';
import { manualSeed, noGrad } from '../src/torch/runtime.js';
import { dispose, tidy } from '../src/torch/scope.js';
import type { Tensor } from '../src/torch/tensor.js';
import {
  checkedInferenceModel,
  MODES_FASTEST_FIRST,
  modeName,
  outputDifference,
  prepareForInference,
} from '../src/tools/inference-modes.js';
import { toDense, toMkldnn } from '../src/torch/mkldnn-layout.js';

type ImageModel = Parameters<typeof prepareForInference>[0];
const SHAPE = [2, 3, 32, 32];

function model(): ImageModel {
  manualSeed(11);
  return createModel('resnet20', { numClasses: 5 }) as unknown as ImageModel;
}

function withNanPixel(): Tensor {
  const x = randn(SHAPE);
  x.view([-1]).narrow(0, 100, 1).fill_(Number.NaN);
  return x;
}

describe('countNonFinite', () => {
  it('counts NaN and both infinities, in the vectorised blocks and the tail, for any layout and dtype', () => {
    tidy(() => {
      // 200 values: three blocks of 64 and a tail of 8; non-finite ones in a block and in the tail.
      const values = Float32Array.from({ length: 200 }, (_, i) => i - 100);
      values[0] = NaN;
      values[70] = Infinity;
      values[195] = -Infinity;
      values[199] = NaN;
      values[10] = 3.4e38; // the largest floats are finite
      values[11] = 1e-45; // and so are subnormals
      const x = tensor(values);
      assert.equal(countNonFinite(x), 4);
      assert.equal(countNonFinite(x.reshape([20, 10]).transpose(0, 1)), 4, 'a non-contiguous view');
      assert.equal(countNonFinite(x.slice(0, 1, 199, 2)), 1, 'the odd places: only -Infinity at 195');
      assert.equal(countNonFinite(x.slice(0, 71)), 2, 'a contiguous slice from an offset: -Infinity at 195 and NaN at 199');
      assert.equal(countNonFinite(x.slice(0, 0, 192).reshape([3, 4, 4, 4]).contiguous('channelsLast')), 2, 'channels-last: NaN at 0, Infinity at 70');
      assert.equal(countNonFinite(x.to('float64')), 4);
      assert.equal(countNonFinite(x.to('bfloat16')), 5, '3.4e38 rounds past bfloat16\'s largest value, to Infinity');
      assert.equal(countNonFinite(tensor([1, 2, 3]).to('int64')), 0);
      assert.equal(countNonFinite(toMkldnn(x.reshape([1, 2, 10, 10]))), 4, "oneDNN's layout");
      assert.equal(countNonFinite(zeros([0])), 0);
    });
  });
});

describe('the oneDNN-layout (mkldnn) mode', () => {
  it('refuses NaN and infinite inputs with a clear error, where the plain model answers NaN', () => {
    const plain = model().eval();
    for (const [name, make] of [
      ['all NaN', () => full(SHAPE, Number.NaN)],
      ['one NaN pixel', withNanPixel],
      ['one infinite pixel', () => { const x = randn(SHAPE); x.view([-1]).narrow(0, 7, 1).fill_(Infinity); return x; }],
    ] as const) {
      const x = make();
      const plainOut = noGrad(() => plain.call(x));
      assert.ok(countNonFinite(plainOut) > 0, `${name}: the plain model gives non-finite logits`);
      dispose([plainOut, x]);
    }
    const fast = prepareForInference(model(), { fuse: true, layout: 'mkldnn' });
    for (const x of [full(SHAPE, Number.NaN), withNanPixel()]) {
      assert.throws(() => fast.call(x), /the input has \d+ NaN or infinite values?; the oneDNN-layout \(mkldnn\) inference mode does not propagate them/);
      x.dispose();
    }
    const finite = randn(SHAPE);
    const out = noGrad(() => fast.call(finite));
    assert.equal(countNonFinite(out), 0);
    dispose([finite, out, plain, fast]);
  });

  it('would hide a NaN without the refusal, and the output comparison sees it', () => {
    // The raw oneDNN path is what the refusal guards: its ReLU and pooling make NaN finite.
    const plain = model().eval();
    const packed = prepareForInference(model(), { fuse: true, layout: 'mkldnn' }) as unknown as { model: ImageModel };
    const x = withNanPixel();
    const [raw, reference] = tidy(() => noGrad(() => [toDense(packed.model.call(toMkldnn(x))), plain.call(x)]));
    assert.equal(countNonFinite(raw), 0, 'oneDNN turned the NaN into finite logits');
    assert.equal(countNonFinite(reference), 5, 'the plain model gives NaN for the image with the NaN pixel');
    assert.equal(outputDifference(raw, reference), Infinity);
    dispose([x, raw, reference, plain, packed as unknown as ImageModel]);
  });
});

describe('outputDifference', () => {
  it('is Infinity when NaN, +Infinity or -Infinity move, and the finite difference otherwise', () => {
    const tensorOf = (values: number[]): Tensor => {
      const x = zeros([values.length]);
      values.forEach((v, i) => x.narrow(0, i, 1).fill_(v));
      return x;
    };
    const cases: [number[], number[], number][] = [
      [[1, NaN, Infinity], [1, NaN, Infinity], 0],
      [[1, 0, Infinity], [1, NaN, Infinity], Infinity],
      [[1, NaN, -Infinity], [1, NaN, Infinity], Infinity],
      [[1, NaN, 5], [1, NaN, Infinity], Infinity],
      [[1.5, NaN, Infinity], [2, NaN, Infinity], 0.25],
    ];
    for (const [output, reference, expected] of cases) {
      const difference = tidy(() => outputDifference(tensorOf(output), tensorOf(reference)));
      assert.equal(difference, expected, `${output} against ${reference}`);
    }
  });
});

describe('the inference-mode check', () => {
  for (const mode of MODES_FASTEST_FIRST) {
    it(`${modeName(mode)}: agrees with the plain model on random and non-finite probes (or refuses them)`, () => {
      const checked = checkedInferenceModel(model(), mode, SHAPE);
      assert.equal(checked.nonFiniteMismatch, undefined);
      assert.ok(checked.difference <= 1e-4, `difference ${checked.difference}`);
      checked.model.dispose();
    });
  }
});
