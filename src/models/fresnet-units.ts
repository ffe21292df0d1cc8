// The residual units of InsightFace's fresnet.py, one class per unit family,
// each child named as fresnet.py names its operators (conv1, bn1, relu1, ..., conv1sc, sc).
// `numFilter` is the unit's output width; bottleneck units narrow to numFilter / 4
// inside (v3_x: numFilter / 2 in 32 groups). A unit that does not match dimensions
// (every stage's first, stage 1 included) projects its shortcut.
import type { BatchNorm2d } from '../nn/batchnorm.js';
import type { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import type { SqueezeExcite } from '../layers/squeeze-excite.js';
import { act, batchNorm2d, conv, squeezeExcite, type Activation } from './fresnet-layers.js';

export interface UnitOptions {
  inChannels: number;
  numFilter: number;
  stride: number;
  /** The shortcut is the input itself (same width, stride 1). */
  dimMatch: boolean;
  bottleneck: boolean;
  act: Activation;
  se: boolean;
}

/** The convolutions of a unit's residual branch: [kernel, outChannels, stride, groups] each. */
interface Layout {
  convs: [number, number, number, number][];
}

function branchLayout(options: UnitOptions, strideAt: number, narrow: number, groups = 1): Layout {
  const { numFilter, stride, bottleneck } = options;
  const strides = (count: number) => Array.from({ length: count }, (_, i) => (i === strideAt ? stride : 1));
  if (!bottleneck) {
    const [s1, s2] = strides(2);
    return { convs: [[3, numFilter, s1, 1], [3, numFilter, s2, 1]] };
  }
  const inner = Math.floor(numFilter * narrow);
  const [s1, s2, s3] = strides(3);
  return { convs: [[1, inner, s1, groups], [3, inner, s2, groups], [1, numFilter, s3, 1]] };
}

/** conv, BN (named bn{i + bnOffset}), Act per layer, no Act after the last BN: the branch of v1 and v3. */
function addPostActivationLayers(owner: Module, layout: Layout, options: UnitOptions, bnOffset: number): { convs: Conv2d[]; norms: BatchNorm2d[]; acts: Module[] } {
  const branch = { convs: [] as Conv2d[], norms: [] as BatchNorm2d[], acts: [] as Module[] };
  let channels = options.inChannels;
  layout.convs.forEach(([kernel, out, stride, groups], i) => {
    branch.convs.push(owner.registerModule(`conv${i + 1}`, conv(channels, out, kernel, stride, groups)));
    branch.norms.push(owner.registerModule(`bn${i + bnOffset}`, batchNorm2d(out)));
    if (i < layout.convs.length - 1) branch.acts.push(owner.registerModule(`relu${i + 1}`, act(options.act, out)));
    channels = out;
  });
  return branch;
}

/** SE on the branch, and the projection shortcut (conv1sc, BN sc) of a unit that does not match dimensions. */
function addSeAndProjection(owner: Module, options: UnitOptions): { se?: SqueezeExcite; conv1sc?: Conv2d; sc?: BatchNorm2d } {
  const se = options.se ? owner.registerModule('se', squeezeExcite(options.numFilter, options.act)) : undefined;
  if (options.dimMatch) return { se };
  const conv1sc = owner.registerModule('conv1sc', conv(options.inChannels, options.numFilter, 1, options.stride));
  return { se, conv1sc, sc: owner.registerModule('sc', batchNorm2d(options.numFilter)) };
}

/** The branch through its last BN, then SE: shared by v1 and v3. */
function runBranch(x: Tensor, branch: { convs: Conv2d[]; norms: BatchNorm2d[]; acts: Module[]; se?: SqueezeExcite }): Tensor {
  branch.convs.forEach((convolution, i) => {
    x = branch.norms[i].call(convolution.call(x));
    if (i < branch.acts.length) x = branch.acts[i].call(x);
  });
  return branch.se ? branch.se.call(x) : x;
}

/**
 * residual_unit_v1 (`large` false: the stride on the first convolution, for 224x224
 * input) and residual_unit_v1_L (`large` true: on conv2 of a basic unit, conv3 of a
 * bottleneck, keeping 112x112 feature maps large). Post-activation: conv, BN, Act per
 * layer, the sum, then Act (relu3).
 */
export class ResidualUnitV1 extends Module {
  readonly convs: Conv2d[];
  readonly norms: BatchNorm2d[];
  readonly acts: Module[];
  readonly se?: SqueezeExcite;
  readonly conv1sc?: Conv2d;
  readonly sc?: BatchNorm2d;
  readonly relu3: Module;

  constructor(options: UnitOptions, large: boolean) {
    super();
    const layout = branchLayout(options, large ? (options.bottleneck ? 2 : 1) : 0, 0.25);
    ({ convs: this.convs, norms: this.norms, acts: this.acts } = addPostActivationLayers(this, layout, options, 1));
    ({ se: this.se, conv1sc: this.conv1sc, sc: this.sc } = addSeAndProjection(this, options));
    this.relu3 = this.registerModule('relu3', act(options.act, options.numFilter));
  }

  forward(input: Tensor): Tensor {
    const shortcut = this.conv1sc ? this.sc!.call(this.conv1sc.call(input)) : input;
    return this.relu3.call(runBranch(input, this).add(shortcut));
  }
}

/**
 * residual_unit_v2: pre-activation (BN, Act, conv per layer), the stride on the 3x3
 * convolution (conv1 of a basic unit, conv2 of a bottleneck); the projection `sc` is a
 * convolution of the first activation, without BatchNorm; no activation after the sum.
 */
export class ResidualUnitV2 extends Module {
  readonly norms: BatchNorm2d[] = [];
  readonly acts: Module[] = [];
  readonly convs: Conv2d[] = [];
  readonly se?: SqueezeExcite;
  readonly sc?: Conv2d;

  constructor(options: UnitOptions) {
    super();
    const layout = branchLayout(options, options.bottleneck ? 1 : 0, 0.25);
    let channels = options.inChannels;
    layout.convs.forEach(([kernel, out, stride, groups], i) => {
      this.norms.push(this.registerModule(`bn${i + 1}`, batchNorm2d(channels)));
      this.acts.push(this.registerModule(`relu${i + 1}`, act(options.act, channels)));
      this.convs.push(this.registerModule(`conv${i + 1}`, conv(channels, out, kernel, stride, groups)));
      channels = out;
    });
    if (options.se) this.se = this.registerModule('se', squeezeExcite(options.numFilter, options.act));
    if (!options.dimMatch) this.sc = this.registerModule('sc', conv(options.inChannels, options.numFilter, 1, options.stride));
  }

  forward(input: Tensor): Tensor {
    let x = input;
    let firstActivation: Tensor | undefined;
    this.convs.forEach((convolution, i) => {
      x = this.acts[i].call(this.norms[i].call(x));
      firstActivation ??= x;
      x = convolution.call(x);
    });
    if (this.se) x = this.se.call(x);
    return x.add(this.sc ? this.sc.call(firstActivation!) : input);
  }
}

/**
 * residual_unit_v3 (InsightFace's default, the "IR" unit of LResNet-IR): BN, conv, BN,
 * Act, conv, BN (a bottleneck adds Act, conv, BN), the stride on the last convolution
 * (a bottleneck's strided 1x1 conv3), no activation after the sum. `grouped` gives
 * residual_unit_v3_x (bottleneck only): conv1 and conv2 numFilter / 2 wide in 32 groups.
 */
export class ResidualUnitV3 extends Module {
  readonly bn1: BatchNorm2d;
  readonly convs: Conv2d[];
  readonly norms: BatchNorm2d[];
  readonly acts: Module[];
  readonly se?: SqueezeExcite;
  readonly conv1sc?: Conv2d;
  readonly sc?: BatchNorm2d;

  constructor(options: UnitOptions, grouped = false) {
    super();
    if (grouped && !options.bottleneck) throw new Error("fresnet: unit '3_x' (residual_unit_v3_x) needs bottleneck units, as InsightFace's MXNet fresnet.py asserts");
    const layout = branchLayout(options, options.bottleneck ? 2 : 1, grouped ? 0.5 : 0.25, grouped ? 32 : 1);
    this.bn1 = this.registerModule('bn1', batchNorm2d(options.inChannels));
    ({ convs: this.convs, norms: this.norms, acts: this.acts } = addPostActivationLayers(this, layout, options, 2));
    ({ se: this.se, conv1sc: this.conv1sc, sc: this.sc } = addSeAndProjection(this, options));
  }

  forward(input: Tensor): Tensor {
    return runBranch(this.bn1.call(input), this).add(this.conv1sc ? this.sc!.call(this.conv1sc.call(input)) : input);
  }
}

export type UnitVersion = 1 | 2 | 3 | '3_x';

/**
 * fresnet.py's dispatcher `residual_unit`: version 1 is v1 for input version 0 and v1_L
 * otherwise; '3_x' (never reached by that dispatcher) is v3_x.
 */
export function residualUnit(version: UnitVersion, inputVersion: number, options: UnitOptions): Module {
  switch (version) {
    case 1:
      return new ResidualUnitV1(options, inputVersion !== 0);
    case 2:
      return new ResidualUnitV2(options);
    case 3:
      return new ResidualUnitV3(options);
    case '3_x':
      return new ResidualUnitV3(options, true);
  }
}
