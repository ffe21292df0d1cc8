// MXNet's symbol file (`prefix-symbol.json`, Symbol.tojson): the graph as a list of
// nodes {op, name, attrs, inputs: [[node, output, version], ...]} in topological order,
// variables having op 'null', and `heads` naming the outputs. Attributes are strings
// ("(3, 3)", "True", "512"); files from MXNet before 1.0 call them `param` or `attr`.
import { existsSync, readFileSync } from 'node:fs';
import { CheckpointError } from './errors.js';
import { loadMxnetParams } from './mxnet-params.js';
import type { StateDict } from './types.js';

export interface MxnetNode {
  op: string;
  name: string;
  attrs: Record<string, string>;
  /** Indices of the input nodes, in order. */
  inputs: number[];
}

export interface MxnetSymbol {
  nodes: MxnetNode[];
  /** Indices of the output nodes. */
  heads: number[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringAttrs(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new CheckpointError(`${where}: attributes are not an object`);
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw new CheckpointError(`${where}: attribute '${key}' is not a string`);
    Object.defineProperty(out, key, { value: item, enumerable: true });
  }
  return out;
}

function nodeIndex(entry: unknown, count: number, where: string): number {
  const index = Array.isArray(entry) ? entry[0] : undefined;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new CheckpointError(`${where}: ${JSON.stringify(entry)} does not name one of the ${count} nodes`);
  }
  return index;
}

/** Parses a symbol file's text; anything that is not such a graph is a CheckpointError. */
export function parseMxnetSymbol(text: string, source = 'symbol JSON'): MxnetSymbol {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(`${source}: not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(json) || !Array.isArray(json.nodes) || !Array.isArray(json.heads)) {
    throw new CheckpointError(`${source}: not an MXNet symbol file (expected an object with 'nodes' and 'heads' lists)`);
  }
  const raw = json.nodes as unknown[];
  const nodes = raw.map((node, i): MxnetNode => {
    const where = `${source}: node ${i}`;
    if (!isObject(node) || typeof node.op !== 'string' || typeof node.name !== 'string' || !Array.isArray(node.inputs)) {
      throw new CheckpointError(`${where} is not {op, name, inputs}`);
    }
    const attrs = { ...stringAttrs(node.param, where), ...stringAttrs(node.attr, where), ...stringAttrs(node.attrs, where) };
    // Inputs come before the node that reads them.
    const inputs = node.inputs.map((entry) => nodeIndex(entry, i, `${where} ('${node.name}') input`));
    return { op: node.op, name: node.name, attrs, inputs };
  });
  const heads = (json.heads as unknown[]).map((entry) => nodeIndex(entry, nodes.length, `${source}: head`));
  return { nodes, heads };
}

export function loadMxnetSymbol(path: string): MxnetSymbol {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CheckpointError(`${path}: cannot read the symbol file (${(error as Error).message})`);
  }
  return parseMxnetSymbol(text, path);
}

/** `prefix-symbol.json` for `prefix-0000.params` (mx.model.save_checkpoint's names). */
export function symbolPathFor(paramsPath: string): string {
  return paramsPath.replace(/-\d+\.params$/i, '').replace(/\.params$/i, '') + '-symbol.json';
}

/** "(3, 3)" -> [3, 3]; "512" -> [512]. */
export function attrNumbers(value: string | undefined): number[] {
  return value === undefined ? [] : (value.match(/-?\d+/g) ?? []).map(Number);
}

/** The operators of a symbol by name, for reading a configuration back from it. */
export class SymbolIndex {
  readonly byName = new Map<string, MxnetNode>();
  constructor(
    readonly symbol: MxnetSymbol,
    readonly source: string,
    /** What the symbol should be ('an InsightFace fresnet'), for messages. */
    readonly kind: string,
  ) {
    for (const node of symbol.nodes) if (node.op !== 'null') this.byName.set(node.name, node);
  }
  node(name: string): MxnetNode | undefined {
    return this.byName.get(name);
  }
  require(name: string, what: string): MxnetNode {
    const node = this.byName.get(name);
    if (!node) throw new CheckpointError(`${this.source}: no '${name}' node (${what}); is this ${this.kind} symbol?`);
    return node;
  }
  inputName(node: MxnetNode, index = 0): string | undefined {
    const input = node.inputs[index];
    return input === undefined ? undefined : this.symbol.nodes[input].name;
  }
  /** Whether some node of `op` reads the node named `name`. */
  readBy(name: string, op: string): boolean {
    return this.symbol.nodes.some((node) => node.op === op && node.inputs.some((i) => this.symbol.nodes[i].name === name));
  }
  /** Units per stage, from the `stage{i}_unit{j}_*` operator names; `stages` fixes their count (default: as many as named). */
  stageUnits(stages?: number): number[] {
    const found = new Map<number, number>();
    for (const name of this.byName.keys()) {
      const match = /^stage(\d+)_unit(\d+)_/.exec(name);
      if (!match) continue;
      const [stage, unit] = [Number(match[1]), Number(match[2])];
      if (stage < 1 || (stages !== undefined && stage > stages)) throw new CheckpointError(`${this.source}: node '${name}' is in stage ${stage}; expected stages 1 to ${stages}`);
      found.set(stage, Math.max(found.get(stage) ?? 0, unit));
    }
    const count = stages ?? Math.max(0, ...found.keys());
    const units = Array.from({ length: count }, (_, i) => found.get(i + 1) ?? 0);
    if (units.length === 0 || units.some((n) => n === 0)) throw new CheckpointError(`${this.source}: stage units ${JSON.stringify(units)}: every stage needs units (stageN_unitM_* nodes)`);
    return units;
  }
}

/**
 * The two files of an MXNet checkpoint: `prefix-symbol.json` beside `prefix-0000.params`
 * and the weights. The caller frees `params`. `example` names a model that would not need
 * the symbol, for the message when it is missing.
 */
export function readMxnetCheckpoint(paramsPath: string, example: string): { symbol: MxnetSymbol; symbolPath: string; params: StateDict } {
  const symbolPath = symbolPathFor(paramsPath);
  if (!existsSync(symbolPath)) {
    throw new CheckpointError(`${paramsPath}: the configuration is read from ${symbolPath}, which does not exist; name a registered model (${example}) or give the options (--model-options)`);
  }
  const symbol = loadMxnetSymbol(symbolPath);
  return { symbol, symbolPath, params: loadMxnetParams(paramsPath) };
}

/**
 * Builds a symbol file's graph node by node, as Symbol.tojson writes it: variables are
 * 'null' nodes, an operator's inputs are [node, output, version] entries, `arg_nodes`
 * lists the variables, `node_row_ptr` counts each node's outputs (BatchNorm has 3). The
 * entries of auxiliary states (BatchNorm's moving statistics) have version 1, as the
 * operator mutates them.
 */
export class MxnetSymbolWriter {
  readonly nodes: { op: string; name: string; attrs?: Record<string, string>; inputs: [number, number, number][] }[] = [];
  readonly #autoNames = new Map<string, number>();

  variable(name: string): number {
    this.nodes.push({ op: 'null', name, inputs: [] });
    return this.nodes.length - 1;
  }

  /** `hint` + a counter, as MXNet names an unnamed operator ('pooling0', '_plus3'). */
  autoName(hint: string): string {
    const index = this.#autoNames.get(hint) ?? 0;
    this.#autoNames.set(hint, index + 1);
    return `${hint}${index}`;
  }

  /** An operator reading `inputs` (node indices), then its own variables `name_<param>`, then its auxiliary states `name_<aux>`. */
  op(op: string, name: string, inputs: number[], attrs: Record<string, string>, params: string[] = [], aux: string[] = []): number {
    const entries: [number, number, number][] = [...inputs, ...params.map((param) => this.variable(`${name}_${param}`))].map((i) => [i, 0, 0]);
    for (const state of aux) entries.push([this.variable(`${name}_${state}`), 0, 1]);
    this.nodes.push({ op, name, attrs: Object.keys(attrs).length > 0 ? attrs : undefined, inputs: entries });
    return this.nodes.length - 1;
  }

  toJSON(head: number): object {
    const outputs: Record<string, number> = { BatchNorm: 3, Dropout: 2 };
    const rowPtr = [0];
    for (const node of this.nodes) rowPtr.push(rowPtr[rowPtr.length - 1] + (outputs[node.op] ?? 1));
    return {
      nodes: this.nodes.map(({ op, name, attrs, inputs }) => (attrs ? { op, name, attrs, inputs } : { op, name, inputs })),
      arg_nodes: this.nodes.flatMap((node, i) => (node.op === 'null' ? [i] : [])),
      node_row_ptr: rowPtr,
      heads: [[head, 0, 0]],
      attrs: { mxnet_version: ['int', 10600] },
    };
  }
}

/** "(3, 3)", as MXNet writes a shape attribute. */
export const tupleAttr = (values: number[]) => `(${values.join(', ')})`;
