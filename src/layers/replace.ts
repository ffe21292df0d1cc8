// Swapping one child module for another: the registration (state-dict keys, hooks,
// summaries) and every field of the parent that pointed at the old child.
import type { Module } from '../nn/module.js';

type AnyModule = Module<unknown, unknown>;

/** Registers `replacement` under `name` and points the parent's fields (or array slots) that held `old` at it. */
export function replaceChild(parent: AnyModule, name: string, old: AnyModule | undefined, replacement: AnyModule): void {
  parent.registerModule(name, replacement);
  if (!old) return;
  const fields = parent as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value === old) fields[key] = replacement;
    else if (Array.isArray(value)) value.forEach((item, i) => item === old && (value[i] = replacement));
  }
}
