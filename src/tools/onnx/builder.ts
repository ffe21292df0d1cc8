// Builds an ONNX graph from a captured one: names for values (state-dict keys for the
// weights), initializers added on first use, nodes, and the protobuf encoding through
// the official ONNX schema (onnx-proto, written with protobufjs).
import { createRequire } from 'node:module';
import type { DType } from '../../torch/dtype.js';
import type { ArgValue, GraphOp, GraphValue, ModelGraph } from '../graph/capture.js';

type OnnxModule = typeof import('onnx-proto');
export const { onnx } = createRequire(import.meta.url)('onnx-proto') as OnnxModule;
type NodeProto = import('onnx-proto').onnx.INodeProto;
type TensorProto = import('onnx-proto').onnx.ITensorProto;
type AttributeProto = import('onnx-proto').onnx.IAttributeProto;

/** An attribute value, typed as ONNX wants it (a JS number alone cannot say int or float). */
export type Attribute = { i: number } | { f: number } | { ints: number[] } | { floats: number[] } | { s: string };
export const int = (i: number): Attribute => ({ i });
export const float = (f: number): Attribute => ({ f });
export const ints = (values: number[]): Attribute => ({ ints: values });

const elementTypes: Partial<Record<DType, number>> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  float16: onnx.TensorProto.DataType.FLOAT16,
  bfloat16: onnx.TensorProto.DataType.BFLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

export function elementType(dtype: DType): number {
  const type = elementTypes[dtype];
  if (type === undefined) throw new Error(`ONNX export: no ONNX element type for ${dtype}`);
  return type;
}

function attributeProto(name: string, value: Attribute): AttributeProto {
  const type = onnx.AttributeProto.AttributeType;
  if ('i' in value) return { name, type: type.INT, i: value.i };
  if ('f' in value) return { name, type: type.FLOAT, f: value.f };
  if ('ints' in value) return { name, type: type.INTS, ints: value.ints };
  if ('floats' in value) return { name, type: type.FLOATS, floats: value.floats };
  return { name, type: type.STRING, s: new TextEncoder().encode(value.s) };
}

export interface BuilderOptions {
  opset: number;
  /** The batch dimension is symbolic ('batch') instead of the traced size. */
  dynamicBatch: boolean;
}

export class OnnxGraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly #names = new Map<number, string>();
  readonly #initialized = new Set<string>();
  readonly #usedNames = new Set<string>();
  #counter = 0;

  constructor(
    readonly graph: ModelGraph,
    readonly options: BuilderOptions,
  ) {
    for (const [id, { name }] of graph.weights) this.#claim(id, name);
    this.#claim(graph.input.id, 'input');
    graph.outputs.forEach((output, i) => this.#claim(output.id, graph.outputs.length === 1 ? 'output' : `output${i}`));
  }

  #claim(id: number, name: string): void {
    this.#names.set(id, name);
    this.#usedNames.add(name);
  }

  get opset(): number {
    return this.options.opset;
  }

  /** A new unique name for an intermediate value. */
  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.#counter++}`;
    while (this.#usedNames.has(name));
    this.#usedNames.add(name);
    return name;
  }

  /** The ONNX name of a value; a weight or baked constant becomes an initializer on first use. */
  nameOf(id: number): string {
    const weight = this.graph.weights.get(id);
    if (weight) {
      this.#initializeFrom(weight.name, weight.tensor.shape, weight.tensor.dtype, () => weight.tensor.toBytes());
      return weight.name;
    }
    const name = this.#names.get(id);
    if (name === undefined) throw new Error(`ONNX export: value ${id} is used before any op produced it`);
    return name;
  }

  /** The name a constant tensor of the graph gets, as an initializer. */
  constantName(key: string): string {
    const tensor = this.graph.constants.get(key);
    if (!tensor) throw new Error(`ONNX export: unknown constant ${key}`);
    const name = `constant_${key}`;
    this.#initializeFrom(name, tensor.shape, tensor.dtype, () => tensor.contiguous().toBytes());
    return name;
  }

  /** The name the op's `index`-th output gets. */
  outputName(op: GraphOp, index = 0): string {
    const id = op.outputs[index].id;
    let name = this.#names.get(id);
    if (name === undefined) {
      const hint = `${op.path || 'model'}/${op.label}`;
      name = this.fresh(hint);
      this.#names.set(id, name);
    }
    return name;
  }

  /** Makes `op`'s output another name for an existing value (ops with no effect), or copies it when it is a graph output. */
  alias(op: GraphOp, sourceName: string): void {
    const id = op.outputs[0].id;
    if (this.graph.outputs.some((output) => output.id === id)) this.node('Identity', [sourceName], [this.outputName(op)], {}, op.path);
    else this.#names.set(id, sourceName);
  }

  #initializeFrom(name: string, dims: number[], dtype: DType, bytes: () => Uint8Array): void {
    if (this.#initialized.has(name)) return;
    this.#initialized.add(name);
    this.initializers.push({ name, dims, dataType: elementType(dtype), rawData: bytes() });
  }

  /** A new initializer of int64 values (shapes, axes, indices). */
  int64s(values: number[], hint = 'const'): string {
    const name = this.fresh(hint);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.#initializeFrom(name, [values.length], 'int64', () => new Uint8Array(data.buffer));
    return name;
  }

  /** A new 1-D initializer of `length` copies of `value` (a BatchNorm without scale or shift). */
  filled(length: number, value: number, dtype: DType, hint: string): string {
    const name = this.fresh(hint);
    const data = dtype === 'float64' ? new Float64Array(length).fill(value) : new Float32Array(length).fill(value);
    this.#initializeFrom(name, [length], dtype === 'float64' ? 'float64' : 'float32', () => new Uint8Array(data.buffer));
    return name;
  }

  /** A new scalar initializer of `dtype` (float32 or float64). */
  scalar(value: number, dtype: DType, hint = 'scalar'): string {
    const name = this.fresh(hint);
    const data = dtype === 'float64' ? new Float64Array([value]) : dtype === 'int64' ? BigInt64Array.from([BigInt(value)]) : new Float32Array([value]);
    this.#initializeFrom(name, [], dtype === 'float64' || dtype === 'int64' ? dtype : 'float32', () => new Uint8Array(data.buffer));
    return name;
  }

  node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, Attribute> = {}, path = ''): void {
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: this.fresh(`${path || 'model'}/${opType}`),
      attribute: Object.entries(attributes).map(([name, value]) => attributeProto(name, value)),
    });
  }

  valueInfo(value: GraphValue, name: string): import('onnx-proto').onnx.IValueInfoProto {
    const dims = value.shape.map((size, axis) => (axis === 0 && this.options.dynamicBatch ? { dimParam: 'batch' } : { dimValue: size }));
    return { name, type: { tensorType: { elemType: elementType(value.dtype), shape: { dim: dims } } } };
  }
}

/** The id an argument refers to; an argument that is not a value is an error naming the op. */
export function refOf(op: GraphOp, name: string): number {
  const arg = op.args[name];
  if (arg !== null && typeof arg === 'object' && !Array.isArray(arg) && 'ref' in arg) return arg.ref;
  throw new Error(`ONNX export: '${op.op}' in '${op.path}' expects a tensor for '${name}', got ${JSON.stringify(arg)}`);
}

export function isRef(arg: ArgValue | undefined): arg is { ref: number } {
  return arg !== null && typeof arg === 'object' && !Array.isArray(arg) && 'ref' in arg;
}
