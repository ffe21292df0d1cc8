// Optimizer: parameter groups, gradient reading, and the state an exact resume needs.
// Subclasses say how one step updates the parameters; the state (momentum buffers,
// moment estimates, step counts) is kept as tensors keyed by the parameter's position,
// as PyTorch's optimizer state_dict does.
import { native, type NativeHandle } from '../../native.js';
import { zerosLike } from '../../torch/creation.js';
import { countNonFinite } from '../../torch/functional.js';
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
  /** Flat indices of the parameters that hold state (written since state files were checked on load). */
  stateful?: number[];
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

  /** The state tensors each parameter holds once it has been stepped (SGD with momentum: its buffer). */
  protected stateNames(): string[] {
    return [];
  }
  /** State tensors a parameter may also hold (a momentum buffer made while momentum was on). */
  protected optionalStateNames(): string[] {
    return [];
  }
  /** Whether each stepped parameter has a step counter (AdamW). */
  protected readonly countsSteps: boolean = false;

  /** Sets every group's lr to `lr` times the group's scale (what schedules call each iteration). */
  setLr(lr: number): void {
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`learning rate must be a finite non-negative number, got ${lr}`);
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
        stateful: [...new Set([...this.state.keys(), ...Object.keys(this.counters).map(Number)])].sort((a, b) => a - b),
      },
    };
  }

  /**
   * Restores a state from stateDict(); the tensors are copied, the caller keeps ownership.
   * Everything is checked first (settings, counters, every buffer of every stepped
   * parameter, finite values), so a damaged state is refused, naming what is wrong,
   * instead of resuming to different weights.
   */
  loadStateDict(saved: OptimizerState): void {
    const meta = checkMeta(saved.meta);
    if (meta.kind !== this.kind) throw new Error(`optimizer state is for '${meta.kind}', this optimizer is '${this.kind}'`);
    const sizes = this.paramGroups.map((group) => group.params.length);
    const savedSizes = meta.groups.map((group) => group.size);
    if (sizes.join(',') !== savedSizes.join(',')) {
      throw new Error(`optimizer state has parameter groups of sizes [${savedSizes.join(', ')}], this optimizer has [${sizes.join(', ')}]`);
    }
    const flat = this.paramGroups.flatMap((group) => group.params);
    const pattern = /^state\.(\d+)\.(\w+)$/;
    const names = this.stateNames();
    const allowed = [...new Set([...names, ...this.optionalStateNames()])];
    const found = new Map<number, Map<string, Tensor>>();
    for (const [key, tensor] of Object.entries(saved.tensors)) {
      const match = pattern.exec(key);
      if (!match) throw new Error(`unexpected key '${key}' in optimizer state`);
      const index = Number(match[1]);
      const param = flat[index];
      if (!param) throw new Error(`optimizer state names parameter ${index}, but there are only ${flat.length}`);
      if (!allowed.includes(match[2])) throw new Error(`optimizer state '${key}': a ${this.kind} optimizer keeps ${allowed.length ? allowed.map((n) => `'${n}'`).join(' and ') : 'no tensors'} per parameter`);
      if (param.shape.join(',') !== tensor.shape.join(',')) {
        throw new Error(`optimizer state '${key}' has shape [${tensor.shape.join(', ')}], parameter ${index} has [${param.shape.join(', ')}]`);
      }
      if (countNonFinite(tensor) > 0) throw new Error(`optimizer state '${key}' holds NaN or infinite values`);
      const slot = found.get(index) ?? new Map<string, Tensor>();
      slot.set(match[2], tensor);
      found.set(index, slot);
    }
    const counters = meta.counters ?? {};
    for (const key of Object.keys(counters)) {
      if (!flat[Number(key)]) throw new Error(`optimizer state has a step counter for parameter ${key}, but there are only ${flat.length}`);
    }
    // Which parameters must hold state: the list the file gives, or (older files) every
    // parameter that requires gradients once any holds state.
    const anyState = found.size > 0 || Object.keys(counters).length > 0;
    const stateful = meta.stateful ?? (anyState ? flat.flatMap((param, index) => (param.requiresGrad ? [index] : [])) : []);
    for (const index of stateful) {
      if (!flat[index]) throw new Error(`optimizer state lists parameter ${index} as stepped, but there are only ${flat.length}`);
      for (const name of names) {
        if (!found.get(index)?.has(name)) throw new Error(`optimizer state is missing 'state.${index}.${name}' (parameter ${index}, shape [${flat[index].shape.join(', ')}]): the state file is damaged`);
      }
      if (this.countsSteps && counters[String(index)] === undefined) throw new Error(`optimizer state is missing the step count of parameter ${index}: the state file is damaged`);
    }
    const listed = new Set(stateful);
    for (const index of [...found.keys(), ...Object.keys(counters).map(Number)]) {
      if (!listed.has(index)) throw new Error(`optimizer state holds state for parameter ${index}, which its list of stepped parameters leaves out: the state file is damaged`);
    }
    const incoming = new Map<number, Record<string, Tensor>>();
    for (const [index, slot] of found) {
      const dtype = flat[index].dtype;
      incoming.set(index, Object.fromEntries([...slot].map(([name, tensor]) => [name, tensor.to({ dtype, copy: true }).keep()])));
    }
    this.disposeState();
    for (const [index, slot] of incoming) this.state.set(index, slot);
    meta.groups.forEach((group, i) => {
      this.paramGroups[i].lr = group.lr;
      this.paramGroups[i].weightDecay = group.weightDecay;
    });
    this.counters = { ...counters };
  }

  /** Frees the optimizer's state tensors. */
  disposeState(): void {
    for (const slot of this.state.values()) for (const tensor of Object.values(slot)) tensor.dispose();
    this.state.clear();
    this.counters = {};
  }
}

/** The JSON part of an optimizer state, checked for shape, types and ranges. */
function checkMeta(meta: unknown): OptimizerMeta {
  const fail = (what: string): never => {
    throw new Error(`optimizer state: ${what}`);
  };
  if (typeof meta !== 'object' || meta === null) fail('the settings record is missing');
  const m = meta as Record<string, unknown>;
  if (typeof m.kind !== 'string') fail(`'kind' must be a string, got ${JSON.stringify(m.kind)}`);
  if (!Array.isArray(m.groups) || m.groups.length === 0) fail(`'groups' must be a non-empty array, got ${JSON.stringify(m.groups)}`);
  (m.groups as unknown[]).forEach((group, i) => {
    const g = group as Record<string, unknown>;
    if (typeof g !== 'object' || g === null) fail(`group ${i} is not an object`);
    for (const key of ['lr', 'weightDecay'] as const) {
      if (typeof g[key] !== 'number' || !Number.isFinite(g[key]) || (g[key] as number) < 0) fail(`group ${i} '${key}' must be a finite non-negative number, got ${JSON.stringify(g[key])}`);
    }
    if (!Number.isInteger(g.size) || (g.size as number) < 0) fail(`group ${i} 'size' must be a non-negative integer, got ${JSON.stringify(g.size)}`);
  });
  if (m.counters !== undefined) {
    if (typeof m.counters !== 'object' || m.counters === null || Array.isArray(m.counters)) fail(`'counters' must be an object, got ${JSON.stringify(m.counters)}`);
    for (const [key, value] of Object.entries(m.counters as object)) {
      if (!/^\d+$/.test(key) || !Number.isInteger(value) || (value as number) < 1) fail(`step counter '${key}' must be a positive integer, got ${JSON.stringify(value)}`);
    }
  }
  if (typeof m.hyper !== 'object' || m.hyper === null) fail(`'hyper' must be an object, got ${JSON.stringify(m.hyper)}`);
  for (const [key, value] of Object.entries(m.hyper as object)) {
    if (typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) fail(`hyper-parameter '${key}' must be a finite number or a boolean, got ${JSON.stringify(value)}`);
  }
  if (m.stateful !== undefined && (!Array.isArray(m.stateful) || !m.stateful.every((i) => Number.isInteger(i) && i >= 0))) {
    fail(`'stateful' must be a list of parameter indices, got ${JSON.stringify(m.stateful)}`);
  }
  return m as unknown as OptimizerMeta;
}

function isGroupList(params: Tensor[] | ParamGroupInput[]): params is ParamGroupInput[] {
  return params.length > 0 && 'params' in (params[0] as object) && Array.isArray((params[0] as ParamGroupInput).params);
}

/** Frees the gradient handles read by `gradients()`. */
export function releaseGradients(entries: GradEntry[]): void {
  for (const entry of entries) native.dispose(entry.grad);
}
