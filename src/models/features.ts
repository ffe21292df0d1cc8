// Backbones (timm's FeatureListNet, torchvision's IntermediateLayerGetter): the trunk of
// a model, registered under the model's own names so a full model's state dict loads
// (its classifier keys, and those of any layer after the last stage returned, ignored), returning the stage outputs listed by outIndices:
// C1..C5 at strides 2..32 for an ImageNet ResNet, as FPN and Mask R-CNN take them.
import type { StateDict } from '../io/types.js';
import { Module, type LoadResult } from '../nn/module.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import type { FeatureInfo, ImageClassifier, TrunkStep } from './classifier.js';
import { firstConvKeys } from './family.js';

export class FeatureListNet extends Module<Tensor, Tensor[]> {
  readonly featureInfo: readonly FeatureInfo[];
  readonly outIndices: readonly number[];
  /** State-dict key of the first convolution's weight (adapted to inChans on load). */
  /** The weights of the convolutions that read the input (PretrainedConfig.firstConv). */
  readonly firstConvKeys: string[];
  readonly #model: ImageClassifier;
  readonly #steps: TrunkStep[];
  readonly #wanted: Set<string>;

  /** The backbone of `model` (built with numClasses 0); `outIndices` default to every stage of its featureInfo. */
  static fromModel(model: ImageClassifier, outIndices?: number[]): FeatureListNet {
    return new FeatureListNet(model, outIndices ?? model.featureInfo.map((_, i) => i));
  }

  private constructor(model: ImageClassifier, outIndices: number[]) {
    super();
    const all = model.featureInfo;
    if (!Array.isArray(outIndices) || outIndices.length === 0) {
      throw new Error(`${model.name}: outIndices must be a non-empty list of stage indices 0..${all.length - 1}, got ${JSON.stringify(outIndices)}`);
    }
    outIndices.forEach((index) => {
      if (!Number.isInteger(index) || index < 0 || index >= all.length) {
        throw new Error(`${model.name}: outIndices entries must be integers 0..${all.length - 1} (${all.map((f) => f.module).join(', ')}), got ${JSON.stringify(index)}`);
      }
    });
    if (new Set(outIndices).size !== outIndices.length) throw new Error(`${model.name}: outIndices lists a stage twice: ${JSON.stringify(outIndices)}`);
    this.#model = model;
    this.outIndices = [...outIndices].sort((a, b) => a - b);
    this.featureInfo = this.outIndices.map((i) => all[i]);
    this.#wanted = new Set(this.featureInfo.map((f) => f.module));
    const steps = model.trunk();
    const last = Math.max(...this.featureInfo.map((f) => steps.findIndex(([path]) => path === f.module)));
    if (this.featureInfo.some((f) => !steps.some(([path]) => path === f.module))) {
      throw new Error(`${model.name}: featureInfo names a module that is not a trunk step`);
    }
    this.#steps = steps.slice(0, last + 1);
    this.firstConvKeys = firstConvKeys(model.pretrainedConfig);
    // The trunk's top-level children up to the last stage returned, under the model's
    // names: a full model's keys fit, its classifier and later layers left out.
    const roots = new Set(this.#steps.map(([path]) => path.split('.')[0]));
    for (const [name, child] of model.namedChildren()) if (roots.has(name)) this.registerModule(name, child);
  }

  get name(): string {
    return this.#model.name;
  }
  get inChans(): number {
    return this.#model.inChans;
  }

  forward(input: Tensor): Tensor[] {
    this.#model.checkInput(input);
    return tidy(() => {
      const features: Tensor[] = [];
      let x = input;
      for (const [path, module] of this.#steps) {
        const next = module.call(x);
        const wasFeature = features.includes(x);
        if (x !== input && next !== x && !wasFeature && !x.kept) x.dispose();
        x = next;
        // Trunk steps never write into their input, so a feature map stays as it was.
        if (this.#wanted.has(path)) features.push(x);
      }
      return features;
    });
  }

  /** The part of a full model's state dict this backbone holds: its classifier and later layers dropped. */
  ownEntries(dict: StateDict): StateDict {
    return Object.fromEntries(Object.entries(dict).filter(([key]) => this.getModule(key.split('.')[0]) !== undefined));
  }

  /** As Module.loadStateDict, ignoring the keys of the full model's classifier and later layers (a full checkpoint loads). */
  override loadStateDict(dict: StateDict, options: { strict?: boolean } = {}): LoadResult {
    return super.loadStateDict(this.ownEntries(dict), options);
  }

  describe(): string {
    return `${this.#model.describe().replace(/, numClasses \d+\)$/, ')')}, features only: ${this.featureInfo.map((f) => f.module).join(', ')}`;
  }
}
