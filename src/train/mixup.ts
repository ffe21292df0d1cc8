// Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) over a batch, as timm's Mixup
// in its 'batch' mode: one mixing weight per batch drawn from Beta(alpha, alpha), each
// sample paired with the batch reversed, and soft targets with the label smoothing
// folded in. The loss then takes the soft targets (softTargetCrossEntropy).
import { Random } from '../data/random.js';
import { oneHot } from '../torch/functional.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';

export interface MixupOptions {
  /** Beta(alpha, alpha) for mixup; 0 turns mixup off. */
  mixupAlpha?: number;
  /** Beta(alpha, alpha) for CutMix; 0 turns CutMix off. */
  cutmixAlpha?: number;
  /** Probability that a batch is mixed at all (default 1). */
  prob?: number;
  /** With both on: probability of CutMix rather than mixup for a batch (default 0.5). */
  switchProb?: number;
  /** CutMix: recompute the weight from the clipped box's area (default true). */
  correctLam?: boolean;
  /** Label smoothing, folded into the soft targets (default 0.1 in timm's train script; 0 here unless given). */
  labelSmoothing?: number;
  numClasses: number;
}

export interface MixedBatch {
  /** The mixed images (a new tensor; the input is left alone). */
  images: Tensor;
  /** [N, numClasses] float32 soft targets, each row summing to 1. */
  targets: Tensor;
  /** The weight of each sample's own image and label (1: not mixed). */
  lam: number;
  cutmix: boolean;
  /** The CutMix box [top, bottom, left, right) in pixels. */
  box?: [number, number, number, number];
}

/** One-hot targets with label smoothing: off = smoothing / classes, on = 1 - smoothing + off. */
export function smoothedOneHot(labels: Tensor, numClasses: number, smoothing = 0): Tensor {
  const off = smoothing / numClasses;
  const on = 1 - smoothing + off;
  return oneHot(labels, numClasses).float().mul(on - off).add(off);
}

export class Mixup {
  readonly mixupAlpha: number;
  readonly cutmixAlpha: number;
  readonly prob: number;
  readonly switchProb: number;
  readonly correctLam: boolean;
  readonly labelSmoothing: number;
  readonly numClasses: number;

  constructor(options: MixupOptions) {
    const { mixupAlpha = 0, cutmixAlpha = 0, prob = 1, switchProb = 0.5, correctLam = true, labelSmoothing = 0, numClasses } = options;
    for (const [name, value] of Object.entries({ mixupAlpha, cutmixAlpha })) if (!(value >= 0)) throw new Error(`Mixup: ${name} must be non-negative, got ${value}`);
    for (const [name, value] of Object.entries({ prob, switchProb, labelSmoothing })) if (!(value >= 0 && value <= 1)) throw new Error(`Mixup: ${name} must be in [0, 1], got ${value}`);
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`Mixup: numClasses must be a positive integer, got ${numClasses}`);
    if (mixupAlpha === 0 && cutmixAlpha === 0) throw new Error('Mixup: give mixupAlpha or cutmixAlpha (or both) above 0');
    this.mixupAlpha = mixupAlpha;
    this.cutmixAlpha = cutmixAlpha;
    this.prob = prob;
    this.switchProb = switchProb;
    this.correctLam = correctLam;
    this.labelSmoothing = labelSmoothing;
    this.numClasses = numClasses;
  }

  /** The batch's mixing weight and kind, drawn in timm's order. */
  drawParams(random: Random): { lam: number; cutmix: boolean } {
    if (!(random.next() < this.prob)) return { lam: 1, cutmix: false };
    if (this.mixupAlpha > 0 && this.cutmixAlpha > 0) {
      const cutmix = random.next() < this.switchProb;
      const alpha = cutmix ? this.cutmixAlpha : this.mixupAlpha;
      return { lam: random.beta(alpha, alpha), cutmix };
    }
    if (this.mixupAlpha > 0) return { lam: random.beta(this.mixupAlpha, this.mixupAlpha), cutmix: false };
    return { lam: random.beta(this.cutmixAlpha, this.cutmixAlpha), cutmix: true };
  }

  /**
   * Mixes `images` ([N, C, H, W]) and their `labels` ([N] int64); `random` decides, so a
   * seeded stream repeats the batch exactly. The intermediate tensors are freed; the
   * caller owns the returned images and targets.
   */
  apply(images: Tensor, labels: Tensor, random: Random): MixedBatch {
    return tidy(() => this.mix(images, labels, random));
  }

  private mix(images: Tensor, labels: Tensor, random: Random): MixedBatch {
    const drawn = this.drawParams(random);
    let { lam } = drawn;
    let mixed: Tensor;
    let box: [number, number, number, number] | undefined;
    if (lam === 1) {
      mixed = images.clone();
    } else if (drawn.cutmix) {
      const [height, width] = images.shape.slice(-2);
      box = cutmixBox(height, width, lam, random);
      const [top, bottom, left, right] = box;
      if (this.correctLam) lam = 1 - ((bottom - top) * (right - left)) / (height * width);
      mixed = images.clone();
      if (bottom > top && right > left) {
        const patch = images.flip([0]).slice(2, top, bottom).slice(3, left, right);
        mixed.slice(2, top, bottom).slice(3, left, right).copy_(patch);
      }
    } else {
      mixed = images.mul(lam).add_(images.flip([0]).mul(1 - lam));
    }
    const own = smoothedOneHot(labels, this.numClasses, this.labelSmoothing);
    const partner = smoothedOneHot(labels.flip([0]), this.numClasses, this.labelSmoothing);
    const targets = own.mul(lam).add_(partner.mul(1 - lam));
    return { images: mixed, targets, lam, cutmix: drawn.cutmix, ...(box ? { box } : {}) };
  }
}

/** timm's rand_bbox: a box of sqrt(1 - lam) of each side around a uniform centre, clipped to the image. */
export function cutmixBox(height: number, width: number, lam: number, random: Random): [number, number, number, number] {
  const ratio = Math.sqrt(1 - lam);
  const cutH = Math.trunc(height * ratio);
  const cutW = Math.trunc(width * ratio);
  const cy = random.int(height);
  const cx = random.int(width);
  const clip = (value: number, size: number) => Math.min(size, Math.max(0, value));
  return [clip(cy - Math.floor(cutH / 2), height), clip(cy + Math.floor(cutH / 2), height), clip(cx - Math.floor(cutW / 2), width), clip(cx + Math.floor(cutW / 2), width)];
}

/** A per-step stream for mixing from the run's seed and the iteration. */
export function mixupRandom(seed: number, iteration: number): Random {
  return Random.forSample(seed, 0x6d6978, iteration);
}
