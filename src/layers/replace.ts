// Swapping one child module for another: the registration (state-dict keys, hooks,
// summaries) and every field of the parent that pointed at the old child.
import type { Module } from '../nn/module.js';

type AnyModule = Module<unknown, unknown>;

/** Registers `replacement` under `name` and points the parent's fields (or array slots) that held `old` at it. */
export function replaceChild(parent: AnyModule, name: string, old: AnyModule | undefined, replacement: AnyModule): void {
  if (old && parent.getModule(name) === old) parent.setSubmodule(name, replacement);
  else parent.registerModule(name, replacement);
}
