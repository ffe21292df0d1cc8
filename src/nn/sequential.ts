import type { Tensor } from '../torch/tensor.js';
import { Module } from './module.js';

type AnyModule = Module<Tensor, Tensor>;

/**
 * Children run in order. Unnamed children are keyed "0", "1", ... as in PyTorch. The
 * order is the registration order, so setSubmodule() replaces a child in place.
 */
export class Sequential extends Module {
  #ordered(): AnyModule[] {
    return this.children() as AnyModule[];
  }

  constructor(...modules: AnyModule[]) {
    super();
    modules.forEach((module, index) => this.append(module, String(index)));
  }

  /** A Sequential with named children (PyTorch's OrderedDict form: `features.conv0`). */
  static fromEntries(entries: [string, AnyModule][]): Sequential {
    const sequential = new Sequential();
    for (const [name, module] of entries) sequential.append(module, name);
    return sequential;
  }

  append(module: AnyModule, name = String(this.children().length)): this {
    this.registerModule(name, module);
    return this;
  }

  get length(): number {
    return this.children().length;
  }
  at(index: number): AnyModule {
    const ordered = this.#ordered();
    return ordered[index < 0 ? index + ordered.length : index];
  }
  [Symbol.iterator](): Iterator<AnyModule> {
    return this.#ordered()[Symbol.iterator]();
  }

  forward(input: Tensor): Tensor {
    let x = input;
    for (const module of this.#ordered()) x = module.call(x);
    return x;
  }
}
