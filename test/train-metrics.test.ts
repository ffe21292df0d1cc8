// Metrics (top-k, confusion matrix) and the curves chart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import { niceTicks, renderCurves } from '../src/train/curves.js';
import { ConfusionMatrix, topKCorrect } from '../src/train/metrics.js';
import { formatDuration, formatEpoch } from '../src/train/progress.js';

describe('metrics', () => {
  it('topKCorrect counts rows whose label is among the k best scores', () => {
    const logits = torch.tensor([
      [0.1, 0.9, 0.0, 0.5],
      [0.8, 0.1, 0.3, 0.2],
      [0.1, 0.2, 0.3, 0.4],
    ]);
    const labels = torch.tensor([1, 2, 0], { dtype: 'int64' });
    assert.deepEqual(topKCorrect(logits, labels, [1, 2, 3, 5]), [1, 2, 2, 3]);
    torch.dispose([logits, labels]);
  });

  it('the confusion matrix counts (true, predicted) pairs and per-class accuracy', () => {
    const matrix = new ConfusionMatrix(3);
    matrix.add([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2]);
    assert.deepEqual(matrix.counts, [
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 2],
    ]);
    assert.equal(matrix.total, 6);
    assert.ok(Math.abs(matrix.accuracy - 4 / 6) < 1e-12);
    assert.deepEqual(matrix.perClassAccuracy().map((a) => Number(a.toFixed(4))), [0.5, 1, 0.6667]);
    const table = matrix.format(['cat', 'dog', 'bird']);
    assert.match(table, /^bird +1 +0 +2 +66\.7%$/m);
    assert.throws(() => matrix.add([3], [0]), /out of range/);
  });

  it('addLogits takes the arg-max of each row', () => {
    const matrix = new ConfusionMatrix(2);
    const logits = torch.tensor([
      [2, 1],
      [0, 3],
    ]);
    const labels = torch.tensor([1, 1], { dtype: 'int64' });
    matrix.addLogits(logits, labels);
    assert.deepEqual(matrix.counts, [
      [0, 0],
      [1, 1],
    ]);
    torch.dispose([logits, labels]);
  });
});

describe('curves and progress text', () => {
  it('niceTicks covers the range with round steps', () => {
    assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(62, 94, 4), [60, 70, 80, 90, 100]);
    const flat = niceTicks(65.00000000000001, 65.00000000000001);
    assert.ok(flat.length >= 2 && flat[0] < 65 && flat[flat.length - 1] > 65);
  });

  it('renders an SVG with both panels, both series, axes labels and the best epoch', () => {
    const points = [1, 2, 3].map((epoch) => ({ epoch, trainLoss: 1 / epoch, trainAccuracy: 0.6 + 0.1 * epoch, testLoss: 1.2 / epoch, testAccuracy: 0.55 + 0.1 * epoch }));
    const svg = renderCurves(points, 'resnet20 on <Fashion-MNIST>');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /resnet20 on &lt;Fashion-MNIST&gt;/);
    assert.equal((svg.match(/<path /g) ?? []).length, 4);
    assert.match(svg, />epoch</);
    assert.match(svg, />accuracy \(%\)</);
    assert.match(svg, /best 85\.00% \(epoch 3\)/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.doesNotMatch(svg, /NaN/);
  });

  it('renders without test data and with no epochs at all', () => {
    const svg = renderCurves([{ epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8 }], 'x');
    assert.equal((svg.match(/<path /g) ?? []).length, 2);
    assert.doesNotMatch(svg, /NaN/);
    assert.match(renderCurves([], 'x'), /no epochs finished yet/);
  });

  it('formats durations and epoch lines', () => {
    assert.deepEqual([9, 75, 3700].map(formatDuration), ['9s', '1m15s', '1h01m']);
    const line = formatEpoch({ epoch: 3, trainLoss: 0.31, trainAccuracy: 0.887, testLoss: 0.3, testAccuracy: 0.894, testTop5: 0.998, lr: 0.0973, seconds: 52, trainImagesPerSecond: 1150.4 }, 30, true);
    assert.equal(line, 'epoch  3/30  train loss 0.3100 acc 88.70% | test loss 0.3000 acc 89.40% top-5 99.80% | lr 0.0973 | 52s, 1150 img/s  *best*');
  });
});
