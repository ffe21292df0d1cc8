// Classification metrics: top-k hits per batch, and a confusion matrix.
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

/** How many rows of `logits` [N, C] have the label among their k highest scores, for each k. */
export function topKCorrect(logits: Tensor, labels: Tensor, ks: number[] = [1]): number[] {
  return tidy(() => {
    const classes = logits.size(1);
    const largest = Math.min(Math.max(...ks), classes);
    const { indices } = logits.topk(largest, 1);
    const hits = indices.eq(labels.reshape(-1, 1)); // [N, largest] bool, at most one true per row
    const cumulative = hits.to('int32').cumsum(1); // row hit within the first j+1
    return ks.map((k) => cumulative.select(1, Math.min(k, classes) - 1).sum().item());
  });
}

/** Counts of (true class, predicted class) pairs. */
export class ConfusionMatrix {
  readonly counts: number[][];

  constructor(readonly numClasses: number) {
    this.counts = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  }

  /** Adds a batch: true labels and predicted classes as integer arrays. */
  add(labels: ArrayLike<number | bigint>, predicted: ArrayLike<number | bigint>): void {
    for (let i = 0; i < labels.length; i++) {
      const truth = Number(labels[i]);
      const guess = Number(predicted[i]);
      if (truth < 0 || truth >= this.numClasses || guess < 0 || guess >= this.numClasses) {
        throw new Error(`confusion matrix: class index out of range (label ${truth}, predicted ${guess}, ${this.numClasses} classes)`);
      }
      this.counts[truth][guess]++;
    }
  }

  /** Adds a batch from logits [N, C] and int64 labels [N]. */
  addLogits(logits: Tensor, labels: Tensor): void {
    const predicted = tidy(() => logits.argmax(1).toTypedArray());
    this.add(labels.toTypedArray() as ArrayLike<bigint>, predicted as ArrayLike<bigint>);
  }

  get total(): number {
    return this.counts.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  }
  get accuracy(): number {
    const total = this.total;
    return total === 0 ? 0 : this.counts.reduce((sum, row, i) => sum + row[i], 0) / total;
  }
  /** Recall of each class (NaN for a class with no samples). */
  perClassAccuracy(): number[] {
    return this.counts.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      return total === 0 ? Number.NaN : row[i] / total;
    });
  }

  /** A text table: rows are true classes, columns predicted ones, with per-class accuracy. */
  format(classNames?: string[]): string {
    const names = classNames ?? this.counts.map((_, i) => String(i));
    const label = (i: number) => (names[i] ?? String(i)).slice(0, 12);
    const width = Math.max(5, ...this.counts.flat().map((c) => String(c).length));
    const nameWidth = Math.max(...names.map((_, i) => label(i).length), 'true \\ pred'.length);
    const header = ['true \\ pred'.padEnd(nameWidth), ...names.map((_, i) => String(i).padStart(width)), '  acc'].join(' ');
    const perClass = this.perClassAccuracy();
    const rows = this.counts.map((row, i) =>
      [label(i).padEnd(nameWidth), ...row.map((c) => String(c).padStart(width)), Number.isNaN(perClass[i]) ? '    -' : `${(perClass[i] * 100).toFixed(1).padStart(5)}%`].join(' '),
    );
    const legend = names.length > 0 ? `\ncolumns: ${names.map((n, i) => `${i}=${n}`).join(', ')}` : '';
    return [header, ...rows].join('\n') + legend;
  }

  toJSON(): { classes: number; counts: number[][] } {
    return { classes: this.numClasses, counts: this.counts };
  }
}
