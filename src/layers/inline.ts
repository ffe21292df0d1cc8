// Building blocks with a fixed key layout of their own (ConvNormAct, ClassifierHead) can
// also lend their children to a parent: torchvision's blocks keep `conv1`, `bn1`, `relu`
// as direct children, with no wrapper module in the state-dict keys. The parent then
// registers the unit's children under the unit's names, and the unit, which stays out
// of the module tree, runs them; passes such as BatchNorm folding find it here.
import { onChildReplaced, type Module } from '../nn/module.js';
import { replaceChild } from './replace.js';

type AnyModule = Module<unknown, unknown>;

/** A unit whose children may live in another module (its host). */
export interface InlineUnit {
  namedChildren(): Iterable<[string, AnyModule]>;
  /** Set by inlineInto: the unit mirrors later child replacements into its host. */
  host: AnyModule | null;
}

const unitsByHost = new WeakMap<AnyModule, InlineUnit[]>();

/**
 * Registers every child of `unit` in `host` under the same name and records `unit` as
 * inlined there. Returns `unit`, which the host keeps and calls instead of registering it.
 */
export function inlineInto<U extends InlineUnit>(host: AnyModule, unit: U): U {
  if (unit.host) throw new Error('inlineInto: this unit already lends its children to another module');
  for (const [name, child] of unit.namedChildren()) {
    const existing = host.getModule(name);
    if (existing && existing !== child) throw new Error(`inlineInto: the host already has a different child named '${name}'`);
    host.registerModule(name, child);
  }
  unit.host = host;
  unitsByHost.set(host, [...(unitsByHost.get(host) ?? []), unit]);
  return unit;
}

/** The units whose children `host` holds, in the order they were inlined. */
export function inlinedUnits(host: AnyModule): readonly InlineUnit[] {
  return unitsByHost.get(host) ?? [];
}

// A child replaced in a host (model.setSubmodule('fc', ...)) is replaced in the unit that runs it too.
onChildReplaced((host, name, old, replacement) => {
  for (const unit of inlinedUnits(host)) {
    for (const [childName, child] of unit.namedChildren()) {
      if (childName === name && child === old) replaceChild(unit as unknown as AnyModule, name, old, replacement);
    }
  }
});

/** For a unit's own child replacement: swaps the child in the unit and, when inlined, in its host. */
export function replaceUnitChild(unit: AnyModule & InlineUnit, name: string, replacement: AnyModule): void {
  const old = unit.getModule(name);
  replaceChild(unit, name, old, replacement);
  if (unit.host) replaceChild(unit.host, name, old, replacement);
}
