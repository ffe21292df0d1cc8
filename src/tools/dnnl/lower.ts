// Lowers a captured forward graph (tools/graph/capture.ts) to the nodes of a oneDNN
// plan (native/dnnl_*.cc), generically over whatever the module tree ran: each
// BatchNorm that follows a convolution is folded into it, activations become post-ops
// of the primitive before them, a residual addition becomes a sum post-op of one of its
// operands' convolutions (or of SE's multiplication), scalar affine steps (input
// normalisation) compose into one eltwise step, global means become pooling, and
// no-op views and copies disappear. An op with no oneDNN counterpart is an error
// naming the op and its module, so the caller can fall back to another mode.
import type { DnnlNode, DnnlPlanSpec, DnnlPostOp } from '../../native-api.js';
import { batchNormFoldFactors } from '../../layers/fold-batchnorm.js';
import { ones, zeros } from '../../torch/creation.js';
import { Tensor } from '../../torch/tensor.js';
import type { ArgValue, GraphOp, ModelGraph } from '../graph/capture.js';

export type DnnlPrecision = 'fp32' | 'bf16';
/**
 * How the plan's convolutions pick their kernels. 'direct', 'winograd' and 'auto' set the
 * algorithm of the 3x3 stride-1 ones (the others always run direct); 'tuned' times every
 * kernel oneDNN offers for each convolution at build time (Winograd too, in fp32, where it
 * applies) and keeps the fastest, counting the reorders a kernel's layout adds.
 */
export const CONV_ALGORITHMS = ['direct', 'winograd', 'auto', 'tuned'] as const;
export type ConvAlgorithm = (typeof CONV_ALGORITHMS)[number];

export interface LowerOptions {
  precision: DnnlPrecision;
  convAlgorithm: ConvAlgorithm;
}

export interface LoweredPlan {
  spec: DnnlPlanSpec;
  /** The shapes the model returns (the plan's values may carry extra unit dimensions). */
  outputShapes: number[][];
}

/** Activation ops as oneDNN eltwise algorithms, in the order they apply. */
function eltwiseChain(op: GraphOp): { algorithm: string; alpha: number; beta: number }[] | undefined {
  const name = op.op.replace(/^aten::/, '').replace(/_$/, '');
  const num = (key: string, fallback: number) => (typeof op.args[key] === 'number' ? (op.args[key] as number) : fallback);
  switch (name) {
    case 'relu':
      return [{ algorithm: 'relu', alpha: 0, beta: 0 }];
    case 'leaky_relu':
      return [{ algorithm: 'relu', alpha: num('negative_slope', 0.01), beta: 0 }];
    case 'sigmoid':
      return [{ algorithm: 'logistic', alpha: 0, beta: 0 }];
    case 'tanh':
      return [{ algorithm: 'tanh', alpha: 0, beta: 0 }];
    case 'hardtanh':
      return [{ algorithm: 'clip', alpha: num('min_val', -1), beta: num('max_val', 1) }];
    case 'silu':
      return [{ algorithm: 'swish', alpha: 1, beta: 0 }];
    case 'hardswish':
      return [{ algorithm: 'hardswish', alpha: 0, beta: 0 }];
    case 'hardsigmoid':
      return [
        { algorithm: 'linear', alpha: 1 / 6, beta: 0.5 },
        { algorithm: 'clip', alpha: 0, beta: 1 },
      ];
    case 'gelu':
      return op.args.approximate === 'tanh' ? undefined : [{ algorithm: 'gelu_erf', alpha: 0, beta: 0 }];
    default:
      return undefined;
  }
}

const IDENTITY_OPS = /^aten::(dropout|feature_dropout|alpha_dropout)_?$|^aten::(contiguous|clone|detach)$/;
const RESHAPE_OPS = /^aten::(flatten|view|reshape|_unsafe_view|squeeze|unsqueeze)$/;

const withoutUnitDims = (shape: number[]) => shape.filter((size) => size !== 1);
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((size, i) => size === b[i]);

class Lowering {
  readonly nodes: DnnlNode[] = [];
  /** Graph values that are another value's data (views, copies, eval-mode dropout). */
  readonly #alias = new Map<number, number>();
  /** Remaining reads of each plan value (graph outputs count as one). */
  readonly #uses = new Map<number, number>();
  /** Values whose data is a 4-D value read flattened: only a linear layer or the output may read them. */
  readonly #flattened = new Set<number>();
  readonly #producer = new Map<number, DnnlNode>();
  readonly #shape = new Map<number, number[]>();
  #nextId: number;

  constructor(
    readonly graph: ModelGraph,
    readonly options: LowerOptions,
  ) {
    for (const op of graph.ops) for (const id of op.inputs) this.#uses.set(id, (this.#uses.get(id) ?? 0) + 1);
    for (const output of graph.outputs) this.#uses.set(output.id, (this.#uses.get(output.id) ?? 0) + 1);
    this.#shape.set(graph.input.id, graph.input.shape);
    this.#nextId = Math.max(...graph.values.keys()) + 1;
  }

  /** An id for a value the graph does not have (a zero fill, a step of a chain). */
  fresh(): number {
    return this.#nextId++;
  }

  #where(op: GraphOp): string {
    return op.path ? `module '${op.path}' (${this.graph.moduleTypes.get(op.path) ?? 'unknown type'})` : 'the model itself';
  }

  unsupported(op: GraphOp, why?: string): Error {
    return new Error(`dnnl plan: op '${op.op}' in ${this.#where(op)} is not supported${why ? ` (${why})` : ''}`);
  }

  resolve(id: number): number {
    return this.#alias.get(id) ?? id;
  }

  /** The plan value an argument refers to. */
  value(op: GraphOp, key: string, options: { flattenedAllowed?: boolean } = {}): number {
    const arg = op.args[key];
    if (arg === null || typeof arg !== 'object' || !('ref' in arg)) throw this.unsupported(op, `its '${key}' is not a tensor computed from the input`);
    const id = this.resolve(arg.ref);
    if (this.graph.weights.has(id)) throw this.unsupported(op, `its '${key}' is a weight, not an activation`);
    if (!this.#shape.has(id)) throw this.unsupported(op, `its '${key}' was not computed by a supported op`);
    if (this.#flattened.has(arg.ref) && !options.flattenedAllowed) throw this.unsupported(op, `it reads a flattened view of a 4-D activation`);
    return id;
  }

  /** A parameter, buffer or constant tensor argument, or null where the argument is None. */
  tensor(op: GraphOp, key: string): Tensor | null {
    const arg = op.args[key];
    if (arg === null || arg === undefined) return null;
    if (typeof arg === 'object' && 'ref' in arg) {
      const weight = this.graph.weights.get(this.resolve(arg.ref));
      if (!weight) throw this.unsupported(op, `its '${key}' is computed in the forward pass, not a parameter or buffer`);
      return weight.tensor;
    }
    if (typeof arg === 'object' && 'constant' in arg) return this.graph.constants.get(arg.constant) ?? null;
    throw this.unsupported(op, `its '${key}' is not a tensor`);
  }

  ints(op: GraphOp, key: string): number[] {
    const arg: ArgValue = op.args[key];
    if (typeof arg === 'number') return [arg, arg];
    if (Array.isArray(arg) && arg.every((item) => typeof item === 'number')) return arg as number[];
    throw this.unsupported(op, `its '${key}' is not a list of integers`);
  }

  shapeOf(id: number): number[] {
    return this.#shape.get(id)!;
  }

  /** The primitive that makes `id`, when nothing else reads `id` (so it can take more fused work). */
  soleProducer(id: number): DnnlNode | undefined {
    return this.#uses.get(id) === 1 ? this.#producer.get(id) : undefined;
  }

  emit(node: DnnlNode): void {
    this.nodes.push(node);
    this.#producer.set(node.output, node);
    this.#shape.set(node.output, node.outputShape);
  }

  /** `node` now makes graph value `id` instead of its old output (a fused op's result). */
  retarget(node: DnnlNode, id: number): void {
    this.#producer.delete(node.output);
    node.output = id;
    this.#producer.set(id, node);
    this.#shape.set(id, node.outputShape);
  }

  /** Moves `node` to the end of the plan: it then runs after every value made so far. */
  moveToEnd(node: DnnlNode): void {
    this.nodes.splice(this.nodes.indexOf(node), 1);
    this.nodes.push(node);
  }

  /**
   * The output of `op` is the data of its argument `key` (a view, a copy, eval-mode
   * dropout); `flattened`: a 4-D value seen as [N, C*H*W], which only a linear layer may read.
   */
  alias(op: GraphOp, key: string, flattened = false): void {
    const ref = (op.args[key] as { ref: number }).ref;
    const source = this.value(op, key, { flattenedAllowed: true });
    const id = op.outputs[0].id;
    this.#alias.set(id, source);
    this.#uses.set(source, (this.#uses.get(source) ?? 0) - 1 + (this.#uses.get(id) ?? 0));
    if (flattened || this.#flattened.has(ref)) this.#flattened.add(id);
  }
}

/** A node's algorithm; when tuning, 'auto' makes Winograd a candidate beside the direct kernels. */
function nodeAlgorithm(algorithm: ConvAlgorithm): Exclude<ConvAlgorithm, 'tuned'> {
  return algorithm === 'tuned' ? 'auto' : algorithm;
}

function lowerConvolution(l: Lowering, op: GraphOp): void {
  if (op.args.transposed === true) throw l.unsupported(op, 'transposed convolution');
  if (typeof op.args.padding === 'string') throw l.unsupported(op, `padding '${op.args.padding}'`);
  const input = l.value(op, 'input');
  const weight = l.tensor(op, 'weight');
  if (!weight || weight.ndim !== 4) throw l.unsupported(op, 'it needs a 4-D weight');
  const stride = l.ints(op, 'stride');
  const dilation = l.ints(op, 'dilation');
  const groups = op.args.groups as number;
  const winogradShaped = weight.shape[2] === 3 && weight.shape[3] === 3 && stride.every((s) => s === 1) && dilation.every((d) => d === 1) && groups === 1;
  l.emit({
    kind: 'conv',
    name: op.path,
    inputs: [input],
    output: op.outputs[0].id,
    outputShape: op.outputs[0].shape,
    weight,
    bias: l.tensor(op, 'bias'),
    stride,
    padding: l.ints(op, 'padding'),
    dilation,
    groups,
    algorithm: winogradShaped && l.options.precision === 'fp32' ? nodeAlgorithm(l.options.convAlgorithm) : 'direct',
    postOps: [],
  });
}

function lowerBatchNorm(l: Lowering, op: GraphOp): void {
  const input = l.value(op, 'input');
  const runningMean = l.tensor(op, 'running_mean');
  const runningVar = l.tensor(op, 'running_var');
  if (!runningMean || !runningVar || op.args.training === true) throw l.unsupported(op, 'a BatchNorm without running statistics');
  const gamma = l.tensor(op, 'weight');
  const beta = l.tensor(op, 'bias');
  const eps = op.args.eps as number;
  const conv = l.soleProducer(input);
  if (conv?.kind === 'conv' && conv.postOps!.length === 0) {
    // Fold: bn(conv(x)) = conv'(x).
    const { scale, bias } = batchNormFoldFactors(conv.bias as Tensor | null, { runningMean, runningVar, weight: gamma, bias: beta, eps }, 'float32');
    conv.weight = (conv.weight as Tensor).float().mul(scale);
    conv.bias = bias;
    l.retarget(conv, op.outputs[0].id);
    return;
  }
  const channels = runningMean.shape[0];
  l.emit({
    kind: 'batchnorm',
    name: op.path,
    inputs: [input],
    output: op.outputs[0].id,
    outputShape: l.shapeOf(input),
    mean: runningMean,
    variance: runningVar,
    scale: gamma ?? ones([channels]),
    shift: beta ?? zeros([channels]),
    eps,
    postOps: [],
  });
}

/** Kinds of primitive an activation or a residual sum can be fused into. */
const FUSES_POST_OPS = new Set<DnnlNode['kind']>(['conv', 'linear', 'binary']);

function lowerActivation(l: Lowering, op: GraphOp, chain: { algorithm: string; alpha: number; beta: number }[]): void {
  const input = l.value(op, 'self');
  const output = op.outputs[0].id;
  const producer = l.soleProducer(input);
  if (producer && FUSES_POST_OPS.has(producer.kind)) {
    producer.postOps!.push(...chain.map((step): DnnlPostOp => ({ kind: 'eltwise', ...step })));
    l.retarget(producer, output);
    return;
  }
  if (producer?.kind === 'batchnorm' && producer.postOps!.length === 0 && chain.length === 1 && chain[0].algorithm === 'relu' && chain[0].alpha === 0) {
    producer.postOps!.push({ kind: 'eltwise', ...chain[0] });
    l.retarget(producer, output);
    return;
  }
  if (producer?.kind === 'eltwise' && producer.algorithm === 'linear' && chain.length === 1 && chain[0].algorithm === 'linear') {
    // Two affine steps in a row (input normalisation's subtraction and scaling) compose into one.
    const [a1, b1] = [producer.alpha as number, producer.beta as number];
    producer.alpha = chain[0].alpha * a1;
    producer.beta = chain[0].alpha * b1 + chain[0].beta;
    l.retarget(producer, output);
    return;
  }
  let source = input;
  chain.forEach((step, i) => {
    const id = i === chain.length - 1 ? output : l.fresh();
    l.emit({ kind: 'eltwise', name: op.path, inputs: [source], output: id, outputShape: l.shapeOf(source), ...step });
    source = id;
  });
}

function lowerAdd(l: Lowering, op: GraphOp): void {
  if (op.args.alpha !== undefined && op.args.alpha !== 1) throw l.unsupported(op, `alpha ${String(op.args.alpha)}`);
  if (typeof op.args.other === 'number') return lowerActivation(l, op, [{ algorithm: 'linear', alpha: 1, beta: op.args.other }]);
  const a = l.value(op, 'self');
  const b = l.value(op, 'other');
  const output = op.outputs[0].id;
  if (sameShape(l.shapeOf(a), l.shapeOf(b)) && a !== b) {
    // The residual sum: into whichever operand's primitive was emitted last (it moves to
    // the end, after the other operand exists), added to the other operand in place.
    const candidates = [a, b]
      .map((id) => ({ id, node: l.soleProducer(id) }))
      .filter(({ node }) => node && FUSES_POST_OPS.has(node.kind) && !node.postOps!.some((p) => p.kind === 'sum'))
      .sort((x, y) => l.nodes.indexOf(y.node!) - l.nodes.indexOf(x.node!));
    if (candidates.length > 0) {
      const { id, node } = candidates[0];
      node!.postOps!.push({ kind: 'sum', input: id === a ? b : a });
      l.moveToEnd(node!);
      l.retarget(node!, output);
      return;
    }
  }
  lowerBinary(l, op, 'add', a, b);
}

/** Subtraction of a scalar: x - alpha * other as an affine eltwise step. */
function lowerSub(l: Lowering, op: GraphOp): void {
  const alpha = op.args.alpha ?? 1;
  if (typeof op.args.other !== 'number' || typeof alpha !== 'number') throw l.unsupported(op, 'a subtraction of anything but a scalar');
  lowerActivation(l, op, [{ algorithm: 'linear', alpha: 1, beta: -alpha * op.args.other }]);
}

/**
 * PReLU with one slope per channel or one for all, a step of its own: oneDNN 2.6 has a
 * PReLU post-op, but no optimised convolution takes it (the reference loops do, 100 times
 * slower), so it is not fused.
 */
function lowerPrelu(l: Lowering, op: GraphOp): void {
  const input = l.value(op, 'self');
  const weight = l.tensor(op, 'weight');
  const channels = l.shapeOf(input)[1];
  if (!weight || (weight.numel !== 1 && weight.numel !== channels)) throw l.unsupported(op, `its weight is not 1 or ${channels} slopes`);
  l.emit({ kind: 'prelu', name: op.path, inputs: [input], output: op.outputs[0].id, outputShape: l.shapeOf(input), weight });
}

function lowerBinary(l: Lowering, op: GraphOp, algorithm: 'add' | 'mul', a: number, b: number): void {
  // The full-size operand first; a broadcast one ([N, C, 1, 1], SE's gate) second.
  const [first, second] = l.shapeOf(a).reduce((n, s) => n * s, 1) >= l.shapeOf(b).reduce((n, s) => n * s, 1) ? [a, b] : [b, a];
  if (l.shapeOf(first).length !== l.shapeOf(second).length) throw l.unsupported(op, 'operands of different ranks');
  l.emit({ kind: 'binary', name: op.path, algorithm, inputs: [first, second], output: op.outputs[0].id, outputShape: op.outputs[0].shape, postOps: [] });
}

function lowerMul(l: Lowering, op: GraphOp): void {
  if (typeof op.args.other === 'number') return lowerActivation(l, op, [{ algorithm: 'linear', alpha: op.args.other, beta: 0 }]);
  lowerBinary(l, op, 'mul', l.value(op, 'self'), l.value(op, 'other'));
}

function lowerConcat(l: Lowering, op: GraphOp): void {
  const list = op.args.tensors;
  if (!Array.isArray(list)) throw l.unsupported(op, 'its tensors are not a list');
  const inputs = list.map((item, i) => l.value({ ...op, args: { [`t${i}`]: item } }, `t${i}`));
  const rank = l.shapeOf(inputs[0]).length;
  const dim = (op.args.dim as number) < 0 ? (op.args.dim as number) + rank : (op.args.dim as number);
  l.emit({ kind: 'concat', name: op.path, inputs, output: op.outputs[0].id, outputShape: op.outputs[0].shape, axis: dim });
}

/** Right padding that makes oneDNN's window count equal PyTorch's (ceil mode adds windows). */
function rightPadding(input: number[], output: number[], kernel: number[], stride: number[], padding: number[], dilation: number[]): number[] {
  return [0, 1].map((d) => Math.max(padding[d], (output[d] - 1) * stride[d] + (kernel[d] - 1) * dilation[d] + 1 - input[d] - padding[d]));
}

function lowerPool(l: Lowering, op: GraphOp): void {
  const input = l.value(op, 'self');
  const inShape = l.shapeOf(input);
  const outShape = op.outputs[0].shape;
  const kernel = l.ints(op, 'kernel_size');
  const strideArg = l.ints(op, 'stride');
  const stride = strideArg.length === 0 ? kernel : strideArg;
  const padding = l.ints(op, 'padding');
  const max = op.op === 'aten::max_pool2d';
  const dilation = max ? l.ints(op, 'dilation') : [1, 1];
  const paddingRight = rightPadding(inShape.slice(2), outShape.slice(2), kernel, stride, padding, dilation);
  let algorithm = 'max';
  if (!max) {
    if (op.args.divisor_override !== null && op.args.divisor_override !== undefined) throw l.unsupported(op, 'divisor_override');
    const ceilWindows = paddingRight.some((p, d) => p > padding[d]);
    // With ceil mode, PyTorch's divisor leaves out the extra windows' overhang: exactly
    // oneDNN's exclude-padding average when there is no other padding.
    if (ceilWindows && padding.some((p) => p > 0) && op.args.count_include_pad !== false) throw l.unsupported(op, 'ceil mode with padding counted in the average');
    algorithm = op.args.count_include_pad === false || ceilWindows ? 'avg_exclude' : 'avg_include';
  }
  l.emit({ kind: 'pool', name: op.path, algorithm, inputs: [input], output: op.outputs[0].id, outputShape: outShape, kernel, stride, padding, paddingRight, dilation });
}

/** A global average (adaptive pooling to a divisor of the size, or a mean over H and W). */
function lowerAveragePool(l: Lowering, op: GraphOp, input: number, outSize: number[], outputShape: number[]): void {
  const [n, c, h, w] = l.shapeOf(input);
  if (h % outSize[0] !== 0 || w % outSize[1] !== 0) throw l.unsupported(op, `an adaptive pool from ${h}x${w} to ${outSize.join('x')} has uneven windows`);
  const kernel = [h / outSize[0], w / outSize[1]];
  l.emit({ kind: 'pool', name: op.path, algorithm: 'avg_include', inputs: [input], output: op.outputs[0].id, outputShape: [n, c, ...outSize], kernel, stride: kernel, padding: [0, 0], paddingRight: [0, 0], dilation: [1, 1] });
  if (!sameShape(outputShape, [n, c, ...outSize]) && !sameShape(withoutUnitDims(outputShape), withoutUnitDims([n, c, ...outSize]))) throw l.unsupported(op, 'an unexpected output shape');
}

function lowerMean(l: Lowering, op: GraphOp): void {
  const input = l.value(op, 'self');
  const rank = l.shapeOf(input).length;
  const dims = l.ints(op, 'dim').map((d) => (d < 0 ? d + rank : d)).sort();
  if (rank !== 4 || !sameShape(dims, [2, 3])) throw l.unsupported(op, 'a mean over other dimensions than height and width');
  lowerAveragePool(l, op, input, [1, 1], op.outputs[0].shape);
}

function lowerLinear(l: Lowering, op: GraphOp): void {
  const input = l.value(op, 'input', { flattenedAllowed: true });
  const weight = l.tensor(op, 'weight');
  if (!weight) throw l.unsupported(op, 'no weight');
  const outputShape = [l.shapeOf(input)[0], weight.shape[0]];
  if (!sameShape(op.outputs[0].shape, outputShape)) throw l.unsupported(op, 'a linear layer over more than two dimensions');
  l.emit({ kind: 'linear', name: op.path, inputs: [input], output: op.outputs[0].id, outputShape, weight, bias: l.tensor(op, 'bias'), postOps: [] });
}

/** Reshapes that keep the bytes in place: adding or dropping unit dimensions, or flattening for a linear layer. */
function lowerReshape(l: Lowering, op: GraphOp): void {
  const from = l.shapeOf(l.value(op, 'self', { flattenedAllowed: true }));
  const to = op.outputs[0].shape;
  if (sameShape(withoutUnitDims(from), withoutUnitDims(to))) return l.alias(op, 'self');
  if (from.length === 4 && to.length === 2 && to[0] === from[0]) return l.alias(op, 'self', true);
  throw l.unsupported(op, `a reshape from [${from.join(', ')}] to [${to.join(', ')}] in oneDNN's blocked layout`);
}

/** Strided subsampling of height or width (ResNet option A's shortcut): a 1x1 max pool with that stride. */
function lowerSlice(l: Lowering, op: GraphOp): void {
  const input = l.value(op, 'self');
  const shape = l.shapeOf(input);
  const dim = (op.args.dim as number) < 0 ? (op.args.dim as number) + shape.length : (op.args.dim as number);
  const step = op.args.step as number;
  const end = op.args.end as number | null;
  if (shape.length !== 4 || (dim !== 2 && dim !== 3) || op.args.start !== 0 || (end !== null && end < shape[dim])) {
    throw l.unsupported(op, 'a slice other than a strided subsampling of height or width');
  }
  const previous = l.soleProducer(input);
  const stride = [dim === 2 ? step : 1, dim === 3 ? step : 1];
  if (previous?.kind === 'pool' && previous.name === op.path && (previous.kernel as number[]).every((k) => k === 1)) {
    previous.stride = (previous.stride as number[]).map((s, d) => s * stride[d]);
    previous.outputShape = op.outputs[0].shape;
    l.retarget(previous, op.outputs[0].id);
    return;
  }
  l.emit({ kind: 'pool', name: op.path, algorithm: 'max', inputs: [input], output: op.outputs[0].id, outputShape: op.outputs[0].shape, kernel: [1, 1], stride, padding: [0, 0], paddingRight: [0, 0], dilation: [1, 1] });
}

/** Zero channels appended or prepended (ResNet option A's shortcut): a concatenation with zero fills. */
function lowerPad(l: Lowering, op: GraphOp): void {
  const input = l.value(op, 'self');
  const pad = l.ints(op, 'pad');
  const shape = l.shapeOf(input);
  const value = op.args.value ?? 0;
  if (shape.length !== 4 || pad.length !== 6 || pad.slice(0, 4).some((p) => p !== 0) || value !== 0 || pad.some((p) => p < 0)) {
    throw l.unsupported(op, 'padding other than zero channels');
  }
  const [before, after] = [pad[4], pad[5]];
  const zerosOf = (channels: number) => {
    const id = l.fresh();
    l.emit({ kind: 'zeros', name: `${op.path} (zero channels)`, inputs: [], output: id, outputShape: [shape[0], channels, shape[2], shape[3]] });
    return id;
  };
  const inputs = [...(before > 0 ? [zerosOf(before)] : []), input, ...(after > 0 ? [zerosOf(after)] : [])];
  l.emit({ kind: 'concat', name: op.path, inputs, output: op.outputs[0].id, outputShape: op.outputs[0].shape, axis: 1 });
}

function lowerOp(l: Lowering, op: GraphOp): void {
  if (IDENTITY_OPS.test(op.op)) return l.alias(op, Object.keys(op.args)[0]);
  if (RESHAPE_OPS.test(op.op)) return lowerReshape(l, op);
  const chain = eltwiseChain(op);
  if (chain) return lowerActivation(l, op, chain);
  switch (op.op) {
    case 'aten::_convolution':
    case 'aten::conv2d':
    case 'aten::convolution':
      return lowerConvolution(l, op);
    case 'aten::batch_norm':
      return lowerBatchNorm(l, op);
    case 'aten::add':
    case 'aten::add_':
      return lowerAdd(l, op);
    case 'aten::sub':
    case 'aten::sub_':
      return lowerSub(l, op);
    case 'aten::prelu':
    case 'aten::_prelu_kernel':
      return lowerPrelu(l, op);
    case 'aten::mul':
    case 'aten::mul_':
      return lowerMul(l, op);
    case 'aten::cat':
    case 'aten::concat':
      return lowerConcat(l, op);
    case 'aten::max_pool2d':
    case 'aten::avg_pool2d':
      return lowerPool(l, op);
    case 'aten::adaptive_avg_pool2d':
      return lowerAveragePool(l, op, l.value(op, 'self'), l.ints(op, 'output_size'), op.outputs[0].shape);
    case 'aten::mean':
      return lowerMean(l, op);
    case 'aten::linear':
      return lowerLinear(l, op);
    case 'aten::slice':
      return lowerSlice(l, op);
    case 'aten::constant_pad_nd':
      return lowerPad(l, op);
    default:
      throw l.unsupported(op);
  }
}

/** Tensor-valued node fields as the native handles the addon reads. */
function withHandles(node: DnnlNode): DnnlNode {
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, value instanceof Tensor ? value.float().contiguous().handle : value])) as DnnlNode;
}

/**
 * The plan of `graph`. Tensors it makes (folded weights) belong to the caller's scope:
 * create the native plan from `spec` inside the same tidy().
 */
export function lowerGraph(graph: ModelGraph, options: LowerOptions): LoweredPlan {
  if (graph.input.shape.length !== 4) throw new Error(`dnnl plan: the input must be [N, C, H, W], got [${graph.input.shape.join(', ')}]`);
  const l = new Lowering(graph, options);
  for (const op of graph.ops) lowerOp(l, op);
  const outputs = graph.outputs.map((output) => {
    const id = l.resolve(output.id);
    if (id === graph.input.id) throw new Error('dnnl plan: the model returns its input unchanged');
    return id;
  });
  return {
    spec: { dtype: options.precision === 'bf16' ? 'bf16' : 'f32', input: { id: graph.input.id, shape: graph.input.shape }, outputs, nodes: l.nodes.map(withHandles), tune: options.convAlgorithm === 'tuned' },
    outputShapes: graph.outputs.map((output) => output.shape),
  };
}
