// Module: the base of every layer and model. Parameters, buffers and child modules are
// registered by name, giving PyTorch's dotted state-dict keys (`layer1.0.conv1.weight`).
import { native } from '../native.js';
import type { StateDict } from '../io/types.js';
import type { DType } from '../torch/dtype.js';
import { Tensor } from '../torch/tensor.js';
import { noGrad } from '../torch/runtime.js';
import { inTraceScope, isTracing, tracedPathOf } from '../torch/trace.js';
import { annotateForwardError } from './errors.js';
import { Parameter } from './parameter.js';

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export type ForwardHook = (module: Module<unknown, unknown>, input: unknown, output: unknown) => void;

export abstract class Module<In = Tensor, Out = Tensor> {
  training = true;
  #parameters = new Map<string, Parameter | null>();
  #buffers = new Map<string, { tensor: Tensor | null; persistent: boolean }>();
  #children = new Map<string, Module<unknown, unknown>>();
  #nameInParent: string | undefined;
  #forwardHooks: ForwardHook[] = [];

  abstract forward(input: In): Out;

  /**
   * Runs forward(); a failure names this module's path and the input shape. While a
   * graph is traced, the ops it runs are recorded under this module's path.
   */
  call(input: In): Out {
    let output: Out;
    try {
      const path = isTracing() ? tracedPathOf(this) : undefined;
      output = path !== undefined ? inTraceScope(path, () => this.forward(input)) : this.forward(input);
    } catch (error) {
      throw annotateForwardError(error, this.constructor.name, this.#nameInParent, input);
    }
    for (const hook of this.#forwardHooks) hook(this as unknown as Module<unknown, unknown>, input, output);
    return output;
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

  /**
   * Parameters and persistent buffers by dotted name, in registration order (PyTorch's
   * order). A shared module or parameter appears under every path, as in PyTorch.
   */
  stateDict(): StateDict {
    const dict: StateDict = {};
    for (const [path, module] of this.#allModules('')) {
      const at = (name: string) => (path ? `${path}.${name}` : name);
      for (const [name, parameter] of module.#parameters) if (parameter) dict[at(name)] = parameter;
      for (const [name, { tensor, persistent }] of module.#buffers) if (tensor && persistent) dict[at(name)] = tensor;
    }
    return dict;
  }

  /**
   * Copies values from `dict` into this module's parameters and buffers. Shapes must
   * match; with `strict` (the default) missing and unexpected keys are errors too.
   */
  loadStateDict(dict: StateDict, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((key) => !Object.hasOwn(dict, key));
    const unexpectedKeys = Object.keys(dict).filter((key) => !Object.hasOwn(own, key));
    const mismatched: string[] = [];
    for (const [key, target] of Object.entries(own)) {
      const source = Object.hasOwn(dict, key) ? dict[key] : undefined;
      if (!source) continue;
      const [want, got] = [target.shape, source.shape];
      if (want.length !== got.length || want.some((size, i) => size !== got[i])) {
        mismatched.push(`${key}: checkpoint has [${got.join(', ')}], model expects [${want.join(', ')}]`);
      }
    }
    const problems: string[] = [];
    if (mismatched.length > 0) problems.push(`shape mismatches:\n  ${mismatched.join('\n  ')}`);
    if (strict && missingKeys.length > 0) problems.push(`missing keys (${missingKeys.length}): ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length > 0) problems.push(`unexpected keys (${unexpectedKeys.length}): ${unexpectedKeys.join(', ')}`);
    if (problems.length > 0) {
      throw new Error(`loadStateDict into ${this.constructor.name} failed:\n${problems.join('\n')}${strict ? '\n(pass { strict: false } to load matching keys only)' : ''}`);
    }
    noGrad(() => {
      for (const [key, target] of Object.entries(own)) if (dict[key]) target.copy_(dict[key]);
    });
    return { missingKeys, unexpectedKeys };
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
