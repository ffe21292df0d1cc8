// A captured graph as Graphviz DOT: ops (or whole blocks, or whole stages) as boxes,
// tensor shapes on the edges, shortcuts drawn dashed beside the branch they skip, and
// blocks and stages as clusters.
import type { GraphOp, GraphValue, ModelGraph } from '../graph/capture.js';
import type { OpCategory } from '../graph/ops.js';
import { findStructure, isMerge, type Depth } from './structure.js';

const fills: Record<OpCategory, string> = {
  conv: '#dbeafe',
  norm: '#fef9c3',
  activation: '#fee2e2',
  pool: '#dcfce7',
  linear: '#ede9fe',
  arithmetic: '#f3f4f6',
  concat: '#fce7f3',
  reduce: '#fce7f3',
  reshape: '#f3f4f6',
  slice: '#f3f4f6',
  pad: '#f3f4f6',
  identity: '#ffffff',
};

// Helvetica's metrics size the boxes (the WebAssembly Graphviz knows no other sans
// font); Liberation Sans has the same metrics where Helvetica and Arial are missing.
const FONT = '"Helvetica,Arial,Liberation Sans,sans-serif"';

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const quote = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** 'C×H×W' of a value (the batch left out: it is the same on every edge). */
function shapeText(value: GraphValue | undefined): string {
  if (!value) return '';
  return value.shape.slice(1).join('×') || String(value.shape[0]);
}

function pair(arg: unknown): number[] {
  return Array.isArray(arg) ? (arg as number[]) : typeof arg === 'number' ? [arg, arg] : [];
}

const times = (values: number[]) => (values.length === 2 && values[0] === values[1] ? `${values[0]}×${values[0]}` : values.join('×'));

/** The op's name with the attributes a reader looks for (kernel, stride, channels). */
function opTitle(op: GraphOp, graph: ModelGraph): [title: string, detail: string] {
  const inShape = graph.values.get(op.inputs[0])?.shape ?? [];
  const outShape = op.outputs[0].shape;
  switch (op.category) {
    case 'conv': {
      const weight = graph.values.get((op.args.weight as { ref: number }).ref)!.shape;
      const stride = pair(op.args.stride);
      const groups = Number(op.args.groups ?? 1);
      const strideText = stride.some((s) => s > 1) ? ` /${stride[0]}` : '';
      return [`Conv ${times(weight.slice(2))}${strideText}`, `${inShape[1]}→${outShape[1]}${groups > 1 ? `, ${groups} groups` : ''}`];
    }
    case 'pool': {
      if (op.label.startsWith('Adaptive')) return [op.label, `→ ${times(outShape.slice(2))}`];
      const stride = pair(op.args.stride);
      return [`${op.label} ${times(pair(op.args.kernel_size))}${stride.some((s) => s > 1) ? ` /${stride[0]}` : ''}`, op.args.ceil_mode ? 'ceil' : ''];
    }
    case 'linear':
      return [op.label, `${inShape.at(-1)}→${outShape.at(-1)}`];
    case 'concat':
      return [op.label, `${op.inputs.length} inputs`];
    case 'slice':
      return op.op === 'aten::slice' ? [op.label, `dim ${String(op.args.dim)}, step ${String(op.args.step)}`] : [op.label, `dim ${String(op.args.dim)}`];
    case 'pad':
      return [op.label, `${inShape[1]}→${outShape[1]} ch`];
    default:
      return [op.label, ''];
  }
}

/** For an add of two branches, the input that is the shortcut: the one fewer ops from where the branches forked. */
function shortcutInput(op: GraphOp, graph: ModelGraph, producers: Map<number, GraphOp>): number | undefined {
  const [a, b] = op.inputs.filter((id) => !graph.weights.has(id));
  const hopsFrom = (start: number): Map<number, number> => {
    const hops = new Map<number, number>([[start, 0]]);
    const queue = [start];
    while (queue.length > 0) {
      const id = queue.shift()!;
      for (const next of producers.get(id)?.inputs ?? []) {
        if (graph.weights.has(next) || hops.has(next)) continue;
        hops.set(next, hops.get(id)! + 1);
        queue.push(next);
      }
    }
    return hops;
  };
  const fromA = hopsFrom(a);
  const fromB = hopsFrom(b);
  let best: [number, number] | undefined;
  for (const [id, hopsA] of fromA) {
    const hopsB = fromB.get(id);
    if (hopsB !== undefined && (!best || hopsA + hopsB < best[0] + best[1])) best = [hopsA, hopsB];
  }
  if (!best || best[0] === best[1]) return undefined;
  return best[0] < best[1] ? a : b;
}

interface Unit {
  id: string;
  label: string;
  fill: string;
  shape: 'box' | 'circle';
  /** The stage cluster it is drawn in ('' for none) and, at op depth, the block cluster. */
  stage: string;
  block: string;
}

export interface DotOptions {
  depth: Depth;
  title?: string;
}

export function graphToDot(graph: ModelGraph, options: DotOptions): string {
  const { depth } = options;
  const structure = findStructure(graph);
  const stages = new Set([...structure.blocks].map(structure.stageOf).filter((stage) => stage !== ''));
  const stageOfPath = (path: string): string => {
    const parts = path.split('.');
    for (let i = parts.length; i > 0; i--) if (stages.has(parts.slice(0, i).join('.'))) return parts.slice(0, i).join('.');
    return '';
  };
  // Ops with no effect on values are skipped: their output is their input.
  const alias = new Map<number, number>();
  const source = (id: number): number => (alias.has(id) ? source(alias.get(id)!) : id);
  const producers = new Map<number, GraphOp>();
  const unitOfOp = new Map<GraphOp, Unit>();
  const units = new Map<string, Unit>();
  const typeOf = (path: string) => graph.moduleTypes.get(path) ?? '';
  const blockCount = (stage: string) => [...structure.blocks].filter((block) => structure.stageOf(block) === stage).length;
  const blockTypes = (stage: string) => [...new Set([...structure.blocks].filter((block) => structure.stageOf(block) === stage).map(typeOf))].join(', ');

  // The first value entering and the last leaving each block and stage, for their boxes' sizes.
  const spans = new Map<string, { first: number; last: number }>();
  const span = (key: string, op: GraphOp) => {
    const known = spans.get(key);
    const entering = op.inputs.find((id) => !graph.weights.has(id)) ?? op.outputs[0].id;
    spans.set(key, { first: known?.first ?? entering, last: op.outputs[0].id });
  };
  for (const op of graph.ops) {
    const block = structure.blockOf(op);
    if (block) span(`block:${block}`, op);
    const stage = block ? structure.stageOf(block) : stageOfPath(op.path);
    if (stage) span(`stage:${stage}`, op);
  }
  const spanText = (key: string): string => {
    const known = spans.get(key);
    if (!known) return '';
    const [a, b] = [graph.values.get(known.first)!.shape, graph.values.get(known.last)!.shape];
    const size = a.length === 4 && b.length === 4 && a[2] !== b[2] ? `, ${a[2]}→${b[2]} px` : '';
    return a.length > 1 && b.length > 1 ? `${a[1]}→${b[1]} ch${size}` : '';
  };

  graph.ops.forEach((op, index) => {
    if (op.category === 'identity') {
      alias.set(op.outputs[0].id, op.inputs[0]);
      return;
    }
    for (const output of op.outputs) producers.set(output.id, op);
    const block = structure.blockOf(op);
    const stage = block ? structure.stageOf(block) : stageOfPath(op.path);
    let unit: Unit;
    if (depth === 'stage' && stage) {
      unit = { id: `stage:${stage}`, label: `<b>${escape(stage)}</b><br/><font point-size="9">${blockCount(stage)} × ${escape(blockTypes(stage))}<br/>${escape(spanText(`stage:${stage}`))}</font>`, fill: '#e0e7ff', shape: 'box', stage: '', block: '' };
    } else if (depth !== 'op' && block) {
      unit = { id: `block:${block}`, label: `<b>${escape(block)}</b><br/><font point-size="9">${escape(typeOf(block))}<br/>${escape(spanText(`block:${block}`))}</font>`, fill: '#e0e7ff', shape: 'box', stage, block: '' };
    } else {
      const [title, detail] = opTitle(op, graph);
      const round = op.category === 'arithmetic' && isMerge(op, graph);
      const lines = [`<b>${escape(round ? (op.label === 'Add' ? '+' : op.label) : title)}</b>`];
      const notes = [detail, op.inPlace && !round ? 'in place' : ''].filter(Boolean).join(', ');
      if (notes) lines.push(`<font point-size="9">${escape(notes)}</font>`);
      if (op.path && op.path !== block && !round) lines.push(`<font point-size="8" color="#6b7280">${escape(op.path)}</font>`);
      unit = { id: `op${index}`, label: lines.join('<br/>'), fill: fills[op.category], shape: round ? 'circle' : 'box', stage, block };
    }
    units.set(unit.id, units.get(unit.id) ?? unit);
    unitOfOp.set(op, units.get(unit.id)!);
  });

  const unitOfValue = (id: number): string | undefined => {
    const origin = source(id);
    if (origin === graph.input.id) return 'input';
    const producer = producers.get(origin);
    return producer ? unitOfOp.get(producer)!.id : undefined;
  };

  const edges = new Map<string, string>();
  for (const op of graph.ops) {
    const unit = unitOfOp.get(op);
    if (!unit) continue;
    const shortcut = op.category === 'arithmetic' && isMerge(op, graph) ? shortcutInput(op, graph, producers) : undefined;
    for (const id of op.inputs) {
      if (graph.weights.has(id)) continue;
      const from = unitOfValue(id);
      if (!from || from === unit.id) continue;
      const key = `${from}->${unit.id}:${source(id)}`;
      if (edges.has(key)) continue;
      const label = shapeText(graph.values.get(source(id)));
      const style = shortcut !== undefined && source(shortcut) === source(id) ? ', style=dashed, color="#2563eb", fontcolor="#2563eb", penwidth=1.6' : '';
      edges.set(key, `  ${quote(from)} -> ${quote(unit.id)} [label=${quote(` ${label}`)}${style}];`);
    }
  }
  graph.outputs.forEach((output, i) => {
    const from = unitOfValue(output.id);
    if (from) edges.set(`out${i}`, `  ${quote(from)} -> ${quote(`output${i}`)} [label=${quote(` ${shapeText(output)}`)}];`);
  });

  const lines: string[] = [
    'digraph model {',
    `  graph [rankdir=TB, fontname=${FONT}, fontsize=11, nodesep=0.25, ranksep=0.3, newrank=true${options.title ? `, label=${quote(options.title)}, labelloc=t, fontsize=16` : ''}];`,
    `  node [shape=box, style="rounded,filled", fontname=${FONT}, fontsize=10, margin="0.12,0.04", height=0.3, color="#6b7280"];`,
    `  edge [fontname=${FONT}, fontsize=8, color="#4b5563", fontcolor="#374151", arrowsize=0.6];`,
    `  "input" [label=<<b>input</b><br/><font point-size="9">${escape(graph.input.shape.join('×'))}</font>>, fillcolor="#f9fafb"];`,
  ];
  graph.outputs.forEach((output, i) => lines.push(`  "output${i}" [label=<<b>output</b><br/><font point-size="9">${escape(output.shape.join('×'))}</font>>, fillcolor="#f9fafb"];`));

  const declare = (unit: Unit, indent: string) =>
    `${indent}${quote(unit.id)} [label=<${unit.label}>, fillcolor="${unit.fill}"${unit.shape === 'circle' ? ', shape=circle, width=0.3, fixedsize=false, margin=0.02' : ''}];`;
  const all = [...units.values()];
  const clusterName = (kind: string, path: string) => quote(`cluster_${kind}_${path}`);
  for (const stage of [...new Set(all.map((unit) => unit.stage))]) {
    const members = all.filter((unit) => unit.stage === stage);
    const indent = stage ? '    ' : '  ';
    if (stage) lines.push(`  subgraph ${clusterName('stage', stage)} {`, `    label=<<b>${escape(stage)}</b>>; style="rounded"; color="#9ca3af"; fontsize=11; labeljust=l;`);
    for (const block of [...new Set(members.map((unit) => unit.block))]) {
      const inBlock = members.filter((unit) => unit.block === block);
      if (block) {
        lines.push(`${indent}subgraph ${clusterName('block', block)} {`, `${indent}  label=<${escape(block)}&nbsp;&nbsp;<font color="#6b7280">${escape(typeOf(block))}</font>>; style="rounded,filled"; fillcolor="#f9fafb"; color="#d1d5db"; fontsize=10; labeljust=l;`);
        for (const unit of inBlock) lines.push(declare(unit, `${indent}  `));
        lines.push(`${indent}}`);
      } else {
        for (const unit of inBlock) lines.push(declare(unit, indent));
      }
    }
    if (stage) lines.push('  }');
  }
  lines.push(...edges.values(), '}');
  return lines.join('\n');
}
