// Early stopping as Keras's EarlyStopping callback decides it: an epoch improves when the
// monitored value beats the best by more than minDelta; the run stops once `patience`
// epochs in a row have not improved (never after the first epoch).
export interface EarlyStoppingOptions {
  /** Epochs without improvement to tolerate. */
  patience: number;
  /** 'min' for a loss, 'max' for an accuracy. */
  mode?: 'min' | 'max';
  /** The smallest change that counts as an improvement (default 0). */
  minDelta?: number;
}

export interface EarlyStoppingState {
  /** null before the first epoch (the best is +-Infinity). */
  best: number | null;
  /** Epochs since the last improvement. */
  wait: number;
  /** 1-based epoch of the best value (0 before any). */
  bestEpoch: number;
}

export class EarlyStopping {
  readonly patience: number;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  best: number;
  wait = 0;
  bestEpoch = 0;

  constructor(options: EarlyStoppingOptions) {
    const { patience, mode = 'min', minDelta = 0 } = options;
    if (!Number.isInteger(patience) || patience < 0) throw new Error(`EarlyStopping: patience must be a non-negative integer, got ${patience}`);
    if (!(minDelta >= 0)) throw new Error(`EarlyStopping: minDelta must be non-negative, got ${minDelta}`);
    if (mode !== 'min' && mode !== 'max') throw new Error(`EarlyStopping: mode must be 'min' or 'max', got '${String(mode)}'`);
    this.patience = patience;
    this.mode = mode;
    this.minDelta = minDelta;
    this.best = mode === 'min' ? Infinity : -Infinity;
  }

  isImprovement(value: number): boolean {
    return this.mode === 'min' ? value + this.minDelta < this.best : value - this.minDelta > this.best;
  }

  /** Takes the value of 1-based epoch `epoch`; returns true when training should stop. */
  update(value: number, epoch: number): boolean {
    this.wait++;
    if (this.isImprovement(value)) {
      this.best = value;
      this.bestEpoch = epoch;
      this.wait = 0;
      return false;
    }
    return this.wait >= this.patience && epoch > 1;
  }

  stateDict(): EarlyStoppingState {
    return { best: Number.isFinite(this.best) ? this.best : null, wait: this.wait, bestEpoch: this.bestEpoch };
  }

  loadStateDict(state: EarlyStoppingState): void {
    this.best = state.best ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.wait = state.wait;
    this.bestEpoch = state.bestEpoch;
  }
}
