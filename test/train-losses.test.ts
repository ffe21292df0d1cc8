// Margin losses against scripts/margin_reference.py: numpy by hand and torch as
// arcface_torch (ArcFace, CosFace) and the MXNet train script (combined) write them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import { arcfaceLogits, combinedMarginLogits, MarginHead, marginLogits, SoftmaxHead, type MarginLossName } from '../src/train/losses/index.js';
import { runPython } from './helpers/python.js';

interface Case {
  name: MarginLossName;
  s: number;
  m1: number;
  m2: number;
  m3: number;
  cosine: number[][];
  logits: number[][];
  loss: number;
  grad_embeddings: number[][];
  grad_weight: number[][];
}
interface Reference {
  embeddings: number[][];
  weight: number[][];
  labels: number[];
  cases: Case[];
}

const reference = JSON.parse(runPython('margin_reference.py', ['3'])) as Reference;

function assertClose(actual: torch.Tensor, expected: number[][], tolerance: number, what: string): void {
  const got = actual.toArray() as number[][];
  const scale = Math.max(1, ...expected.flat().map(Math.abs));
  got.forEach((row, i) =>
    row.forEach((value, j) => assert.ok(Math.abs(value - expected[i][j]) <= tolerance * scale, `${what}[${i}][${j}]: ${value} vs ${expected[i][j]}`)),
  );
}

describe('margin losses', () => {
  // float64 checks the formulas to rounding; float32 (how training runs) to its precision,
  // which near θ = 0 and π loses digits through arccos and sqrt(1 - cos²).
  for (const [dtype, tolerance] of [['float64', 1e-10], ['float32', 2e-5]] as const) {
    for (const c of reference.cases) {
      it(`${c.name} (s ${c.s}, m ${c.m1}/${c.m2}/${c.m3}), ${dtype}: logits, loss and gradients match the reference`, () => {
        const head = new MarginHead(c.name, reference.weight.length, reference.weight[0].length, { s: c.s, m1: c.m1, m2: c.m2, m3: c.m3 });
        head.to(dtype);
        torch.tidy(() => {
          head.loadStateDict({ weight: torch.tensor(reference.weight, { dtype }) });
          const embeddings = torch.tensor(reference.embeddings, { dtype }).requiresGrad_();
          const labels = torch.tensor(reference.labels).long();
          const { logits } = head.lossLogits(embeddings, labels);
          assertClose(logits, c.logits, tolerance, 'logits');
          const loss = torch.crossEntropy(logits, labels);
          assert.ok(Math.abs(loss.item() - c.loss) <= tolerance * c.loss, `loss ${loss.item()} vs ${c.loss}`);
          loss.backward();
          assertClose(embeddings.grad!, c.grad_embeddings, tolerance * 10, 'grad embeddings');
          assertClose(head.weight.grad!, c.grad_weight, tolerance * 10, 'grad centres');
        });
        head.dispose();
      });
    }
  }

  it("ArcFace switches to cos θ - m sin(π - m) exactly where θ passes π - m, and stays decreasing in θ", () => {
    const m = 0.5;
    const angles = [0, 1, 2, Math.PI - m - 1e-3, Math.PI - m + 1e-3, 3, Math.PI];
    const cosine = torch.tensor([angles.map(Math.cos)]).float();
    const values = angles.map((_, j) => torch.tidy(() => arcfaceLogits(cosine, torch.tensor([j]).long(), { s: 1, m }).toArray() as number[][])[0][j]);
    angles.forEach((theta, j) => {
      const expected = theta < Math.PI - m ? Math.cos(theta + m) : Math.cos(theta) - Math.sin(Math.PI - m) * m;
      assert.ok(Math.abs(values[j] - expected) < 1e-6, `θ ${theta}: ${values[j]} vs ${expected}`);
    });
    for (let j = 1; j < values.length; j++) assert.ok(values[j] < values[j - 1], `not decreasing at θ ${angles[j]}`);
    // The combined margin with the same m wraps past π instead (MXNet's form).
    const wrapped = torch.tidy(() => combinedMarginLogits(cosine, torch.tensor([6]).long(), { s: 1, m1: 1, m2: m, m3: 0 }).toArray() as number[][])[0][6];
    assert.ok(Math.abs(wrapped - Math.cos(Math.PI + m)) < 1e-5);
    cosine.dispose();
  });

  it('only the target column changes; other classes keep s·cos θ', () => {
    torch.tidy(() => {
      const cosine = torch.tensor([[0.1, 0.5, -0.3], [0.7, 0.2, 0.0]]).float();
      const labels = torch.tensor([1, 0]).long();
      for (const name of ['arcface', 'cosface', 'combined'] as const) {
        const logits = marginLogits(name, cosine, labels).toArray() as number[][];
        assert.ok(Math.abs(logits[0][0] - 6.4) < 1e-5 && Math.abs(logits[0][2] + 19.2) < 1e-5 && Math.abs(logits[1][1] - 12.8) < 1e-5, name);
        assert.ok(logits[0][1] < 32 && logits[1][0] < 44.8, `${name}: the margin lowers the target logit`);
      }
    });
  });

  it('bad shapes are errors that name both shapes', () => {
    const head = new MarginHead('arcface', 4, 8);
    const softmax = new SoftmaxHead(4, 8);
    torch.tidy(() => {
      assert.throws(() => head.lossLogits(torch.zeros([2, 6]), torch.tensor([0, 1]).long()), /embeddings \[N, 8\], got \[2, 6\].*--embedding-size/);
      assert.throws(() => marginLogits('cosface', torch.zeros([2, 4]), torch.tensor([0, 1, 2]).long()), /one label per row.*\[2, 4\].*\[3\]/);
      assert.throws(() => softmax.lossLogits(torch.zeros([3]), torch.tensor([0]).long()), /\[N, 8\], got \[3\]/);
    });
    head.dispose();
    softmax.dispose();
  });
});
