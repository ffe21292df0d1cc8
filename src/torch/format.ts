// Printing a tensor's values as PyTorch's repr does (torch/_tensor_str.py with the default
// print options): four decimals or scientific notation chosen from the values, columns
// of one width, 80-character lines, and for more than 1000 elements only the first and
// last three along each dimension around '...'.
import { cat } from './functional.js';
import { tidy } from './scope.js';
import type { Tensor } from './tensor.js';

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;
const LINE_WIDTH = 80;

type Values = number[] | boolean[];

/**
 * Values in C order with their shape, indexable along the first dimension. An abbreviated
 * print holds only the edges: `shape` is what `values` holds (at most six along each
 * dimension), `fullShape` the tensor's, which decides where '...' goes.
 */
interface Block {
  shape: number[];
  fullShape: number[];
  values: (number | boolean)[];
}

function rows(block: Block): Block[] {
  const [size, ...rest] = block.shape;
  const stride = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: size }, (_, i) => ({ shape: rest, fullShape: block.fullShape.slice(1), values: block.values.slice(i * stride, (i + 1) * stride) }));
}

/** The first and last EDGE_ITEMS along every longer dimension (PyTorch's get_summarized_data), so a huge tensor is never copied whole. */
function edges(tensor: Tensor): Tensor {
  return tidy(() => {
    let t = tensor;
    tensor.shape.forEach((size, dim) => {
      if (size > 2 * EDGE_ITEMS) t = cat([t.narrow(dim, 0, EDGE_ITEMS), t.narrow(dim, size - EDGE_ITEMS, EDGE_ITEMS)], dim);
    });
    return t === tensor ? t.clone() : t;
  });
}

/** Python's '{:.Ne}': at least two exponent digits. */
function exponential(value: number, digits: number): string {
  if (!Number.isFinite(value)) return nonFinite(value);
  return value.toExponential(digits).replace(/e([+-])(\d)$/, 'e$10$2');
}

function nonFinite(value: number): string {
  return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : nonFinite(value);
}

class Formatter {
  #floating: boolean;
  #intMode = true;
  #sciMode = false;
  width = 1;

  constructor(values: (number | boolean)[], floating: boolean) {
    this.#floating = floating;
    if (!floating) {
      for (const value of values) this.width = Math.max(this.width, this.#plain(value).length);
      return;
    }
    const finite = (values as number[]).filter((v) => Number.isFinite(v) && v !== 0);
    if (finite.length === 0) return;
    const magnitudes = finite.map(Math.abs);
    const min = Math.min(...magnitudes);
    const max = Math.max(...magnitudes);
    this.#intMode = finite.every((v) => v === Math.ceil(v));
    const wide = max / min > 1000 || max > 1e8;
    this.#sciMode = this.#intMode ? wide : wide || min < 1e-4;
    for (const value of finite) {
      const text = this.#sciMode ? exponential(value, PRECISION) : this.#intMode ? `${value.toFixed(0)}.` : value.toFixed(PRECISION);
      this.width = Math.max(this.width, text.length);
    }
  }

  #plain(value: number | boolean): string {
    return typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value);
  }

  format(value: number | boolean): string {
    let text: string;
    if (!this.#floating) text = this.#plain(value);
    else if (this.#sciMode) text = exponential(value as number, PRECISION);
    else if (this.#intMode) text = Number.isFinite(value) ? `${(value as number).toFixed(0)}.` : nonFinite(value as number);
    else text = fixed(value as number, PRECISION);
    return text.padStart(this.width);
  }
}

function vector(block: Block, indent: number, summarize: boolean, formatter: Formatter): string {
  const elementLength = formatter.width + 2;
  const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / elementLength));
  const values = block.values;
  const data =
    summarize && block.fullShape[0] > 2 * EDGE_ITEMS
      ? [...values.slice(0, EDGE_ITEMS).map((v) => formatter.format(v)), ' ...', ...values.slice(values.length - EDGE_ITEMS).map((v) => formatter.format(v))]
      : values.map((v) => formatter.format(v));
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += perLine) lines.push(data.slice(i, i + perLine).join(', '));
  return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
}

function nested(block: Block, indent: number, summarize: boolean, formatter: Formatter): string {
  const dims = block.shape.length;
  if (dims === 0) return formatter.format(block.values[0]);
  if (dims === 1) return vector(block, indent, summarize, formatter);
  const all = rows(block);
  const inner = (b: Block) => nested(b, indent + 1, summarize, formatter);
  const slices =
    summarize && block.fullShape[0] > 2 * EDGE_ITEMS
      ? [...all.slice(0, EDGE_ITEMS).map(inner), '...', ...all.slice(all.length - EDGE_ITEMS).map(inner)]
      : all.map(inner);
  return `[${slices.join(`,${'\n'.repeat(dims - 1)}${' '.repeat(indent + 1)}`)}]`;
}

/** Python's name for a dtype: torch.float32. */
function torchDtype(dtype: string): string {
  return `torch.${dtype}`;
}

function withSuffixes(text: string, suffixes: string[], indent: number): string {
  let out = text;
  let lastLineLength = text.length - text.lastIndexOf('\n') + 1;
  for (const suffix of suffixes) {
    if (lastLineLength + suffix.length + 2 > LINE_WIDTH) {
      out += `,\n${' '.repeat(indent)}${suffix}`;
      lastLineLength = indent + suffix.length;
    } else {
      out += `, ${suffix}`;
      lastLineLength += suffix.length + 2;
    }
  }
  return `${out})`;
}

export interface FormatFacts {
  shape: number[];
  dtype: string;
  device: string;
  requiresGrad: boolean;
  gradFn: string | null;
  /** The values in C order (of the edges only when there are more than 1000); undefined without storage (the meta device). */
  values: Values | undefined;
  /** The shape `values` has, when it holds only the edges. */
  valuesShape?: number[];
}

/** `tensor([...], dtype=..., requires_grad=True)` as PyTorch prints it. */
export function formatTensorFacts(facts: FormatFacts): string {
  const prefix = 'tensor(';
  const indent = prefix.length;
  const suffixes: string[] = [];
  if (facts.device !== 'cpu') suffixes.push(`device='${facts.device}'`);
  const numel = facts.shape.reduce((a, b) => a * b, 1);
  let body: string;
  if (facts.values === undefined) {
    body = '...';
    suffixes.push(`size=(${facts.shape.join(', ')}${facts.shape.length === 1 ? ',' : ''})`);
    if (facts.dtype !== 'float32') suffixes.push(`dtype=${torchDtype(facts.dtype)}`);
  } else if (numel === 0) {
    body = '[]';
    if (facts.shape.length !== 1) suffixes.push(`size=(${facts.shape.join(', ')}${facts.shape.length === 1 ? ',' : ''})`);
    if (facts.dtype !== 'float32') suffixes.push(`dtype=${torchDtype(facts.dtype)}`);
  } else {
    if (!['float32', 'int64', 'bool'].includes(facts.dtype)) suffixes.push(`dtype=${torchDtype(facts.dtype)}`);
    const block: Block = { shape: facts.valuesShape ?? facts.shape, fullShape: facts.shape, values: facts.values };
    const summarize = numel > THRESHOLD;
    const floating = facts.dtype.startsWith('float') || facts.dtype === 'bfloat16';
    const formatter = new Formatter(block.values, floating);
    body = nested(block, indent, summarize, formatter);
  }
  if (facts.gradFn) suffixes.push(`grad_fn=<${facts.gradFn}>`);
  else if (facts.requiresGrad) suffixes.push('requires_grad=True');
  return withSuffixes(prefix + body, suffixes, indent);
}

/** formatTensorFacts for a live tensor. */
export function formatTensor(tensor: Tensor, gradFn: string | null): string {
  const device = tensor.device;
  const hasValues = device !== 'meta';
  let values: Values | undefined;
  let valuesShape: number[] | undefined;
  if (hasValues) {
    const shown = tensor.numel > THRESHOLD ? edges(tensor) : tensor;
    const onCpu = device === 'cpu' ? shown : shown.to('cpu');
    const typed = onCpu.toTypedArray();
    values = tensor.dtype === 'bool' ? Array.from(typed as Uint8Array, (v) => v !== 0) : Array.from(typed as ArrayLike<number | bigint>, Number);
    valuesShape = shown.shape;
    if (onCpu !== tensor) onCpu.dispose();
    if (shown !== tensor) shown.dispose();
  }
  return formatTensorFacts({ shape: tensor.shape, dtype: tensor.dtype, device, requiresGrad: tensor.requiresGrad, gradFn, values, valuesShape });
}
