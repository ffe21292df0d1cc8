// Inference-only speed-ups and the check that they keep a model's outputs: BatchNorm
// folded into the preceding convolution, the memory layout of activations and weights
// (channels-last, or oneDNN's blocked layout), a compiled oneDNN plan, and bfloat16.
import { convWeightsToChannelsLast_, fuseForInference } from '../models/index.js';
import type { Module } from '../nn/module.js';
import { full, randn } from '../torch/creation.js';
import { noGrad } from '../torch/runtime.js';
import { dispose, tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { relativeDifference } from './bench.js';
import { DnnlInference } from './dnnl/inference.js';
import { CONV_ALGORITHMS, type ConvAlgorithm, type DnnlPrecision } from './dnnl/lower.js';
import { MkldnnInference, packConvWeightsForMkldnn_, supportsMkldnn } from './mkldnn.js';

type ImageModel = Module<Tensor, Tensor>;

/**
 * 'dnnl': the model compiled to a oneDNN plan (tools/dnnl/): convolutions with their
 * BatchNorm, residual sum and activation fused into one primitive, blocked layout throughout.
 */
export type Layout = 'dense' | 'channels-last' | 'mkldnn' | 'dnnl';
export type Precision = DnnlPrecision;
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];

export interface InferenceMode {
  /** Fold each BatchNorm into the convolution before it. */
  fuse: boolean;
  layout: Layout;
  /** 'bf16': bfloat16 weights and activations (the 'dnnl' layout only); default 'fp32'. */
  precision?: Precision;
  /** How the plan's convolutions pick kernels (the 'dnnl' layout only; see CONV_ALGORITHMS); default 'direct'. */
  convAlgorithm?: ConvAlgorithm;
}

/** The mode prepareForInference applies when given only some of the fields: the compiled plan. */
export const DEFAULT_MODE: InferenceMode = { fuse: true, layout: 'dnnl' };

/**
 * Candidates, fastest first as measured (bench/README.md). The tuned plan times kernels
 * on its first build per machine and shape (then reads them back from the tuning cache);
 * the direct plan follows for a model whose tuned kernels (Winograd) drift too far.
 */
export const MODES_FASTEST_FIRST: InferenceMode[] = [
  { fuse: true, layout: 'dnnl', convAlgorithm: 'tuned' },
  { fuse: true, layout: 'dnnl' },
  { fuse: true, layout: 'mkldnn' },
  { fuse: true, layout: 'channels-last' },
  { fuse: true, layout: 'dense' },
  { fuse: false, layout: 'dense' },
];

/** Outputs of a sped-up model stay within this of the plain eval model (relative). */
export const DEFAULT_TOLERANCE = 1e-4;
/**
 * bfloat16 keeps 8 bits of mantissa (relative rounding 2^-9 per op): outputs stay within
 * this of the float32 model (relative to its largest output), with the same top-1 class.
 */
export const BF16_TOLERANCE = 5e-2;

export function toleranceFor(mode: Pick<InferenceMode, 'precision'>): number {
  return mode.precision === 'bf16' ? BF16_TOLERANCE : DEFAULT_TOLERANCE;
}

export function modeName(mode: InferenceMode): string {
  const parts = [mode.fuse ? 'fused' : '', mode.layout === 'dense' ? '' : mode.layout, mode.precision === 'bf16' ? 'bf16' : '', mode.convAlgorithm && mode.convAlgorithm !== 'direct' ? mode.convAlgorithm : ''];
  const named = parts.filter(Boolean);
  return named.length === 0 ? 'plain' : named.join('+');
}

/** `mode` with its defaults filled in; a partial mode is the compiled plan's. */
export function completeMode(mode: Partial<InferenceMode>): InferenceMode {
  const full: InferenceMode = { ...DEFAULT_MODE, ...(mode.layout ? { fuse: false } : {}), ...mode };
  if (full.precision !== undefined && !PRECISIONS.includes(full.precision)) {
    throw new Error(`precision must be one of ${PRECISIONS.join(', ')}, got '${String(full.precision)}'`);
  }
  if (full.layout !== 'dnnl' && (full.precision ?? 'fp32') !== 'fp32') {
    throw new Error(`precision '${full.precision}' runs in the compiled oneDNN plan only (layout 'dnnl'), not layout '${full.layout}'`);
  }
  if (full.layout !== 'dnnl' && full.convAlgorithm !== undefined) throw new Error(`convAlgorithm applies to layout 'dnnl' only, not '${full.layout}'`);
  if (full.convAlgorithm !== undefined && !CONV_ALGORITHMS.includes(full.convAlgorithm)) {
    throw new Error(`convAlgorithm must be one of ${CONV_ALGORITHMS.join(', ')}, got '${String(full.convAlgorithm)}'`);
  }
  // The plan lowers every bf16 convolution as direct (oneDNN 2.6 has no bf16 Winograd): a mode named bf16+winograd would not be what ran.
  if (full.precision === 'bf16' && (full.convAlgorithm === 'winograd' || full.convAlgorithm === 'auto')) {
    throw new Error(`convAlgorithm '${full.convAlgorithm}' applies to precision 'fp32' only; bf16 convolutions run direct (or 'tuned' among direct kernels)`);
  }
  return full;
}

/**
 * Puts `model` in eval mode and applies `mode`, changing the model in place; the
 * returned module (which may wrap it) takes and returns dense float32 tensors. A partial
 * mode ({ precision: 'bf16' }) means the compiled oneDNN plan with those settings.
 */
export function prepareForInference(model: ImageModel, partialMode: Partial<InferenceMode> = {}): ImageModel {
  const mode = completeMode(partialMode);
  model.eval();
  if (mode.layout === 'dnnl') {
    // The plan folds each BatchNorm itself while lowering the traced graph; folding the modules first changes nothing.
    const source = mode.fuse ? fuseForInference(model, { inPlace: true }) : model;
    return new DnnlInference(source, { precision: mode.precision, convAlgorithm: mode.convAlgorithm });
  }
  let prepared = mode.fuse ? fuseForInference(model, { channelsLast: mode.layout === 'channels-last', inPlace: true }) : model;
  if (mode.layout === 'channels-last' && !mode.fuse) convWeightsToChannelsLast_(prepared);
  if (mode.layout === 'mkldnn') {
    packConvWeightsForMkldnn_(prepared);
    prepared = new MkldnnInference(prepared);
  }
  return prepared;
}

export interface CheckedModel {
  model: ImageModel;
  mode: InferenceMode;
  /**
   * Largest output difference from the plain eval model, relative to its largest output;
   * Infinity where the mode gives finite outputs for a non-finite probe and the plain
   * model does not (or the other way round).
   */
  difference: number;
  /** The non-finite probe the mode disagreed on, when it did. */
  nonFiniteMismatch?: string;
  /** For class scores ([N, classes]): the fraction of the random probe's rows with the plain model's top-1 class. */
  top1Agreement?: number;
}

/** The fraction of rows of `output` whose largest entry is where `reference`'s is; undefined unless both are [N, K>1]. */
export function top1Agreement(output: Tensor, reference: Tensor): number | undefined {
  if (reference.ndim !== 2 || reference.shape[1] < 2) return undefined;
  return tidy(() => output.argmax(1).eq(reference.argmax(1)).float().mean().item());
}

/**
 * Inputs of `shape` the plain model and a fast mode must treat alike: one random input,
 * and non-finite ones (all NaN, one NaN pixel, one +Infinity pixel, one -Infinity pixel).
 * A fast mode may refuse a non-finite probe with an error, never answer it differently.
 */
function probeInputs(shape: number[]): { name: string; input: Tensor }[] {
  const withPixel = (value: number): Tensor => {
    const x = randn(shape);
    x.view([-1]).narrow(0, Math.floor(x.numel / 2), 1).fill_(value);
    return x;
  };
  return [
    { name: 'a random input', input: randn(shape) },
    { name: 'an all-NaN input', input: full(shape, Number.NaN) },
    { name: 'a random input with one NaN pixel', input: withPixel(Number.NaN) },
    { name: 'a random input with one +Infinity pixel', input: withPixel(Number.POSITIVE_INFINITY) },
    { name: 'a random input with one -Infinity pixel', input: withPixel(Number.NEGATIVE_INFINITY) },
  ];
}

/**
 * How far `output` is from `reference`: relative difference over the elements both have
 * finite, Infinity when they disagree on which elements are NaN, +Infinity or -Infinity.
 */
export function outputDifference(output: Tensor, reference: Tensor): number {
  return tidy(() => {
    const finite = reference.isfinite();
    const kindsDiffer = output.isfinite().ne(finite).any().item() || output.isnan().ne(reference.isnan()).any().item();
    if (kindsDiffer) return Number.POSITIVE_INFINITY;
    // Both are infinite at the same places now: their signs must agree too.
    const finiteOrNan = finite.logicalOr(reference.isnan());
    if (output.maskedFill(finiteOrNan, 0).ne(reference.maskedFill(finiteOrNan, 0)).any().item()) return Number.POSITIVE_INFINITY;
    const nonFinite = finite.logicalNot();
    return relativeDifference(output.maskedFill(nonFinite, 0), reference.maskedFill(nonFinite, 0));
  });
}

/** Whether `mode` can apply to `model` (oneDNN's layouts need float32 CPU tensors). */
export function modeApplies(model: ImageModel, mode: InferenceMode): boolean {
  return (mode.layout !== 'mkldnn' && mode.layout !== 'dnnl') || supportsMkldnn(model);
}

/**
 * Applies `mode` to `model` (in place) and measures how far its output on a random
 * input of `probeShape` moves from the plain eval output it gave before.
 */
export function checkedInferenceModel(model: ImageModel, mode: InferenceMode, probeShape: number[]): CheckedModel {
  if (!modeApplies(model, mode)) throw new Error(`the ${modeName(mode)} mode needs a float32 model on the CPU`);
  model.eval();
  const probes = tidy(() => probeInputs(probeShape).map(({ name, input }) => ({ name, input, reference: noGrad(() => model.call(input)) })));
  try {
    const prepared = prepareForInference(model, mode);
    let difference = 0;
    let nonFiniteMismatch: string | undefined;
    let agreement: number | undefined;
    for (const [index, { name, input, reference }] of probes.entries()) {
      const probeDifference = tidy(() => {
        const laidOut = mode.layout === 'channels-last' ? input.contiguous('channelsLast') : input;
        if (index === 0) {
          const output = noGrad(() => prepared.call(laidOut));
          agreement = top1Agreement(output, reference);
          return outputDifference(output, reference);
        }
        try {
          return outputDifference(noGrad(() => prepared.call(laidOut)), reference);
        } catch {
          return 0; // refusing a non-finite input is allowed
        }
      });
      if (probeDifference === Number.POSITIVE_INFINITY && index > 0 && nonFiniteMismatch === undefined) nonFiniteMismatch = name;
      difference = Math.max(difference, probeDifference);
    }
    return {
      model: prepared,
      mode,
      difference,
      ...(nonFiniteMismatch ? { nonFiniteMismatch } : {}),
      ...(agreement === undefined ? {} : { top1Agreement: agreement }),
    };
  } finally {
    for (const { input, reference } of probes) dispose([input, reference]);
  }
}

/** A faster mode passed over, and why. */
export interface RejectedMode {
  mode: InferenceMode;
  reason: string;
}

/**
 * The fastest mode whose outputs stay within `tolerance` of the plain eval model; each
 * candidate gets a fresh model from `build`. A mode that fails on this model (an op
 * without a oneDNN-layout kernel) or drifts too far is passed over and listed.
 */
export function fastestFaithfulModel(
  build: () => ImageModel,
  probeShape: number[],
  tolerance = DEFAULT_TOLERANCE,
): CheckedModel & { rejected: RejectedMode[] } {
  const rejected: RejectedMode[] = [];
  for (const mode of MODES_FASTEST_FIRST) {
    const plain = !mode.fuse && mode.layout === 'dense';
    const model = build();
    if (!modeApplies(model, mode)) {
      rejected.push({ mode, reason: 'needs a float32 model on the CPU' });
      model.dispose();
      continue;
    }
    let checked: CheckedModel;
    try {
      checked = checkedInferenceModel(model, mode, probeShape);
    } catch (error) {
      if (plain) throw error;
      rejected.push({ mode, reason: (error as Error).message.split('\n')[0] });
      model.dispose();
      continue;
    }
    if (checked.difference <= tolerance || plain) return { ...checked, rejected };
    rejected.push({
      mode,
      reason: checked.nonFiniteMismatch
        ? `for ${checked.nonFiniteMismatch} its outputs are not NaN/infinite where the plain model's are (or the other way round)`
        : `output differs by ${checked.difference.toExponential(1)} (relative), over ${tolerance}`,
    });
    checked.model.dispose();
  }
  throw new Error('no inference mode was tried'); // unreachable: the plain mode always applies
}
