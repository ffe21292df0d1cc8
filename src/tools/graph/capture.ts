// The graph of one real forward pass, recorded by libtorch's tracer: every aten call
// with its inputs, outputs, shapes, attributes and the module path it ran in. Diagrams
// and the ONNX export both read this one structure.
import type { Module } from '../../nn/module.js';
import { dtypeFromCode, type DType } from '../../torch/dtype.js';
import { randn } from '../../torch/creation.js';
import { noGrad } from '../../torch/runtime.js';
import { tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import { traceGraph, type RawArgument, type RawGraph, type RawValue } from '../../torch/trace.js';
import { isInPlace, OPS, type OpCategory } from './ops.js';

/** A traced argument: a reference to a tensor value, a constant, or a list of either. */
export type ArgValue = { ref: number } | { constant: string } | number | boolean | string | null | ArgValue[];

export interface GraphValue {
  id: number;
  shape: number[];
  dtype: DType;
}

export interface GraphOp {
  /** The qualified aten name: 'aten::_convolution', 'aten::add_'. */
  op: string;
  category: OpCategory;
  label: string;
  /** Writes into its first argument (relu_, add_). */
  inPlace: boolean;
  /** Dotted module path the op ran in, as in state-dict keys ('' for the model itself). */
  path: string;
  /** Arguments by the op's schema names ('input', 'weight', 'stride', ...). */
  args: Record<string, ArgValue>;
  /** The tensor values it reads, in argument order. */
  inputs: number[];
  outputs: GraphValue[];
}

export interface ModelGraph {
  /** The traced input. */
  input: GraphValue;
  /** Parameters and buffers the ops read, by value id, with their state-dict keys. */
  weights: Map<number, { name: string; tensor: Tensor }>;
  ops: GraphOp[];
  outputs: GraphValue[];
  /** Tensors baked into the graph (made before the trace and used inside it), by the key `{ constant }` names. */
  constants: Map<string, Tensor>;
  /** The class of the module at each path ('layer1.0' -> 'BasicBlock'). */
  moduleTypes: Map<string, string>;
  /** Every value's shape and dtype, by id. */
  values: Map<number, GraphValue>;
}

export interface CaptureOptions {
  /** Input shape, [N, C, H, W]. */
  input: number[];
}

type AnyModule = Module<unknown, unknown>;

function graphValue(raw: RawValue, where: string): GraphValue {
  if (!raw.shape || raw.dtype === undefined) throw new Error(`graph capture: ${where} produced a value that is not a tensor (${raw.type ?? 'unknown type'})`);
  return { id: raw.id, shape: raw.shape, dtype: dtypeFromCode(raw.dtype) };
}

function resolveArgument(raw: RawArgument): ArgValue {
  if (raw.ref !== undefined) return { ref: raw.ref };
  if (raw.list) return raw.list.map(resolveArgument);
  const value = raw.value;
  if (value !== null && typeof value === 'object' && 'tensor' in value) return { constant: String((value as { tensor: string }).tensor) };
  return (value ?? null) as ArgValue;
}

function refsIn(arg: ArgValue, into: number[]): void {
  if (Array.isArray(arg)) arg.forEach((item) => refsIn(item, into));
  else if (arg !== null && typeof arg === 'object' && 'ref' in arg) into.push(arg.ref);
}

/** The readable graph of a raw trace; an op outside the op table is an error naming it and its module. */
function buildGraph(raw: RawGraph, named: [string, Tensor][], model: AnyModule): ModelGraph {
  const moduleTypes = new Map<string, string>();
  for (const [path, module] of model.namedModules()) moduleTypes.set(path, module.constructor.name);
  const values = new Map<number, GraphValue>();
  const input = graphValue(raw.inputs[0], 'the input');
  values.set(input.id, input);
  const weights = new Map<number, { name: string; tensor: Tensor }>();
  const ops: GraphOp[] = [];
  for (const node of raw.nodes) {
    const info = OPS.get(node.op);
    const where = node.scope ? `module '${node.scope}' (${moduleTypes.get(node.scope) ?? 'unknown type'})` : 'the model itself';
    if (!info) throw new Error(`graph capture: op '${node.op}' in ${where} has no mapping; the known ops are listed in tools/graph/ops.ts`);
    const args: Record<string, ArgValue> = {};
    const inputs: number[] = [];
    node.args.forEach((arg, i) => {
      const value = resolveArgument(arg);
      args[arg.name ?? `arg${i}`] = value;
      refsIn(value, inputs);
    });
    const outputs = node.outputs.map((output) => graphValue(output, `'${node.op}' in ${where}`));
    for (const output of outputs) values.set(output.id, output);
    ops.push({ op: node.op, category: info.category, label: info.label, inPlace: isInPlace(node.op), path: node.scope, args, inputs, outputs });
  }
  raw.inputs.slice(1).forEach((value, i) => {
    const [name, tensor] = named[i];
    values.set(value.id, graphValue(value, `weight '${name}'`));
    weights.set(value.id, { name, tensor });
  });
  const constants = new Map<string, Tensor>();
  for (const [key, handle] of Object.entries(raw.constants)) constants.set(key, new Tensor(handle).keep());
  return {
    input,
    weights,
    ops,
    outputs: raw.outputs.map((arg) => {
      if (arg.ref === undefined || !values.has(arg.ref)) throw new Error('graph capture: the model returned a constant, not a value computed from its input');
      return values.get(arg.ref)!;
    }),
    constants,
    moduleTypes,
    values,
  };
}

/** The tensors a forward returns: one tensor, or the tensors of an array (feature pyramids). */
function outputTensors(output: unknown): Tensor[] {
  if (output instanceof Tensor) return [output];
  if (Array.isArray(output) && output.every((item) => item instanceof Tensor)) return output;
  throw new Error('graph capture: the model must return a tensor or an array of tensors');
}

/**
 * Runs `model` once in eval mode without autograd on a random input of `options.input`
 * and returns the graph libtorch's tracer recorded. The model's train/eval modes are
 * restored. Free the graph's constants with disposeGraph.
 */
export function captureGraph(model: Module<Tensor, unknown>, options: CaptureOptions): ModelGraph {
  const shape = options.input;
  if (shape.length === 0 || shape.some((size) => !Number.isInteger(size) || size <= 0)) {
    throw new Error(`graph capture: the input shape must be positive integers, got [${shape.join(', ')}]`);
  }
  const root = model as unknown as AnyModule;
  const named: [string, Tensor][] = [...root.namedParameters(), ...root.namedBuffers()];
  const modes = new Map<AnyModule, boolean>();
  for (const [, module] of root.namedModules()) modes.set(module, module.training);
  try {
    model.eval();
    return tidy(() =>
      noGrad(() => {
        const input = randn(shape);
        const paths = new Map<object, string>([...root.namedModules()].map(([path, module]) => [module, path]));
        const raw = traceGraph([input], named, () => outputTensors(model.call(input)), paths);
        return buildGraph(raw, named, root);
      }),
    );
  } finally {
    for (const [module, training] of modes) module.training = training;
  }
}

export function disposeGraph(graph: ModelGraph): void {
  for (const tensor of graph.constants.values()) tensor.dispose();
  graph.constants.clear();
}
