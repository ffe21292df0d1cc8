// The aten ops a captured graph may hold, by what they do. The diagrams draw by
// category; the ONNX export has one converter per op here (onnx/converters.ts). An op
// missing from this table is refused when the graph is captured, naming the op and the
// module it ran in, so neither the diagram nor the export meets an op it cannot show.

export type OpCategory =
  | 'conv'
  | 'norm'
  | 'activation'
  | 'pool'
  | 'linear'
  /** Element-wise arithmetic of two tensors (shortcut additions, SE scaling) or a tensor and a constant. */
  | 'arithmetic'
  | 'concat'
  /** Averages over a dimension (global pooling written as a mean, FractalNet's mean join). */
  | 'reduce'
  | 'reshape'
  | 'slice'
  | 'pad'
  /** No effect in eval mode (dropout) or on values (contiguous, clone). */
  | 'identity';

export interface OpInfo {
  category: OpCategory;
  /** A short name for diagrams ('Conv', 'BatchNorm', 'Add'). */
  label: string;
}

const entries: [ops: string[], info: OpInfo][] = [
  [['_convolution', 'conv2d', 'convolution'], { category: 'conv', label: 'Conv' }],
  [['batch_norm'], { category: 'norm', label: 'BatchNorm' }],
  [['relu', 'relu_'], { category: 'activation', label: 'ReLU' }],
  [['prelu'], { category: 'activation', label: 'PReLU' }],
  [['leaky_relu', 'leaky_relu_'], { category: 'activation', label: 'LeakyReLU' }],
  [['sigmoid', 'sigmoid_'], { category: 'activation', label: 'Sigmoid' }],
  [['tanh', 'tanh_'], { category: 'activation', label: 'Tanh' }],
  [['hardtanh', 'hardtanh_'], { category: 'activation', label: 'Hardtanh' }],
  [['silu', 'silu_'], { category: 'activation', label: 'SiLU' }],
  [['hardsigmoid', 'hardsigmoid_'], { category: 'activation', label: 'Hardsigmoid' }],
  [['hardswish', 'hardswish_'], { category: 'activation', label: 'Hardswish' }],
  [['softmax'], { category: 'activation', label: 'Softmax' }],
  [['log_softmax'], { category: 'activation', label: 'LogSoftmax' }],
  [['max_pool2d'], { category: 'pool', label: 'MaxPool' }],
  [['avg_pool2d'], { category: 'pool', label: 'AvgPool' }],
  [['adaptive_avg_pool2d'], { category: 'pool', label: 'AdaptiveAvgPool' }],
  [['adaptive_max_pool2d'], { category: 'pool', label: 'AdaptiveMaxPool' }],
  [['linear', 'addmm', 'matmul'], { category: 'linear', label: 'Linear' }],
  [['add', 'add_'], { category: 'arithmetic', label: 'Add' }],
  [['sub', 'sub_', 'rsub'], { category: 'arithmetic', label: 'Sub' }],
  [['mul', 'mul_'], { category: 'arithmetic', label: 'Mul' }],
  [['div', 'div_'], { category: 'arithmetic', label: 'Div' }],
  [['cat', 'concat'], { category: 'concat', label: 'Concat' }],
  [['stack'], { category: 'concat', label: 'Stack' }],
  [['mean'], { category: 'reduce', label: 'Mean' }],
  [['sum'], { category: 'reduce', label: 'Sum' }],
  [['flatten'], { category: 'reshape', label: 'Flatten' }],
  [['view', 'reshape', '_unsafe_view'], { category: 'reshape', label: 'Reshape' }],
  [['unsqueeze'], { category: 'reshape', label: 'Unsqueeze' }],
  [['squeeze'], { category: 'reshape', label: 'Squeeze' }],
  [['expand', 'expand_as'], { category: 'reshape', label: 'Expand' }],
  [['slice'], { category: 'slice', label: 'Slice' }],
  [['select'], { category: 'slice', label: 'Select' }],
  [['constant_pad_nd', 'pad'], { category: 'pad', label: 'Pad' }],
  [['dropout', 'dropout_', 'feature_dropout', 'feature_dropout_', 'alpha_dropout', 'alpha_dropout_'], { category: 'identity', label: 'Dropout' }],
  [['contiguous', 'clone', 'detach'], { category: 'identity', label: 'Copy' }],
];

/** Every known op by its qualified name ('aten::relu_'). */
export const OPS: ReadonlyMap<string, OpInfo> = new Map(entries.flatMap(([names, info]) => names.map((name) => [`aten::${name}`, info] as const)));

/** True for ops that write into their first argument (PyTorch's trailing underscore). */
export function isInPlace(op: string): boolean {
  return op.endsWith('_') && !op.endsWith('__');
}
