// What a diagram groups: blocks (modules that merge branches: a residual add, a dense
// concatenation, a fractal mean join) and stages (the modules that hold blocks), found
// from the captured graph alone, so every family is drawn the same way.
import type { GraphOp, ModelGraph } from '../graph/capture.js';

export type Depth = 'op' | 'block' | 'stage';
export const DEPTHS: readonly Depth[] = ['op', 'block', 'stage'];

const parentOf = (path: string): string => (path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '');

/** Prefixes of a dotted path, shortest first: 'a.b.c' -> a, a.b, a.b.c. */
function prefixes(path: string): string[] {
  if (path === '') return [];
  const parts = path.split('.');
  return parts.map((_, i) => parts.slice(0, i + 1).join('.'));
}

/** An op that joins two or more computed tensors: where branches meet. */
export function isMerge(op: GraphOp, graph: ModelGraph): boolean {
  const computed = op.inputs.filter((id) => !graph.weights.has(id));
  if (op.category === 'concat') return computed.length >= 2;
  if (op.category === 'arithmetic') return op.label === 'Add' && computed.length === 2;
  return false;
}

export interface Structure {
  /** The block each op belongs to ('' when none). */
  blockOf: (op: GraphOp) => string;
  /** The stage holding a block (its parent module), '' for a block directly under the model. */
  stageOf: (block: string) => string;
  blocks: Set<string>;
}

/**
 * Blocks are the innermost modules that merge branches (a residual block's add, a dense
 * layer's concatenation); a merging module that holds blocks (a dense block's final
 * concatenation) is a stage, and its own ops are drawn inside it.
 */
export function findStructure(graph: ModelGraph): Structure {
  const merging = new Set<string>();
  for (const op of graph.ops) if (isMerge(op, graph) && op.path !== '') merging.add(op.path);
  const blocks = new Set([...merging].filter((path) => ![...merging].some((other) => other !== path && other.startsWith(`${path}.`))));
  const blockOf = (op: GraphOp) => prefixes(op.path).find((prefix) => blocks.has(prefix)) ?? '';
  return { blockOf, stageOf: parentOf, blocks };
}
