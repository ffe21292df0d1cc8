// Optimizer: parameter groups, gradient reading, and the state an exact resume needs.
// Subclasses say how one step updates the parameters; the state (momentum buffers,
// moment estimates, step counts) is kept as tensors keyed by the parameter's position,
// as PyTorch's optimizer state_dict does.
import { native, type NativeHandle } from '../../native.js';
import { zerosLike } from '../../torch/creation.js';
import type { Tensor } from '../../torch/tensor.js';

export interface ParamGroupInput {
  params: Tensor[];
  /** Defaults to the optimizer's learning rate. */
  lr?: number;
  /** Defaults to the optimizer's weight decay. */
  weightDecay?: number;
}

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
  /** The group's lr relative to the optimizer's base lr; schedules scale every group by the same factor. */
  lrScale: number;
}

/** What an optimizer's stateDict holds: tensors by key, and JSON-safe settings. */
export interface OptimizerState {
  tensors: Record<string, Tensor>;
  meta: OptimizerMeta;
}

export interface OptimizerMeta {
  kind: string;
  groups: { lr: number; weightDecay: number; size: number }[];
  /** Per-parameter integers (AdamW's step counts), by flat parameter index. */
  counters?: Record<string, number>;
  hyper: Record<string, number | boolean>;
}

/** A parameter with its gradient handle, read once per step (the caller disposes the handle). */
export interface GradEntry {
  index: number;
  param: Tensor;
  grad: NativeHandle;
}

export abstract class Optimizer {
  readonly paramGroups: ParamGroup[];
  readonly baseLr: number;
  /** Per flat parameter index: named state tensors (kept, owned by the optimizer). */
  protected readonly state = new Map<number, Record<string, Tensor>>();

  protected constructor(
    params: Tensor[] | ParamGroupInput[],
    defaults: { lr: number; weightDecay: number },
  ) {
    if (!(defaults.lr >= 0)) throw new Error(`learning rate must be a non-negative number, got ${defaults.lr}`);
    if (!(defaults.weightDecay >= 0)) throw new Error(`weight decay must be a non-negative number, got ${defaults.weightDecay}`);
    this.baseLr = defaults.lr;
    const inputs: ParamGroupInput[] = isGroupList(params) ? params : [{ params }];
    if (inputs.length === 0 || inputs.every((group) => group.params.length === 0)) throw new Error('optimizer got no parameters');
    const seen = new Set<Tensor>();
    this.paramGroups = inputs.map((group) => {
      for (const param of group.params) {
        if (seen.has(param)) throw new Error('a parameter appears in more than one parameter group');
        seen.add(param);
      }
      const lr = group.lr ?? defaults.lr;
      return { params: [...group.params], lr, weightDecay: group.weightDecay ?? defaults.weightDecay, lrScale: defaults.lr > 0 ? lr / defaults.lr : 1 };
    });
  }

  /** Applies one update from the parameters' current gradients. */
  abstract step(): void;

  /** The kind written into stateDict ('sgd', 'adamw'). */
  protected abstract readonly kind: string;
  /** Hyper-parameters, recorded in stateDict for the reader. */
  protected abstract hyperParameters(): Record<string, number | boolean>;

  /** Sets every group's lr to `lr` times the group's scale (what schedules call each iteration). */
  setLr(lr: number): void {
    for (const group of this.paramGroups) group.lr = lr * group.lrScale;
  }

  /** Drops every gradient (PyTorch's zero_grad(set_to_none=True)): backward then writes fresh ones. */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const param of group.params) native.setGrad(param.handle, null);
  }

  /** The flat index of the first parameter of group `groupIndex`. */
  protected groupOffset(groupIndex: number): number {
    let index = 0;
    for (let g = 0; g < groupIndex; g++) index += this.paramGroups[g].params.length;
    return index;
  }

  /** Every parameter of `group` that has a gradient, with its flat index. */
  protected gradients(groupIndex: number): GradEntry[] {
    let index = this.groupOffset(groupIndex);
    const entries: GradEntry[] = [];
    for (const param of this.paramGroups[groupIndex].params) {
      const grad = native.grad(param.handle) as NativeHandle | null;
      if (grad !== null) entries.push({ index, param, grad });
      index++;
    }
    return entries;
  }

  /** Like gradients(), with each gradient as a Tensor owned by the enclosing tidy scope (for optimisers written in tensor ops). */
  protected gradientTensors(groupIndex: number): { index: number; param: Tensor; grad: Tensor }[] {
    const offset = this.groupOffset(groupIndex);
    return this.paramGroups[groupIndex].params.flatMap((param, i) => {
      const grad = param.grad;
      return grad ? [{ index: offset + i, param, grad }] : [];
    });
  }

  /**
   * Sets the momentum (SGD, RMSprop) or first-moment decay beta1 (AdamW, LAMB), as
   * OneCycleLR's cycle_momentum does every step.
   */
  abstract setMomentum(momentum: number): void;

  /** The named state tensor of a parameter, created as zeros (and kept) on first use. */
  protected stateTensor(index: number, name: string, like: Tensor): { tensor: Tensor; created: boolean } {
    let slot = this.state.get(index);
    if (!slot) this.state.set(index, (slot = {}));
    const existing = slot[name];
    if (existing) return { tensor: existing, created: false };
    const made = zerosLike(like).keep();
    slot[name] = made;
    return { tensor: made, created: true };
  }

  /** Per-parameter counters stored in the JSON part of the state (AdamW's steps). */
  protected counters: Record<string, number> = {};

  /** The state an exact resume needs. Tensors are the optimizer's own: do not dispose them. */
  stateDict(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    for (const [index, slot] of [...this.state].sort((a, b) => a[0] - b[0])) {
      for (const [name, tensor] of Object.entries(slot)) tensors[`state.${index}.${name}`] = tensor;
    }
    return {
      tensors,
      meta: {
        kind: this.kind,
        groups: this.paramGroups.map((group) => ({ lr: group.lr, weightDecay: group.weightDecay, size: group.params.length })),
        counters: { ...this.counters },
        hyper: this.hyperParameters(),
      },
    };
  }

  /** Restores a state from stateDict(); the tensors are copied, the caller keeps ownership. */
  loadStateDict(saved: OptimizerState): void {
    const { meta } = saved;
    if (meta.kind !== this.kind) throw new Error(`optimizer state is for '${meta.kind}', this optimizer is '${this.kind}'`);
    const sizes = this.paramGroups.map((group) => group.params.length);
    const savedSizes = meta.groups.map((group) => group.size);
    if (sizes.join(',') !== savedSizes.join(',')) {
      throw new Error(`optimizer state has parameter groups of sizes [${savedSizes.join(', ')}], this optimizer has [${sizes.join(', ')}]`);
    }
    const flat = this.paramGroups.flatMap((group) => group.params);
    const pattern = /^state\.(\d+)\.(\w+)$/;
    const incoming = new Map<number, Record<string, Tensor>>();
    for (const [key, tensor] of Object.entries(saved.tensors)) {
      const match = pattern.exec(key);
      if (!match) throw new Error(`unexpected key '${key}' in optimizer state`);
      const index = Number(match[1]);
      const param = flat[index];
      if (!param) throw new Error(`optimizer state names parameter ${index}, but there are only ${flat.length}`);
      if (param.shape.join(',') !== tensor.shape.join(',')) {
        throw new Error(`optimizer state '${key}' has shape [${tensor.shape.join(', ')}], parameter ${index} has [${param.shape.join(', ')}]`);
      }
      const slot = incoming.get(index) ?? {};
      slot[match[2]] = tensor.to({ dtype: param.dtype, copy: true }).keep();
      incoming.set(index, slot);
    }
    this.disposeState();
    for (const [index, slot] of incoming) this.state.set(index, slot);
    meta.groups.forEach((group, i) => {
      this.paramGroups[i].lr = group.lr;
      this.paramGroups[i].weightDecay = group.weightDecay;
    });
    this.counters = { ...(meta.counters ?? {}) };
  }

  /** Frees the optimizer's state tensors. */
  disposeState(): void {
    for (const slot of this.state.values()) for (const tensor of Object.values(slot)) tensor.dispose();
    this.state.clear();
    this.counters = {};
  }
}

function isGroupList(params: Tensor[] | ParamGroupInput[]): params is ParamGroupInput[] {
  return params.length > 0 && 'params' in (params[0] as object) && Array.isArray((params[0] as ParamGroupInput).params);
}

/** Frees the gradient handles read by `gradients()`. */
export function releaseGradients(entries: GradEntry[]): void {
  for (const entry of entries) native.dispose(entry.grad);
}
