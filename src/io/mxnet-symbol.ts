// MXNet's symbol file (`prefix-symbol.json`, Symbol.tojson): the graph as a list of
// nodes {op, name, attrs, inputs: [[node, output, version], ...]} in topological order,
// variables having op 'null', and `heads` naming the outputs. Attributes are strings
// ("(3, 3)", "True", "512"); files from MXNet before 1.0 call them `param` or `attr`.
import { readFileSync } from 'node:fs';
import { CheckpointError } from './errors.js';

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
