// FractalNet (Larsson, Maire, Shakhnarovich 2016, "FractalNet: Ultra-Deep Neural
// Networks without Residuals"). A fractal block follows the expansion rule
//   f_1(z) = conv(z),    f_{C+1}(z) = join(f_C(f_C(z)), conv(z)),
// where conv is a 3x3 convolution, BatchNorm and ReLU, and join is the element-wise mean
// of its inputs; as in the paper, the join that ends the inner f_C merges into the
// outer one, so each join averages one input per column that reaches it. The network
// stacks B blocks, each followed by 2x2 max-pooling. Drop-path regularises training:
// per batch, either local (each input of every join dropped with probability p, one
// always kept) or global (one column kept for the whole network). Samples come from
// libtorch's generator, so a seeded step, a resumed run and a checkpointed recompute
// draw the same paths.
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { constant_, kaimingNormal_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { MaxPool2d } from '../nn/pooling.js';
import { rand } from '../torch/creation.js';
import { dropout } from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { ClassifierHead } from '../layers/classifier-head.js';
import { ConvNormAct } from '../layers/conv-norm-act.js';
import { inlineInto } from '../layers/inline.js';
import { ImageClassifier, type FeatureInfo, type ResolvedCommonConfig, type TrunkStep } from './classifier.js';
import { defineFamily, type CommonConfig } from './family.js';
import { checkInteger, checkIntegerList, commonOptionKinds, resolveCommonOptions } from './options.js';

/** A FractalNet as plain data. */
export interface FractalNetConfig extends CommonConfig {
  family?: 'fractalnet';
  /** C: columns per block; the deepest has 2^(C-1) convolutions. */
  columns: number;
  /** B: fractal blocks, each followed by 2x2 max-pooling. */
  blocks: number;
  /** Output channels of each block (default 64, 128, 256, 512, 512, then 512). */
  channels?: number[];
  /** Dropout after every convolution of each block (default 0, 0.1, 0.2, 0.3, 0.4, then 0.4). */
  dropRates?: number[];
  /** Local drop-path: probability of dropping each input of a join. */
  localDropProb?: number;
  /** Fraction of training batches that use global drop-path (one column) instead of local. */
  globalPathRatio?: number;
  /** In eval mode, run column k alone (1 = shallowest, one convolution per block; C = deepest); null runs all. */
  evalColumn?: number | null;
}

export type ResolvedFractalNetConfig = Required<FractalNetConfig> & ResolvedCommonConfig & { family: 'fractalnet' };

const defaultChannels = [64, 128, 256, 512, 512];
const defaultDropRates = [0, 0.1, 0.2, 0.3, 0.4];

function fractionIn(name: string, option: string, value: unknown, upper: number): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= upper)) {
    throw new Error(`${name}: ${option} must be a number in [0, ${upper}], got ${JSON.stringify(value)}`);
  }
  return value;
}

export function resolveFractalNetConfig(config: FractalNetConfig): ResolvedFractalNetConfig {
  const name = config.name ?? 'fractalnet';
  const columns = checkInteger(name, 'columns', config.columns, 1);
  const blocks = checkInteger(name, 'blocks', config.blocks, 1);
  const perBlock = (defaults: number[]) => Array.from({ length: blocks }, (_, i) => defaults[Math.min(i, defaults.length - 1)]);
  const channels = checkIntegerList(name, 'channels', config.channels ?? perBlock(defaultChannels), 1, blocks);
  const dropRates = config.dropRates ?? perBlock(defaultDropRates);
  if (!Array.isArray(dropRates) || dropRates.length !== blocks) {
    throw new Error(`${name}: dropRates must list ${blocks} numbers (one per block), got ${JSON.stringify(dropRates)}`);
  }
  dropRates.forEach((rate, i) => fractionIn(name, `dropRates[${i}]`, rate, 0.99));
  const evalColumn = config.evalColumn ?? null;
  if (evalColumn !== null && (!Number.isInteger(evalColumn) || evalColumn < 1 || evalColumn > columns)) {
    throw new Error(`${name}: evalColumn must be null or an integer from 1 to ${columns} (columns), got ${JSON.stringify(evalColumn)}`);
  }
  const common = resolveCommonOptions(name, config, { numClasses: 10, outputStride: 2 ** blocks, outputStrides: [2 ** blocks] });
  if (common.dropPathRate !== 0) {
    throw new Error(`${name}: FractalNet's drop-path is set by localDropProb and globalPathRatio, not dropPathRate (stochastic depth of residual blocks)`);
  }
  return {
    ...common,
    family: 'fractalnet',
    columns,
    blocks,
    channels,
    dropRates: [...dropRates],
    localDropProb: fractionIn(name, 'localDropProb', config.localDropProb ?? 0.15, 1),
    globalPathRatio: fractionIn(name, 'globalPathRatio', config.globalPathRatio ?? 0.5, 1),
    evalColumn,
  };
}

/**
 * Which inputs of each join take part in a forward pass: all of them (eval), one
 * column (global drop-path, or evalColumn), or a fresh sample per join (local).
 * Columns are counted from the deepest (0) inside a block.
 */
export type PathPlan = { kind: 'all' } | { kind: 'column'; fromDeepest: number } | { kind: 'local'; dropProb: number };

/** The kept inputs of a join of `inputs` columns (deepest first). */
export function sampleJoin(inputs: number, plan: PathPlan): boolean[] {
  if (plan.kind === 'all') return Array.from({ length: inputs }, () => true);
  if (plan.kind === 'column') return Array.from({ length: inputs }, (_, i) => i === plan.fromDeepest);
  // One draw per input, and one more to pick the survivor if every input was dropped.
  const draws = rand([inputs + 1]);
  const u = draws.toTypedArray() as Float32Array;
  draws.dispose();
  const keep = Array.from({ length: inputs }, (_, i) => u[i] >= plan.dropProb);
  if (!keep.some(Boolean)) keep[Math.min(inputs - 1, Math.floor(u[inputs] * inputs))] = true;
  return keep;
}

/** The element-wise mean of the surviving inputs. */
export function join(inputs: Tensor[]): Tensor {
  if (inputs.length === 1) return inputs[0];
  let sum = inputs[0].add(inputs[1]);
  for (const input of inputs.slice(2)) sum = sum.add_(input);
  return sum.mul_(1 / inputs.length);
}

/** The paper's conv: 3x3 convolution, BatchNorm, ReLU (keys `conv`, `norm`), then the block's dropout. */
export class ConvUnit extends Module {
  readonly unit: ConvNormAct;

  constructor(
    inChannels: number,
    outChannels: number,
    readonly dropRate: number,
  ) {
    super();
    this.unit = inlineInto(this, new ConvNormAct(inChannels, outChannels, 3, { names: { conv: 'conv', norm: 'norm', act: 'relu' } }));
  }

  forward(input: Tensor): Tensor {
    const out = this.unit.forward(input);
    return this.dropRate > 0 ? dropout(out, this.dropRate, this.training) : out;
  }
}

/** f_C: for C = 1 a conv (`shallow`); otherwise `deep1`, `deep2` (two f_{C-1}) and `shallow`. */
export class FractalExpansion extends Module {
  readonly shallow: ConvUnit;
  readonly deep1: FractalExpansion | null = null;
  readonly deep2: FractalExpansion | null = null;

  constructor(
    readonly columns: number,
    inChannels: number,
    outChannels: number,
    dropRate: number,
  ) {
    super();
    if (columns > 1) {
      this.deep1 = this.registerModule('deep1', new FractalExpansion(columns - 1, inChannels, outChannels, dropRate));
      this.deep2 = this.registerModule('deep2', new FractalExpansion(columns - 1, outChannels, outChannels, dropRate));
    }
    this.shallow = this.registerModule('shallow', new ConvUnit(inChannels, outChannels, dropRate));
  }

  /**
   * The inputs of the join that ends this expansion, deepest column first, computing
   * only those `keep` selects: f_C(f_C(z))'s own last join merges into this one.
   */
  branches(z: Tensor, keep: boolean[], plan: PathPlan): Tensor[] {
    const out: Tensor[] = [];
    if (this.deep1 && this.deep2 && keep.slice(0, -1).some(Boolean)) {
      const middle = join(this.deep1.branches(z, sampleJoin(this.columns - 1, plan), plan));
      out.push(...this.deep2.branches(middle, keep.slice(0, -1), plan));
    }
    if (keep[keep.length - 1]) out.push(this.shallow.call(z));
    return out;
  }

  forward(z: Tensor): Tensor {
    return join(this.branches(z, sampleJoin(this.columns, { kind: 'all' }), { kind: 'all' }));
  }
}

/** A fractal block: f_C followed by 2x2 max-pooling; the model sets `plan` for each pass. */
export class FractalBlock extends FractalExpansion {
  readonly pool = this.registerModule('pool', new MaxPool2d(2, { stride: 2 }));
  plan: PathPlan = { kind: 'all' };

  override forward(input: Tensor): Tensor {
    const joined = join(this.branches(input, sampleJoin(this.columns, this.plan), this.plan));
    return this.pool.call(joined);
  }
}

export class FractalNet extends ImageClassifier<ResolvedFractalNetConfig> {
  readonly classifierHead: ClassifierHead;
  readonly featureInfo: FeatureInfo[] = [];
  /** block1 .. blockB */
  readonly blocks: FractalBlock[] = [];

  constructor(config: FractalNetConfig, options: { init?: boolean } = {}) {
    const resolved = resolveFractalNetConfig(config);
    super(resolved);
    let channels = resolved.inChans;
    resolved.channels.forEach((width, i) => {
      this.blocks.push(this.registerModule(`block${i + 1}`, new FractalBlock(resolved.columns, channels, width, resolved.dropRates[i])));
      this.featureInfo.push({ numChs: width, reduction: 2 ** (i + 1), module: `block${i + 1}` });
      channels = width;
    });
    this.classifierHead = inlineInto(this, new ClassifierHead(channels, resolved.numClasses, {
      globalPool: resolved.globalPool,
      dropRate: resolved.dropRate,
      names: { fc: 'classifier' },
    }));
    if (options.init ?? true) initFractalNetWeights(this);
  }

  /**
   * The paths of this pass: in training, per batch, global drop-path (one column for
   * the whole network) with probability globalPathRatio, else local drop-path; in eval,
   * every column, or evalColumn alone.
   */
  samplePathPlan(): PathPlan {
    const { columns, evalColumn, globalPathRatio, localDropProb } = this.config;
    if (!this.training) return evalColumn === null ? { kind: 'all' } : { kind: 'column', fromDeepest: columns - evalColumn };
    if (globalPathRatio === 0 && localDropProb === 0) return { kind: 'all' };
    const draws = rand([2]);
    const [mode, pick] = draws.toTypedArray() as Float32Array;
    draws.dispose();
    if (mode < globalPathRatio) return { kind: 'column', fromDeepest: Math.min(columns - 1, Math.floor(pick * columns)) };
    return { kind: 'local', dropProb: localDropProb };
  }

  trunk(): TrunkStep[] {
    return this.blocks.map((block, i) => [`block${i + 1}`, block]);
  }

  // The plan is drawn once per pass, before the blocks (a checkpointed block, recomputed
  // in backward, reads the same plan and redraws its local samples from the saved state).
  protected override runTrunk(input: Tensor, steps: TrunkStep[]): Tensor {
    const plan = this.samplePathPlan();
    for (const block of this.blocks) block.plan = plan;
    return super.runTrunk(input, steps);
  }
}

/** He-normal convolutions (fan-in, ReLU gain), BatchNorm 1 and 0, Linear bias 0. */
export function initFractalNetWeights(model: Module<unknown, unknown>): void {
  for (const [, module] of model.namedModules()) {
    if (module instanceof Conv2d) kaimingNormal_(module.weight, { nonlinearity: 'relu' });
    else if (module instanceof BatchNorm2d) {
      if (module.weight) constant_(module.weight, 1);
      if (module.bias) constant_(module.bias, 0);
    } else if (module instanceof Linear && module.bias) constant_(module.bias, 0);
  }
}

export const fractalNetFamily = defineFamily({
  family: 'fractalnet',
  title: 'FractalNet',
  paper: 'Larsson, Maire, Shakhnarovich. FractalNet: Ultra-Deep Neural Networks without Residuals. ICLR 2017 (arXiv:1605.07648)',
  options: {
    ...commonOptionKinds,
    columns: 'integer >= 1 (C)',
    blocks: 'integer >= 1 (B)',
    channels: 'list of B integers >= 1',
    dropRates: 'list of B numbers in [0, 0.99]',
    localDropProb: 'number in [0, 1]',
    globalPathRatio: 'number in [0, 1]',
    evalColumn: 'null | integer 1..C (1: the shallowest column)',
  },
  // The paper trains with plain SGD, momentum 0.9, from lr 0.02: a network with no
  // shortcuts and mean joins diverges in its first epoch at the ResNet papers' 0.1
  // (scripts/fractalnet_train_reference.py shows the same of the paper's network).
  trainingDefaults: { lr: 0.02, nesterov: false, source: "the paper's SGD: lr 0.02, momentum 0.9, no Nesterov" },
  resolve: resolveFractalNetConfig,
  build: (config: ResolvedFractalNetConfig, options) => new FractalNet(config, options),
  describe: (c: ResolvedFractalNetConfig) => `${c.columns} columns, ${c.blocks} blocks, channels [${c.channels.join(', ')}]`,
  pretrained: (c: ResolvedFractalNetConfig) => ({
    inputSize: [c.inChans, 32, 32] as [number, number, number],
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.247, 0.2435, 0.2616],
    cropPct: 1,
    interpolation: 'bilinear' as const,
    numClasses: 10,
    // Every column's first convolution reads the input: block1's, its deep1's, and so on down.
    firstConv: Array.from({ length: c.columns }, (_, depth) => `block1${'.deep1'.repeat(depth)}.shallow.conv`),
    classifier: 'classifier',
  }),
  variants: {
    fractalnet_cifar: {
      config: { columns: 3, blocks: 5 },
      description: 'FractalNet-20 for CIFAR: C=3, B=5, channels 64-128-256-512-512, dropout 0-0.4',
    },
    fractalnet_fmnist: {
      // 28 -> 14 -> 7 -> 3 -> 1 after four poolings.
      config: { columns: 3, blocks: 4, channels: [32, 64, 128, 256], dropRates: [0, 0.1, 0.2, 0.3], inChans: 1 },
      description: 'FractalNet-16 for 28x28 greyscale (Fashion-MNIST): C=3, B=4, channels 32-64-128-256, dropout 0-0.3',
      pretrained: { inputSize: [1, 28, 28], mean: [0.286], std: [0.353] },
    },
  },
});
