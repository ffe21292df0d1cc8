// libtorch's tracer from TypeScript: start a trace, name the module scopes ops run in,
// and end it with the recorded graph as plain objects. tools/graph/capture.ts builds on this.
import { native } from '../native.js';
import type { Tensor } from './tensor.js';

export type { RawArgument, RawGraph, RawNode, RawValue } from '../native-api.js';
import type { RawGraph } from '../native-api.js';

let depth = 0;
let modulePaths: ReadonlyMap<object, string> = new Map();

/** True while a trace records (Module.call then names the scope of its ops). */
export function isTracing(): boolean {
  return depth > 0;
}

/**
 * The dotted path of `module` in the traced model ('layer1.0.conv1'), or undefined for
 * the model itself and for modules it does not register (their ops go to the caller's
 * scope). The registered path, not the call nesting: a container whose children are
 * called one by one still names them in full.
 */
export function tracedPathOf(module: object): string | undefined {
  const path = modulePaths.get(module);
  return path === '' ? undefined : path;
}

/** Runs `fn` with each op it dispatches recorded under the module scope `name`. */
export function inTraceScope<T>(name: string, fn: () => T): T {
  native.tracePushScope(name);
  try {
    return fn();
  } finally {
    native.tracePopScope();
  }
}

/**
 * Records every aten call `fn` makes on `inputs` into one graph. `named` tensors
 * (parameters and buffers) become named graph inputs instead of baked-in constants;
 * `paths` names the modules whose ops are scoped (Module.call opens the scope).
 * `fn` returns the tensors that are the graph's outputs.
 */
export function traceGraph(inputs: Tensor[], named: [string, Tensor][], fn: () => Tensor[], paths: ReadonlyMap<object, string> = new Map()): RawGraph {
  if (depth > 0) throw new Error('traceGraph: a trace is already in progress; traces cannot nest');
  native.traceBegin(
    inputs.map((t) => t.handle),
    named.map(([, t]) => t.handle),
    named.map(([name]) => name),
  );
  depth++;
  modulePaths = paths;
  let outputs: Tensor[];
  try {
    outputs = fn();
  } catch (error) {
    native.traceAbandon();
    throw error;
  } finally {
    depth--;
    modulePaths = new Map();
  }
  return native.traceEnd(outputs.map((t) => t.handle));
}
