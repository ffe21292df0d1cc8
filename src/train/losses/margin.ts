// Additive margins on the target class's cosine, as InsightFace trains face embeddings.
// Every function takes cosines [N, C] (embeddings and class centres both L2-normalised,
// clamped to [-1, 1]) and int64 labels [N], and returns the scaled logits s * f(cos)
// with f applied to each row's target entry only; cross-entropy over them is the loss.
//
// Which code each follows:
// - ArcFace: arcface_torch's CombinedMarginLoss branch m1 = 1, m3 = 0 (losses.py, 2022):
//   cos(θ + m) = cos θ cos m - sin θ sin m where cos θ > cos(π - m); elsewhere, where
//   θ + m would pass π and cos(θ + m) would start to rise again, cos θ - m sin(π - m).
// - CosFace: cos θ - m (arcface_torch and the MXNet train script agree).
// - Combined (m1, m2, m3): the MXNet train script's margin_softmax: cos(m1 θ + m2) - m3
//   through arccos, with no turn at π (arcface_torch's CombinedMarginLoss only has the
//   two branches above and raises on anything else); m1 = 1, m2 = 0 is CosFace exactly.
// They differ where θ + m2 > π: arcface_torch keeps the target logit falling
// (cos θ - m sin(π - m)), MXNet's combined margin wraps (cos(θ + m) rises past π).
import { oneHot, where } from '../../torch/functional.js';
import { tidy } from '../../torch/scope.js';
import type { Tensor } from '../../torch/tensor.js';

export type MarginLossName = 'arcface' | 'cosface' | 'combined';
export const marginLossNames: readonly MarginLossName[] = ['arcface', 'cosface', 'combined'];

/** Scale s and the three margins: cos(m1 θ + m2) - m3. */
export interface MarginSpec {
  s: number;
  m1: number;
  m2: number;
  m3: number;
}

/** InsightFace's settings for each loss (the MXNet sample_config's loss table; arcface_torch uses the same s and m). */
export const marginDefaults: Readonly<Record<MarginLossName, Readonly<MarginSpec>>> = {
  arcface: { s: 64, m1: 1, m2: 0.5, m3: 0 },
  cosface: { s: 64, m1: 1, m2: 0, m3: 0.35 },
  combined: { s: 64, m1: 1, m2: 0.3, m3: 0.2 },
};

/** Replaces each row's target cosine t by `margin(t)` (as a one-hot difference, so gradients flow through both) and scales by s. */
function withTargetMargin(cosine: Tensor, labels: Tensor, s: number, margin: (target: Tensor) => Tensor): Tensor {
  return tidy(() => {
    if (cosine.ndim !== 2) throw new Error(`margin losses take cosines [N, classes], got [${cosine.shape.join(', ')}]`);
    if (labels.ndim !== 1 || labels.size(0) !== cosine.size(0)) {
      throw new Error(`margin losses take one label per row: cosines [${cosine.shape.join(', ')}], labels [${labels.shape.join(', ')}]`);
    }
    const column = labels.reshape(-1, 1);
    const target = cosine.gather(1, column); // [N, 1]
    const mask = oneHot(labels, cosine.size(1)).to(cosine.dtype);
    return cosine.add(mask.mul(margin(target).sub(target))).mul(s);
  });
}

/** arcface_torch's ArcFace (easy_margin off): cos(θ + m), or cos θ - m sin(π - m) once θ > π - m. */
export function arcfaceLogits(cosine: Tensor, labels: Tensor, options: { s?: number; m?: number } = {}): Tensor {
  const s = options.s ?? marginDefaults.arcface.s;
  const m = options.m ?? marginDefaults.arcface.m2;
  const threshold = Math.cos(Math.PI - m);
  const fallback = Math.sin(Math.PI - m) * m;
  return withTargetMargin(cosine, labels, s, (t) => {
    const sinTheta = t.square().rsub(1).sqrt();
    const cosThetaM = t.mul(Math.cos(m)).sub(sinTheta.mul(Math.sin(m)));
    return where(t.gt(threshold), cosThetaM, t.sub(fallback));
  });
}

/** CosFace (large margin cosine loss): cos θ - m. */
export function cosfaceLogits(cosine: Tensor, labels: Tensor, options: { s?: number; m?: number } = {}): Tensor {
  const s = options.s ?? marginDefaults.cosface.s;
  const m = options.m ?? marginDefaults.cosface.m3;
  return withTargetMargin(cosine, labels, s, (t) => t.sub(m));
}

/** The MXNet train script's combined margin: cos(m1 θ + m2) - m3 through arccos (CosFace's form when m1 = 1 and m2 = 0). */
export function combinedMarginLogits(cosine: Tensor, labels: Tensor, spec: Partial<MarginSpec> = {}): Tensor {
  const { s, m1, m2, m3 } = { ...marginDefaults.combined, ...spec };
  if (m1 === 1 && m2 === 0) return withTargetMargin(cosine, labels, s, (t) => t.sub(m3));
  return withTargetMargin(cosine, labels, s, (t) => t.acos().mul(m1).add(m2).cos().sub(m3));
}

/** The named loss's logits with `spec` (missing values from InsightFace's defaults for that loss). */
export function marginLogits(name: MarginLossName, cosine: Tensor, labels: Tensor, spec: Partial<MarginSpec> = {}): Tensor {
  const full = { ...marginDefaults[name], ...spec };
  switch (name) {
    case 'arcface':
      return arcfaceLogits(cosine, labels, { s: full.s, m: full.m2 });
    case 'cosface':
      return cosfaceLogits(cosine, labels, { s: full.s, m: full.m3 });
    case 'combined':
      return combinedMarginLogits(cosine, labels, full);
    default:
      throw new Error(`unknown margin loss '${String(name)}'; expected one of ${marginLossNames.join(', ')}`);
  }
}
