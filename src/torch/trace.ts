// libtorch's tracer from TypeScript: start a trace, name the module scopes ops run in,
// and end it with the recorded graph as plain objects. tools/graph.ts builds on this.
import { native, type NativeHandle } from '../native.js';
import type { Tensor } from './tensor.js';

/** One argument of a traced op: another value, a constant, or a list of either. */
export interface RawArgument {
  /** The schema's name for the argument ('input', 'weight', 'stride', ...). */
  name?: string;
  ref?: number;
  value?: unknown;
  list?: RawArgument[];
}
export interface RawValue {
  id: number;
  shape?: number[];
  /** libtorch's ScalarType code. */
  dtype?: number;
  /** The type of a value that is not a tensor. */
  type?: string;
}
export interface RawNode {
  /** 'aten::_convolution', 'aten::relu_', 'prim::ListUnpack', ... */
  op: string;
  /** Dotted module path the op ran in ('' for the model itself). */
  scope: string;
  args: RawArgument[];
  outputs: RawValue[];
}
export interface RawGraph {
  /** The traced inputs first, then each named tensor in the order given. */
  inputs: RawValue[];
  nodes: RawNode[];
  outputs: RawArgument[];
  /** Tensors baked into the graph as constants, by the key an argument's `{ tensor }` names. */
  constants: Record<string, NativeHandle>;
}

let depth = 0;

/** True while a trace records (Module.call then names the scope of its ops). */
export function isTracing(): boolean {
  return depth > 0;
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
 * (parameters and buffers) become named graph inputs instead of baked-in constants.
 * `fn` returns the tensors that are the graph's outputs.
 */
export function traceGraph(inputs: Tensor[], named: [string, Tensor][], fn: () => Tensor[]): RawGraph {
  if (depth > 0) throw new Error('traceGraph: a trace is already in progress; traces cannot nest');
  native.traceBegin(
    inputs.map((t) => t.handle),
    named.map(([, t]) => t.handle),
    named.map(([name]) => name),
  );
  depth++;
  let outputs: Tensor[];
  try {
    outputs = fn();
  } catch (error) {
    native.traceAbandon();
    throw error;
  } finally {
    depth--;
  }
  return native.traceEnd(outputs.map((t) => t.handle)) as RawGraph;
}
