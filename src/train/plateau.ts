// torch.optim.lr_scheduler.ReduceLROnPlateau, decision for decision: after each epoch
// the monitored metric either improves on the best (relatively or absolutely, by more
// than `threshold`) or counts as a bad epoch; more than `patience` bad epochs multiply
// the lr by `factor` (not below minLr, and only when the change exceeds eps), then
// `cooldown` epochs pass before bad epochs count again.
/** The settings a run's config and the command line give (patience 10, threshold 1e-4 relative, cooldown 0 by default). */
export interface PlateauShape {
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
}

export interface PlateauOptions extends PlateauShape {
  /** The learning rate before any reduction. */
  lr: number;
  /** 'min' for a loss, 'max' for an accuracy. */
  mode?: 'min' | 'max';
  factor?: number;
  minLr?: number;
  eps?: number;
}

/** What resuming needs (JSON-safe: the best starts at +-Infinity, stored as null). */
export interface PlateauState {
  lr: number;
  best: number | null;
  numBadEpochs: number;
  cooldownCounter: number;
  lastEpoch: number;
}

export class ReduceLROnPlateau {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLr: number;
  readonly eps: number;
  lr: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;

  constructor(options: PlateauOptions) {
    const { lr, mode = 'min', factor = 0.1, patience = 10, threshold = 1e-4, thresholdMode = 'rel', cooldown = 0, minLr = 0, eps = 1e-8 } = options;
    if (!(factor < 1 && factor >= 0)) throw new Error(`ReduceLROnPlateau: factor must be in [0, 1), got ${factor}`);
    if (mode !== 'min' && mode !== 'max') throw new Error(`ReduceLROnPlateau: mode must be 'min' or 'max', got '${String(mode)}'`);
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs') throw new Error(`ReduceLROnPlateau: thresholdMode must be 'rel' or 'abs', got '${String(thresholdMode)}'`);
    for (const [name, value] of Object.entries({ patience, cooldown })) {
      if (!Number.isInteger(value) || value < 0) throw new Error(`ReduceLROnPlateau: ${name} must be a non-negative integer, got ${value}`);
    }
    this.mode = mode;
    this.factor = factor;
    this.patience = patience;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.cooldown = cooldown;
    this.minLr = minLr;
    this.eps = eps;
    this.lr = lr;
    this.best = mode === 'min' ? Infinity : -Infinity;
  }

  isBetter(value: number, best: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? value < best * (1 - this.threshold) : value < best - this.threshold;
    return this.thresholdMode === 'rel' ? value > best * (this.threshold + 1) : value > best + this.threshold;
  }

  /** Takes one epoch's metric; returns true when it reduced the lr. */
  step(metric: number): boolean {
    this.lastEpoch++;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      const reduced = this.reduce();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
      return reduced;
    }
    return false;
  }

  private reduce(): boolean {
    const next = Math.max(this.lr * this.factor, this.minLr);
    if (this.lr - next <= this.eps) return false;
    this.lr = next;
    return true;
  }

  stateDict(): PlateauState {
    return { lr: this.lr, best: Number.isFinite(this.best) ? this.best : null, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter, lastEpoch: this.lastEpoch };
  }

  loadStateDict(state: PlateauState): void {
    this.lr = state.lr;
    this.best = state.best ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.numBadEpochs = state.numBadEpochs;
    this.cooldownCounter = state.cooldownCounter;
    this.lastEpoch = state.lastEpoch;
  }
}
