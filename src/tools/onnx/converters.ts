// One converter per aten op of tools/graph/ops.ts: each writes the ONNX nodes that
// compute the op's output from its inputs. PyTorch's layouts become ONNX's here
// (padding pairs, PReLU's slope broadcasting, reductions' axes).
import type { ArgValue, GraphOp } from '../graph/capture.js';
import { float, int, ints, isRef, refOf, type Attribute, type OnnxGraphBuilder } from './builder.js';

export type Converter = (op: GraphOp, b: OnnxGraphBuilder) => void;

function fail(op: GraphOp, why: string): never {
  throw new Error(`ONNX export: '${op.op}' in module '${op.path || '(model)'}' ${why}`);
}

function input(op: GraphOp, b: OnnxGraphBuilder, name: string): string {
  return b.nameOf(refOf(op, name));
}

/** An optional tensor argument: its name, or '' (ONNX's absent input) for None. */
function optionalInput(op: GraphOp, b: OnnxGraphBuilder, name: string): string {
  const arg = op.args[name];
  if (arg === null || arg === undefined) return '';
  return b.nameOf(refOf(op, name));
}

function intList(op: GraphOp, name: string): number[] {
  const arg = op.args[name];
  const list = typeof arg === 'number' ? [arg] : arg;
  if (!Array.isArray(list) || !list.every((v): v is number => typeof v === 'number')) fail(op, `has a non-constant '${name}' (${JSON.stringify(arg)})`);
  return list;
}

function constant<T extends number | boolean | null>(op: GraphOp, name: string, fallback?: T): T {
  const arg = op.args[name];
  if (arg === undefined && fallback !== undefined) return fallback;
  if (arg !== null && typeof arg === 'object') fail(op, `has a non-constant '${name}'`);
  return arg as T;
}

function rankOf(op: GraphOp, b: OnnxGraphBuilder, name: string): number {
  return b.graph.values.get(refOf(op, name))!.shape.length;
}

function axis(dim: number, rank: number): number {
  return dim < 0 ? dim + rank : dim;
}

/** The first output, computed by one ONNX node from `inputs`. */
function emit(op: GraphOp, b: OnnxGraphBuilder, opType: string, inputs: string[], attributes: Record<string, Attribute> = {}): void {
  b.node(opType, inputs, [b.outputName(op)], attributes, op.path);
}

/** The op's first tensor argument ('self' or 'input'). */
function first(op: GraphOp, b: OnnxGraphBuilder): string {
  return input(op, b, 'self' in op.args ? 'self' : 'input');
}

const unary =
  (opType: string, attributes: (op: GraphOp) => Record<string, Attribute> = () => ({})): Converter =>
  (op, b) =>
    emit(op, b, opType, [first(op, b)], attributes(op));

/** A tensor or scalar operand of an element-wise op; scalars take the tensor's dtype. */
function operand(op: GraphOp, b: OnnxGraphBuilder, arg: ArgValue): string {
  if (isRef(arg)) return b.nameOf(arg.ref);
  if (typeof arg === 'number') return b.scalar(arg, op.outputs[0].dtype, `${op.path || 'model'}/scalar`);
  return fail(op, `has an operand it cannot convert (${JSON.stringify(arg)})`);
}

const binary =
  (opType: string): Converter =>
  (op, b) => {
    let other = operand(op, b, op.args.other);
    const alpha = op.args.alpha;
    if (typeof alpha === 'number' && alpha !== 1) {
      const scaled = b.fresh(`${op.path}/alpha`);
      b.node('Mul', [other, b.scalar(alpha, op.outputs[0].dtype)], [scaled], {}, op.path);
      other = scaled;
    }
    const self = operand(op, b, op.args.self);
    // rsub(self, other) is other - self.
    emit(op, b, opType, op.op === 'aten::rsub' ? [other, self] : [self, other]);
  };

/** ONNX pads: every axis's start, then every axis's end. */
const symmetricPads = (padding: number[]): number[] => [...padding, ...padding];

const convolution: Converter = (op, b) => {
  if (constant(op, 'transposed', false)) fail(op, 'is a transposed convolution, which the export does not support');
  const weightShape = b.graph.values.get(refOf(op, 'weight'))!.shape;
  const inputs = [input(op, b, 'input'), input(op, b, 'weight')];
  const bias = optionalInput(op, b, 'bias');
  if (bias) inputs.push(bias);
  const spatial = weightShape.length - 2;
  const expand = (values: number[]) => (values.length === 1 ? Array(spatial).fill(values[0]) : values);
  emit(op, b, 'Conv', inputs, {
    kernel_shape: ints(weightShape.slice(2)),
    strides: ints(expand(intList(op, 'stride'))),
    pads: ints(symmetricPads(expand(intList(op, 'padding')))),
    dilations: ints(expand(intList(op, 'dilation'))),
    group: int(constant(op, 'groups', 1)),
  });
};

const batchNorm: Converter = (op, b) => {
  if (constant(op, 'training', false)) fail(op, 'runs in training mode (batch statistics); export the model in eval mode');
  const channels = b.graph.values.get(refOf(op, 'input'))!.shape[1];
  const dtype = op.outputs[0].dtype;
  const perChannel = (name: string, fill: number): string => {
    const given = optionalInput(op, b, name);
    if (given) return given;
    if (name === 'running_mean' || name === 'running_var') fail(op, 'keeps no running statistics, so eval mode uses batch statistics, which ONNX inference cannot');
    return b.filled(channels, fill, dtype, `${op.path}/${name}`);
  };
  emit(op, b, 'BatchNormalization', [input(op, b, 'input'), perChannel('weight', 1), perChannel('bias', 0), perChannel('running_mean', 0), perChannel('running_var', 1)], {
    epsilon: float(constant(op, 'eps', 1e-5)),
  });
};

/** PReLU's slope is per channel (dim 1); ONNX broadcasts it from the last axis, so it is reshaped to [C, 1, 1]. */
const prelu: Converter = (op, b) => {
  const rank = rankOf(op, b, 'self');
  const weight = input(op, b, 'weight');
  const slopeShape = b.graph.values.get(refOf(op, 'weight'))!.shape;
  let slope = weight;
  if (rank > 2 && slopeShape.length === 1 && slopeShape[0] > 1) {
    slope = b.fresh(`${op.path}/slope`);
    b.node('Reshape', [weight, b.int64s([slopeShape[0], ...Array(rank - 2).fill(1)])], [slope], {}, op.path);
  }
  emit(op, b, 'PRelu', [first(op, b), slope]);
};

function poolAttributes(op: GraphOp): Record<string, Attribute> {
  const kernel = intList(op, 'kernel_size');
  const strideGiven = intList(op, 'stride');
  const expand = (values: number[]) => (values.length === 1 ? [values[0], values[0]] : values);
  const padding = expand(intList(op, 'padding'));
  return {
    kernel_shape: ints(expand(kernel)),
    strides: ints(strideGiven.length === 0 ? expand(kernel) : expand(strideGiven)),
    pads: ints(symmetricPads(padding)),
    ceil_mode: int(constant(op, 'ceil_mode', false) ? 1 : 0),
  };
}

const maxPool: Converter = (op, b) => {
  const dilation = op.args.dilation === undefined ? [1, 1] : intList(op, 'dilation');
  emit(op, b, 'MaxPool', [first(op, b)], { ...poolAttributes(op), dilations: ints(dilation.length === 1 ? [dilation[0], dilation[0]] : dilation) });
};

const avgPool: Converter = (op, b) => {
  if (op.args.divisor_override !== null && op.args.divisor_override !== undefined) fail(op, 'has a divisor_override, which ONNX AveragePool lacks');
  emit(op, b, 'AveragePool', [first(op, b)], { ...poolAttributes(op), count_include_pad: int(constant(op, 'count_include_pad', true) ? 1 : 0) });
};

/** Adaptive pooling: global when the output is 1x1, else a fixed pool when the input divides evenly. */
const adaptivePool =
  (globalType: string, fixedType: string): Converter =>
  (op, b) => {
    const inShape = b.graph.values.get(refOf(op, 'self'))!.shape;
    const out = intList(op, 'output_size');
    const size = out.length === 1 ? [out[0], out[0]] : out;
    if (size.every((s) => s === 1)) return emit(op, b, globalType, [first(op, b)]);
    const [h, w] = inShape.slice(-2);
    if (h % size[0] !== 0 || w % size[1] !== 0) fail(op, `pools ${h}x${w} to ${size.join('x')}, which is not a fixed pooling window`);
    const kernel = [h / size[0], w / size[1]];
    emit(op, b, fixedType, [first(op, b)], { kernel_shape: ints(kernel), strides: ints(kernel) });
  };

/**
 * A Reshape to the op's traced output shape. With a dynamic batch, a leading size that
 * is the traced batch of an input that starts with it becomes 0 (copy the input's).
 */
function reshapeTo(op: GraphOp, b: OnnxGraphBuilder, source: string, sourceId: number): void {
  const target = [...op.outputs[0].shape];
  const inShape = b.graph.values.get(sourceId)!.shape;
  if (b.options.dynamicBatch && target.length > 0 && target[0] === inShape[0] && inShape[0] === b.graph.input.shape[0]) target[0] = 0;
  emit(op, b, 'Reshape', [source, b.int64s(target, `${op.path}/shape`)]);
}

const flatten: Converter = (op, b) => {
  const rank = rankOf(op, b, 'self');
  const start = axis(constant(op, 'start_dim', 0), rank);
  const end = axis(constant(op, 'end_dim', -1), rank);
  if (end === rank - 1 && start === 1) return emit(op, b, 'Flatten', [first(op, b)], { axis: int(1) });
  reshapeTo(op, b, first(op, b), refOf(op, 'self'));
};

const reshape: Converter = (op, b) => reshapeTo(op, b, first(op, b), refOf(op, 'self'));

/** Axes as an attribute before `sinceOpset`, as an int64 input from it on. */
function withAxes(op: GraphOp, b: OnnxGraphBuilder, opType: string, sinceOpset: number, inputs: string[], axes: number[], attributes: Record<string, Attribute>): void {
  if (b.opset >= sinceOpset) emit(op, b, opType, [...inputs, b.int64s(axes, `${op.path}/axes`)], attributes);
  else emit(op, b, opType, inputs, { ...attributes, axes: ints(axes) });
}

const reduce =
  (opType: string, axesInputSince: number): Converter =>
  (op, b) => {
    const rank = rankOf(op, b, 'self');
    const dims = op.args.dim === undefined || op.args.dim === null ? [...Array(rank).keys()] : intList(op, 'dim');
    if (op.args.dtype !== undefined && op.args.dtype !== null) fail(op, 'casts its result (dtype=...), which the export does not support');
    withAxes(op, b, opType, axesInputSince, [first(op, b)], dims.map((d) => axis(d, rank)), { keepdims: int(constant(op, 'keepdim', false) ? 1 : 0) });
  };

function tensorList(op: GraphOp, b: OnnxGraphBuilder): string[] {
  const list = op.args.tensors;
  if (!Array.isArray(list)) fail(op, 'has no tensor list');
  return list.map((item) => (isRef(item) ? b.nameOf(item.ref) : fail(op, 'concatenates a value that is not a tensor')));
}

const concat: Converter = (op, b) => {
  const rank = op.outputs[0].shape.length;
  emit(op, b, 'Concat', tensorList(op, b), { axis: int(axis(constant(op, 'dim', 0), rank)) });
};

const stack: Converter = (op, b) => {
  const rank = op.outputs[0].shape.length;
  const dim = axis(constant(op, 'dim', 0), rank);
  const unsqueezed = tensorList(op, b).map((name) => {
    const out = b.fresh(`${op.path}/unsqueeze`);
    b.node('Unsqueeze', [name, b.int64s([dim])], [out], {}, op.path);
    return out;
  });
  emit(op, b, 'Concat', unsqueezed, { axis: int(dim) });
};

const INT64_MAX = 9223372036854775807;

const slice: Converter = (op, b) => {
  const rank = rankOf(op, b, 'self');
  const dim = axis(constant(op, 'dim', 0), rank);
  const start = constant<number | null>(op, 'start', 0) ?? 0;
  const endArg = constant<number | null>(op, 'end', null);
  // libtorch passes 'to the end' as INT64_MAX, which a JS number cannot hold exactly.
  const end = endArg === null || endArg >= INT64_MAX / 2 ? b.graph.values.get(refOf(op, 'self'))!.shape[dim] : endArg;
  emit(op, b, 'Slice', [first(op, b), b.int64s([start]), b.int64s([end]), b.int64s([dim]), b.int64s([constant(op, 'step', 1)])]);
};

const select: Converter = (op, b) => {
  const rank = rankOf(op, b, 'self');
  emit(op, b, 'Gather', [first(op, b), b.scalar(constant(op, 'index', 0), 'int64')], { axis: int(axis(constant(op, 'dim', 0), rank)) });
};

/** PyTorch pads from the last axis backwards in (start, end) pairs; ONNX lists every start, then every end. */
const pad: Converter = (op, b) => {
  if (op.op === 'aten::pad' && op.args.mode !== 'constant') fail(op, `pads in mode '${String(op.args.mode)}'; only constant padding is supported`);
  const rank = rankOf(op, b, 'self');
  const pairs = intList(op, 'pad');
  const starts = Array(rank).fill(0);
  const ends = Array(rank).fill(0);
  for (let i = 0; i < pairs.length / 2; i++) {
    starts[rank - 1 - i] = pairs[2 * i];
    ends[rank - 1 - i] = pairs[2 * i + 1];
  }
  const value = constant<number | null>(op, 'value', 0) ?? 0;
  emit(op, b, 'Pad', [first(op, b), b.int64s([...starts, ...ends], `${op.path}/pads`), b.scalar(value, op.outputs[0].dtype)], { mode: { s: 'constant' } });
};

const linear: Converter = (op, b) => {
  const rank = rankOf(op, b, 'input');
  const bias = optionalInput(op, b, 'bias');
  if (rank === 2) return emit(op, b, 'Gemm', [input(op, b, 'input'), input(op, b, 'weight'), ...(bias ? [bias] : [])], { transB: int(1) });
  const transposed = b.fresh(`${op.path}/weight_t`);
  b.node('Transpose', [input(op, b, 'weight')], [transposed], { perm: ints([1, 0]) }, op.path);
  if (!bias) return emit(op, b, 'MatMul', [input(op, b, 'input'), transposed]);
  const product = b.fresh(`${op.path}/matmul`);
  b.node('MatMul', [input(op, b, 'input'), transposed], [product], {}, op.path);
  emit(op, b, 'Add', [product, bias]);
};

const addmm: Converter = (op, b) => {
  emit(op, b, 'Gemm', [input(op, b, 'mat1'), input(op, b, 'mat2'), input(op, b, 'self')], {
    alpha: float(constant(op, 'alpha', 1)),
    beta: float(constant(op, 'beta', 1)),
  });
};

const identity: Converter = (op, b) => {
  if (op.category === 'identity' && op.label === 'Dropout' && constant(op, 'train', false)) fail(op, 'is dropout in training mode; export the model in eval mode');
  b.alias(op, first(op, b));
};

const softmax =
  (opType: string): Converter =>
  (op, b) => {
    if (op.args.dtype !== undefined && op.args.dtype !== null) fail(op, 'casts its result (dtype=...), which the export does not support');
    emit(op, b, opType, [first(op, b)], { axis: int(axis(constant(op, 'dim', -1), rankOf(op, b, 'self'))) });
  };

const silu: Converter = (op, b) => {
  const x = first(op, b);
  const gate = b.fresh(`${op.path}/sigmoid`);
  b.node('Sigmoid', [x], [gate], {}, op.path);
  emit(op, b, 'Mul', [x, gate]);
};

const hardtanh: Converter = (op, b) => {
  const dtype = op.outputs[0].dtype;
  emit(op, b, 'Clip', [first(op, b), b.scalar(constant(op, 'min_val', -1), dtype), b.scalar(constant(op, 'max_val', 1), dtype)]);
};

const unsqueeze: Converter = (op, b) => {
  const rank = op.outputs[0].shape.length;
  emit(op, b, 'Unsqueeze', [first(op, b), b.int64s([axis(constant(op, 'dim', 0), rank)])]);
};

const squeeze: Converter = (op, b) => {
  const rank = rankOf(op, b, 'self');
  if (op.args.dim === undefined) return reshape(op, b);
  emit(op, b, 'Squeeze', [first(op, b), b.int64s([axis(constant(op, 'dim', 0), rank)])]);
};

/** Expand broadcasts: a leading 1 keeps the input's batch, so a dynamic batch stays dynamic. */
const expand: Converter = (op, b) => {
  const target = [...op.outputs[0].shape];
  if (b.options.dynamicBatch && target.length > 0) target[0] = 1;
  emit(op, b, 'Expand', [first(op, b), b.int64s(target)]);
};

const matmul: Converter = (op, b) => emit(op, b, 'MatMul', [first(op, b), input(op, b, 'other')]);

const table: [ops: string[], converter: Converter][] = [
  [['_convolution', 'conv2d', 'convolution'], convolution],
  [['batch_norm'], batchNorm],
  [['relu', 'relu_'], unary('Relu')],
  [['prelu'], prelu],
  [['leaky_relu', 'leaky_relu_'], unary('LeakyRelu', (op) => ({ alpha: float(constant(op, 'negative_slope', 0.01)) }))],
  [['sigmoid', 'sigmoid_'], unary('Sigmoid')],
  [['tanh', 'tanh_'], unary('Tanh')],
  [['hardtanh', 'hardtanh_'], hardtanh],
  [['silu', 'silu_'], silu],
  [['hardsigmoid', 'hardsigmoid_'], unary('HardSigmoid', () => ({ alpha: float(1 / 6), beta: float(0.5) }))],
  [['hardswish', 'hardswish_'], unary('HardSwish')],
  [['softmax'], softmax('Softmax')],
  [['log_softmax'], softmax('LogSoftmax')],
  [['max_pool2d'], maxPool],
  [['avg_pool2d'], avgPool],
  [['adaptive_avg_pool2d'], adaptivePool('GlobalAveragePool', 'AveragePool')],
  [['adaptive_max_pool2d'], adaptivePool('GlobalMaxPool', 'MaxPool')],
  [['linear'], linear],
  [['addmm'], addmm],
  [['matmul'], matmul],
  [['add', 'add_'], binary('Add')],
  [['sub', 'sub_', 'rsub'], binary('Sub')],
  [['mul', 'mul_'], binary('Mul')],
  [['div', 'div_'], binary('Div')],
  [['cat', 'concat'], concat],
  [['stack'], stack],
  [['mean'], reduce('ReduceMean', 18)],
  [['sum'], reduce('ReduceSum', 13)],
  [['flatten'], flatten],
  [['view', 'reshape', '_unsafe_view'], reshape],
  [['unsqueeze'], unsqueeze],
  [['squeeze'], squeeze],
  [['expand', 'expand_as'], expand],
  [['slice'], slice],
  [['select'], select],
  [['constant_pad_nd', 'pad'], pad],
  [['dropout', 'dropout_', 'feature_dropout', 'feature_dropout_', 'alpha_dropout', 'alpha_dropout_'], identity],
  [['contiguous', 'clone', 'detach'], identity],
];

/** The converter of every op in tools/graph/ops.ts, by qualified name. */
export const CONVERTERS: ReadonlyMap<string, Converter> = new Map(table.flatMap(([names, converter]) => names.map((name) => [`aten::${name}`, converter] as const)));
