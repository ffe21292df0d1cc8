// Network diagrams: the captured graph laid out by Graphviz compiled to WebAssembly (no
// system Graphviz), as DOT, SVG, or PNG rendered from the SVG by sharp (no browser).
import { extname } from 'node:path';
import { Graphviz } from '@hpcc-js/wasm-graphviz';
import sharp from 'sharp';
import { writeFileAtomic } from '../../io/atomic.js';
import type { Module } from '../../nn/module.js';
import type { Tensor } from '../../torch/tensor.js';
import { captureGraph, disposeGraph } from '../graph/capture.js';
import { graphToDot } from './dot.js';
import { DEPTHS, type Depth } from './structure.js';

export type PlotFormat = 'svg' | 'dot' | 'png';
export const PLOT_FORMATS: readonly PlotFormat[] = ['svg', 'dot', 'png'];

export interface PlotOptions {
  /** Input shape [N, C, H, W] traced. */
  input: number[];
  /** 'op' (every op), 'block' (each block one box) or 'stage' (each stage one box); default 'op'. */
  depth?: Depth;
  format?: PlotFormat;
  /** A title above the diagram (default: the model's name). */
  title?: string;
  /** PNG resolution in dots per inch (default 96). */
  dpi?: number;
}

let graphviz: Promise<Graphviz> | undefined;

/** SVG of a DOT text, laid out by Graphviz's dot. */
export async function renderDot(dot: string): Promise<string> {
  graphviz ??= Graphviz.load();
  return (await graphviz).dot(dot, 'svg');
}

/** A PNG of an SVG, rendered by sharp (librsvg). */
export async function svgToPng(svg: string, dpi = 96): Promise<Uint8Array> {
  return new Uint8Array(await sharp(Buffer.from(svg), { density: dpi, limitInputPixels: false }).flatten({ background: '#ffffff' }).png().toBuffer());
}

function modelTitle(model: object): string {
  const name = (model as { name?: unknown }).name;
  return typeof name === 'string' ? name : model.constructor.name;
}

/** The model's DOT text at `depth`, from one traced forward pass. */
export function modelDot(model: Module<Tensor, unknown>, options: PlotOptions): string {
  const depth = options.depth ?? 'op';
  if (!DEPTHS.includes(depth)) throw new Error(`plot: depth must be one of ${DEPTHS.join(', ')}, got '${String(depth)}'`);
  const graph = captureGraph(model, { input: options.input });
  try {
    return graphToDot(graph, { depth, title: `${options.title ?? modelTitle(model)}  (${options.input.join('×')})` });
  } finally {
    disposeGraph(graph);
  }
}

/** The diagram as DOT or SVG text, or PNG bytes (format default 'svg'). */
export async function plot(model: Module<Tensor, unknown>, options: PlotOptions): Promise<string | Uint8Array> {
  const format = options.format ?? 'svg';
  if (!PLOT_FORMATS.includes(format)) throw new Error(`plot: format must be one of ${PLOT_FORMATS.join(', ')}, got '${String(format)}'`);
  const dot = modelDot(model, options);
  if (format === 'dot') return dot;
  const svg = await renderDot(dot);
  return format === 'svg' ? svg : svgToPng(svg, options.dpi);
}

/** The format a file name asks for: its extension, .svg, .dot (.gv) or .png. */
export function plotFormatOf(file: string): PlotFormat {
  const extension = extname(file).toLowerCase().slice(1);
  if (extension === 'gv') return 'dot';
  if ((PLOT_FORMATS as readonly string[]).includes(extension)) return extension as PlotFormat;
  throw new Error(`plot: cannot tell the format of '${file}'; name it .svg, .dot or .png`);
}

/** plot() written to `file`, in the format its extension names. */
export async function savePlot(model: Module<Tensor, unknown>, file: string, options: Omit<PlotOptions, 'format'>): Promise<void> {
  const rendered = await plot(model, { ...options, format: plotFormatOf(file) });
  writeFileAtomic(file, typeof rendered === 'string' ? new TextEncoder().encode(rendered) : rendered);
}
