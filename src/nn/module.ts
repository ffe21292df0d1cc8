// Module: the base of every layer and model. Parameters, buffers and child modules are
// registered by name, giving PyTorch's dotted state-dict keys (`layer1.0.conv1.weight`).
import { native } from '../native.js';
import type { StateDict } from '../io/types.js';
import type { DType } from '../torch/dtype.js';
import { Tensor } from '../torch/tensor.js';
import { isGradEnabled, noGrad } from '../torch/runtime.js';
import { inTraceScope, isTracing, tracedPathOf } from '../torch/trace.js';
import { annotateForwardError } from './errors.js';
import { Parameter } from './parameter.js';

export interface ShapeMismatch {
  key: string;
  checkpoint: number[];
  model: number[];
}

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
  /** Keys whose shapes differ (skipped with `strict: false`; an error otherwise). */
  mismatchedKeys: ShapeMismatch[];
}

export type ForwardHook = (module: Module<unknown, unknown>, input: unknown, output: unknown) => void;
/**
 * Called during backward() with the gradients of the module's input and output (PyTorch's
 * full backward hook); `gradInput` is null where the input does not need a gradient. The
 * gradients are the hook's to dispose or keep.
 */
export type BackwardHook = (module: Module<unknown, unknown>, gradInput: Tensor | null, gradOutput: Tensor) => void;

type ChildReplaced = (parent: Module<unknown, unknown>, name: string, old: Module<unknown, unknown>, replacement: Module<unknown, unknown>) => void;
const childReplacedListeners: ChildReplaced[] = [];

/**
 * Tells `listener` of every setSubmodule, for code that runs a child it does not hold as
 * a registered child (layers/inline.ts: units whose children live in a host module).
 */
export function onChildReplaced(listener: ChildReplaced): void {
  childReplacedListeners.push(listener);
}

export abstract class Module<In = Tensor, Out = Tensor> {
  training = true;
  #parameters = new Map<string, Parameter | null>();
  #buffers = new Map<string, { tensor: Tensor | null; persistent: boolean }>();
  #children = new Map<string, Module<unknown, unknown>>();
  #nameInParent: string | undefined;
  #forwardHooks: ForwardHook[] = [];
  #backwardHooks: BackwardHook[] = [];

  abstract forward(input: In): Out;

  /**
   * Runs forward(); a failure names this module's path and the input shape. While a
   * graph is traced, the ops it runs are recorded under this module's path.
   */
  call(input: In): Out {
    const hooked = this.#backwardHooks.length > 0 && input instanceof Tensor && isGradEnabled();
    // With backward hooks the module works on an alias of its input, so the gradient
    // seen there is the one through this module only (as PyTorch's BackwardHook does).
    const alias = hooked && (input as Tensor).requiresGrad ? (input as Tensor).view((input as Tensor).shape) : undefined;
    let output: Out;
    try {
      const forwardInput = (alias ?? input) as In;
      const path = isTracing() ? tracedPathOf(this) : undefined;
      output = path !== undefined ? inTraceScope(path, () => this.forward(forwardInput)) : this.forward(forwardInput);
    } catch (error) {
      throw annotateForwardError(error, this.constructor.name, this.#nameInParent, input);
    }
    if (hooked && output instanceof Tensor && output.requiresGrad) this.#hookBackward(alias, output);
    for (const hook of this.#forwardHooks) hook(this as unknown as Module<unknown, unknown>, input, output);
    return output;
  }

  #hookBackward(input: Tensor | undefined, output: Tensor): void {
    const self = this as unknown as Module<unknown, unknown>;
    const hooks = [...this.#backwardHooks];
    const fire = (gradInput: Tensor | null, gradOutput: Tensor) => {
      for (const hook of hooks) hook(self, gradInput, gradOutput);
    };
    let gradOutput: Tensor | undefined;
    output.registerHook((grad) => {
      gradOutput = grad;
      if (!input) fire(null, grad);
    });
    input?.registerHook((grad) => {
      if (gradOutput) fire(grad, gradOutput);
    });
  }

  /**
   * Calls `hook(module, gradInput, gradOutput)` during backward() for every forward pass
   * that recorded a graph; returns a function that removes it. For tensor in, tensor out modules.
   */
  registerFullBackwardHook(hook: BackwardHook): () => void {
    this.#backwardHooks.push(hook);
    return () => {
      this.#backwardHooks = this.#backwardHooks.filter((h) => h !== hook);
    };
  }

  /** Calls `hook(module, input, output)` after every forward; returns a function that removes it. */
  registerForwardHook(hook: ForwardHook): () => void {
    this.#forwardHooks.push(hook);
    return () => {
      this.#forwardHooks = this.#forwardHooks.filter((h) => h !== hook);
    };
  }

  registerParameter(name: string, value: Tensor | null): Parameter | null {
    const parameter = value === null ? null : value instanceof Parameter ? value : new Parameter(value);
    this.#parameters.set(name, parameter);
    return parameter;
  }

  /** Buffers are state that is not trained (BatchNorm's running statistics). */
  registerBuffer(name: string, value: Tensor | null, options: { persistent?: boolean } = {}): Tensor | null {
    if (value) value.keep();
    this.#buffers.set(name, { tensor: value, persistent: options.persistent ?? true });
    return value;
  }

  registerModule<M extends Module<never, unknown>>(name: string, module: M): M {
    if (name.includes('.') || name === '') throw new Error(`module name '${name}' must be non-empty and contain no '.'`);
    (module as unknown as Module<unknown, unknown>).#nameInParent = name;
    this.#children.set(name, module as unknown as Module<unknown, unknown>);
    return module;
  }

  getParameter(name: string): Parameter | null | undefined {
    return this.#parameters.get(name);
  }
  getBuffer(name: string): Tensor | null | undefined {
    return this.#buffers.get(name)?.tensor;
  }
  getModule(name: string): Module<unknown, unknown> | undefined {
    return this.#children.get(name);
  }

  /** The module at a dotted path ('layer1.0.conv1'; '' is this module), as PyTorch's get_submodule. */
  getSubmodule(path: string): Module<unknown, unknown> {
    let module = this as unknown as Module<unknown, unknown>;
    if (path === '') return module;
    const walked: string[] = [];
    for (const name of path.split('.')) {
      const child = module.#children.get(name);
      if (!child) {
        const where = walked.length ? `'${walked.join('.')}' (${module.constructor.name})` : this.constructor.name;
        throw new Error(`getSubmodule('${path}'): ${where} has no child '${name}'; its children: ${[...module.#children.keys()].join(', ') || 'none'}`);
      }
      walked.push(name);
      module = child;
    }
    return module;
  }

  /**
   * Replaces the module at a dotted path ('fc', 'layer4.1.conv2'), as PyTorch's
   * set_submodule: the new module takes the old one's place in the state dict and in
   * forward() (a field or list slot holding the old one is pointed at the new one).
   * The old module is returned, still holding its tensors, for the caller to dispose.
   */
  setSubmodule<M extends Module<never, unknown>>(path: string, module: M): Module<unknown, unknown> {
    const cut = path.lastIndexOf('.');
    const parent = this.getSubmodule(cut < 0 ? '' : path.slice(0, cut));
    const name = path.slice(cut + 1);
    const old = parent.#children.get(name);
    if (!old) throw new Error(`setSubmodule('${path}'): ${parent.constructor.name} has no child '${name}' to replace; its children: ${[...parent.#children.keys()].join(', ') || 'none'}`);
    parent.registerModule(name, module);
    const fields = parent as unknown as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (value === old) fields[key] = module;
      else if (Array.isArray(value)) value.forEach((item, i) => item === old && (value[i] = module));
    }
    for (const listener of childReplacedListeners) listener(parent, name, old, module as unknown as Module<unknown, unknown>);
    return old;
  }

  *namedChildren(): Generator<[string, Module<unknown, unknown>]> {
    yield* this.#children;
  }
  children(): Module<unknown, unknown>[] {
    return [...this.#children.values()];
  }
  /** Every path to every module, depth first: a module registered twice comes twice. */
  *#allModules(prefix: string): Generator<[string, Module<unknown, unknown>]> {
    yield [prefix, this as unknown as Module<unknown, unknown>];
    for (const [name, child] of this.#children) yield* child.#allModules(prefix ? `${prefix}.${name}` : name);
  }
  /**
   * This module and all below it, depth first, with dotted paths ('' for this one). A
   * module shared by two parents comes once, at its first path, as in PyTorch.
   */
  *namedModules(prefix = ''): Generator<[string, Module<unknown, unknown>]> {
    const seen = new Set<Module<unknown, unknown>>();
    for (const entry of this.#allModules(prefix)) {
      if (seen.has(entry[1])) continue;
      seen.add(entry[1]);
      yield entry;
    }
  }
  /** Each parameter once, at its first path, even when modules or parameters are shared. */
  *namedParameters(prefix = ''): Generator<[string, Parameter]> {
    const seen = new Set<Parameter>();
    for (const [path, module] of this.namedModules(prefix)) {
      for (const [name, parameter] of module.#parameters) {
        if (!parameter || seen.has(parameter)) continue;
        seen.add(parameter);
        yield [path ? `${path}.${name}` : name, parameter];
      }
    }
  }
  parameters(): Parameter[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  /** Each buffer once, at its first path. */
  *namedBuffers(prefix = '', options: { persistentOnly?: boolean } = {}): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [path, module] of this.namedModules(prefix)) {
      for (const [name, { tensor, persistent }] of module.#buffers) {
        if (!tensor || seen.has(tensor) || (!persistent && options.persistentOnly)) continue;
        seen.add(tensor);
        yield [path ? `${path}.${name}` : name, tensor];
      }
    }
  }
  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, b]) => b);
  }

  /** The tensors stateDict() describes, themselves (no new handles), by dotted key. */
  *#stateEntries(): Generator<[string, Tensor]> {
    for (const [path, module] of this.#allModules('')) {
      const at = (name: string) => (path ? `${path}.${name}` : name);
      for (const [name, parameter] of module.#parameters) if (parameter) yield [at(name), parameter];
      for (const [name, { tensor, persistent }] of module.#buffers) if (tensor && persistent) yield [at(name), tensor];
    }
  }

  /**
   * Parameters and persistent buffers by dotted name, in registration order (PyTorch's
   * order). A shared module or parameter appears under every path, as in PyTorch.
   * As in PyTorch the tensors are detached views of the model's own storage: writing into
   * them in place changes the model, and disposing them (or the tidy() scope they were
   * made in ending) frees only the views, never the model's weights.
   */
  stateDict(): StateDict {
    const dict: StateDict = {};
    for (const [key, tensor] of this.#stateEntries()) dict[key] = tensor.detach();
    return dict;
  }

  /**
   * Copies values from `dict` into this module's parameters and buffers; `dict` stays the
   * caller's. With `strict` (the default) missing keys, unexpected keys and shape
   * mismatches are errors; with `strict: false` they are skipped and reported in the result.
   */
  loadStateDict(dict: StateDict, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const own = new Map(this.#stateEntries());
    const missingKeys = [...own.keys()].filter((key) => !Object.hasOwn(dict, key));
    const unexpectedKeys = Object.keys(dict).filter((key) => !own.has(key));
    const mismatchedKeys: ShapeMismatch[] = [];
    for (const [key, target] of own) {
      const source = Object.hasOwn(dict, key) ? dict[key] : undefined;
      if (!source) continue;
      const [want, got] = [target.shape, source.shape];
      if (want.length !== got.length || want.some((size, i) => size !== got[i])) mismatchedKeys.push({ key, checkpoint: got, model: want });
    }
    if (strict) {
      const problems: string[] = [];
      if (mismatchedKeys.length > 0) problems.push(`shape mismatches:\n  ${mismatchedKeys.map(describeMismatch).join('\n  ')}`);
      if (missingKeys.length > 0) problems.push(`missing keys (${missingKeys.length}): ${missingKeys.join(', ')}`);
      if (unexpectedKeys.length > 0) problems.push(`unexpected keys (${unexpectedKeys.length}): ${unexpectedKeys.join(', ')}`);
      if (problems.length > 0) {
        throw new Error(`loadStateDict into ${this.constructor.name} failed:\n${problems.join('\n')}\n(pass { strict: false } to load the matching keys and skip the rest)`);
      }
    }
    const skipped = new Set(mismatchedKeys.map((m) => m.key));
    noGrad(() => {
      for (const [key, target] of own) if (Object.hasOwn(dict, key) && !skipped.has(key)) target.copy_(dict[key]);
    });
    return { missingKeys, unexpectedKeys, mismatchedKeys };
  }

  /** Extra facts for the printed tree, as PyTorch's extra_repr ('64, eps=1e-05, ...'). */
  extraRepr(): string {
    return '';
  }

  /** The module tree as PyTorch prints it: `ResNet(\n  (conv1): Conv2d(3, 64, ...)\n ...)`. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split('\n') : [];
    const childLines = [...this.#children].map(([name, child]) => `(${name}): ${String(child).split('\n').join('\n  ')}`);
    const lines = [...extraLines, ...childLines];
    let body = '';
    if (extraLines.length === 1 && childLines.length === 0) body = extraLines[0];
    else if (lines.length > 0) body = `\n  ${lines.join('\n  ')}\n`;
    return `${this.constructor.name}(${body})`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  train(mode = true): this {
    for (const [, module] of this.namedModules()) module.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Moves or converts every parameter and buffer in place (floating dtypes only for dtype). */
  to(target: DType | string): this {
    const isDtype = /^(float|bfloat|int|uint|bool)/.test(target);
    // Checked before anything moves, so a refused call leaves the module as it was.
    if (isDtype && !/^(float|bfloat)/.test(target)) throw new Error(`Module.to: parameters must be floating point, got ${target}`);
    noGrad(() => {
      for (const [, module] of this.namedModules()) {
        for (const [, parameter] of module.#parameters) {
          if (!parameter) continue;
          const requiresGrad = parameter.requiresGrad;
          parameter.replaceWith(parameter.to(isDtype ? { dtype: target as DType } : { device: target }));
          if (requiresGrad) native.setRequiresGrad(parameter.handle, true);
        }
        for (const [, entry] of module.#buffers) {
          const tensor = entry.tensor;
          if (!tensor) continue;
          const floating = tensor.dtype.startsWith('float') || tensor.dtype === 'bfloat16';
          if (isDtype && !floating) continue;
          tensor.replaceWith(tensor.to(isDtype ? { dtype: target as DType } : { device: target }));
        }
      }
    });
    return this;
  }

  /** Calls `fn` on every module, children first (as PyTorch's apply). */
  apply(fn: (module: Module<unknown, unknown>) => void): this {
    for (const [, child] of this.#children) child.apply(fn);
    fn(this as unknown as Module<unknown, unknown>);
    return this;
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const parameter of this.parameters()) parameter.zeroGrad();
  }

  /** Frees every parameter and buffer; the module cannot be used afterwards. */
  dispose(): void {
    for (const parameter of this.parameters()) parameter.dispose();
    for (const buffer of this.buffers()) buffer.dispose();
  }

  /** Number of parameter elements (trainable only with `trainableOnly`). */
  countParameters(options: { trainableOnly?: boolean } = {}): number {
    let total = 0;
    for (const parameter of this.parameters()) if (!options.trainableOnly || parameter.requiresGrad) total += parameter.numel;
    return total;
  }
}

export function describeMismatch(mismatch: ShapeMismatch): string {
  return `${mismatch.key}: checkpoint has [${mismatch.checkpoint.join(', ')}], model expects [${mismatch.model.join(', ')}]`;
}
