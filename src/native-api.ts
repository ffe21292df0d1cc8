// The typed face of the native addon: one line per entry point, grouped as the C++
// files are. test/native-api.test.ts checks that these names, the addon's exports and
// the RN_FN entries in each native/*.cc file agree.
// Handles are opaque tensor references; dtypes travel as libtorch's ScalarType codes;
// a list of sizes (number[]) also takes a single number.
export type NativeHandle = object & { readonly __nativeTensor?: never };
export type DTypeCode = number;
export type Scalar = number | boolean;
/** Autocast on one device: on or off, the lower precision, and whether weight casts are cached. */
export type AutocastState = { enabled: boolean; dtype: DTypeCode; cache: boolean };
type MemoryFigures = { liveTensors: number; nativeBytes: number; tensorBytes: number; countsAllAllocations: boolean };

// What traceEnd hands back: the traced graph as plain objects.
/** One argument of a traced op: another value, a constant, or a list of either. */
export interface RawArgument {
  /** The schema's name for the argument ('input', 'weight', 'stride', ...). */
  name?: string;
  ref?: number;
  value?: unknown;
  list?: RawArgument[];
}
export interface RawValue {
  id: number;
  shape?: number[];
  /** libtorch's ScalarType code. */
  dtype?: number;
  /** The type of a value that is not a tensor. */
  type?: string;
}
export interface RawNode {
  /** 'aten::_convolution', 'aten::relu_', 'prim::ListUnpack', ... */
  op: string;
  /** Dotted module path the op ran in ('' for the model itself). */
  scope: string;
  args: RawArgument[];
  outputs: RawValue[];
}
export interface RawGraph {
  /** The traced inputs first, then each named tensor in the order given. */
  inputs: RawValue[];
  nodes: RawNode[];
  outputs: RawArgument[];
  /** Tensors baked into the graph as constants, by the key an argument's `{ tensor }` names. */
  constants: Record<string, NativeHandle>;
}

// What the oneDNN inference plan takes (tools/dnnl/lower.ts makes it) and reports.
/** An operation fused into the primitive before it: an activation, or the residual sum (adds value `input`). */
export type DnnlPostOp = { kind: 'eltwise'; algorithm: string; alpha: number; beta: number } | { kind: 'sum'; input: number };
export interface DnnlNode {
  kind: 'conv' | 'linear' | 'pool' | 'binary' | 'batchnorm' | 'eltwise' | 'prelu' | 'concat' | 'zeros';
  /** The module path and op, for messages and reports. */
  name: string;
  /** Value ids read, in order. */
  inputs: number[];
  output: number;
  outputShape: number[];
  postOps?: DnnlPostOp[];
  [parameter: string]: unknown;
}
export interface DnnlPlanSpec {
  dtype: 'f32' | 'bf16';
  input: { id: number; shape: number[] };
  outputs: number[];
  nodes: DnnlNode[];
  /** Time each convolution's candidate kernels while building and keep the fastest. */
  tune?: boolean;
  /** With tune: choices made before (problem -> choice, as tuningChoices reports them), taken instead of timing. */
  knownChoices?: Record<string, string>;
}
/** One tuned convolution: what its choice depends on, the kernel and layouts chosen, and whether this build timed it. */
export interface DnnlTuningChoice {
  problem: string;
  choice: string;
  measured: boolean;
}
export type DnnlPlanHandle = object & { readonly __dnnlPlan?: never };
export interface DnnlPlanInfo {
  /** Each primitive and reorder, with the kernel oneDNN chose ('brgconv:avx512_core_amx_bf16'). */
  steps: { name: string; impl: string }[];
  activationBytes: number;
  constantBytes: number;
  scratchpadBytes: number;
  /** A tuned plan's convolutions, in plan order. */
  tuningChoices?: DnnlTuningChoice[];
}

export interface NativeAddon {
  // native/tensor_ops.cc
  fromBuffer(data: ArrayBufferView, dtype: DTypeCode, shape: number[], device?: string): NativeHandle;
  zeros(shape: number[], dtype?: DTypeCode, device?: string): NativeHandle;
  ones(shape: number[], dtype?: DTypeCode, device?: string): NativeHandle;
  empty(shape: number[], dtype?: DTypeCode, device?: string): NativeHandle;
  full(shape: number[], value: Scalar, dtype?: DTypeCode, device?: string): NativeHandle;
  randn(shape: number[], dtype?: DTypeCode, device?: string): NativeHandle;
  rand(shape: number[], dtype?: DTypeCode, device?: string): NativeHandle;
  randint(low: number, high: number, shape: number[], dtype?: DTypeCode, device?: string): NativeHandle;
  randperm(n: number): NativeHandle;
  arange(start: Scalar, end: Scalar, step: Scalar, dtype?: DTypeCode, device?: string): NativeHandle;
  linspace(start: Scalar, end: Scalar, steps: number, dtype?: DTypeCode, device?: string): NativeHandle;
  eye(n: number, dtype?: DTypeCode, device?: string): NativeHandle;
  dispose(t: NativeHandle): void;
  isLive(t: NativeHandle): boolean;
  shape(t: NativeHandle): number[];
  strides(t: NativeHandle): number[];
  dtype(t: NativeHandle): DTypeCode;
  device(t: NativeHandle): string;
  numel(t: NativeHandle): number;
  isContiguous(t: NativeHandle, channelsLast: boolean): boolean;
  toBuffer(t: NativeHandle): ArrayBuffer;
  item(t: NativeHandle): number;
  /** Elements that are NaN or infinite (a plain loop for dense float32 on the CPU, in any dimension order). */
  countNonFinite(t: NativeHandle): number;
  to(t: NativeHandle, dtype: DTypeCode | undefined, device: string | undefined, copy: boolean): NativeHandle;
  clone(t: NativeHandle): NativeHandle;
  contiguous(t: NativeHandle, channelsLast: boolean): NativeHandle;
  toMkldnn(t: NativeHandle): NativeHandle;
  toDense(t: NativeHandle): NativeHandle;
  isMkldnn(t: NativeHandle): boolean;
  add(a: NativeHandle, b: NativeHandle | Scalar, alpha?: Scalar): NativeHandle;
  sub(a: NativeHandle, b: NativeHandle | Scalar, alpha?: Scalar): NativeHandle;
  rsub(a: NativeHandle, b: Scalar): NativeHandle;
  mul(a: NativeHandle, b: NativeHandle | Scalar): NativeHandle;
  div(a: NativeHandle, b: NativeHandle | Scalar): NativeHandle;
  pow(a: NativeHandle, exponent: NativeHandle | Scalar): NativeHandle;
  remainder(a: NativeHandle, b: NativeHandle | Scalar): NativeHandle;
  maximum(a: NativeHandle, b: NativeHandle): NativeHandle;
  minimum(a: NativeHandle, b: NativeHandle): NativeHandle;
  eq(a: NativeHandle, b: NativeHandle | Scalar): NativeHandle;
  ne(a: NativeHandle, b: NativeHandle | Scalar): NativeHandle;
  lt(a: NativeHandle, b: NativeHandle | Scalar): NativeHandle;
  le(a: NativeHandle, b: NativeHandle | Scalar): NativeHandle;
  gt(a: NativeHandle, b: NativeHandle | Scalar): NativeHandle;
  ge(a: NativeHandle, b: NativeHandle | Scalar): NativeHandle;
  logicalAnd(a: NativeHandle, b: NativeHandle): NativeHandle;
  logicalOr(a: NativeHandle, b: NativeHandle): NativeHandle;
  logicalNot(t: NativeHandle): NativeHandle;
  where(condition: NativeHandle, a: NativeHandle, b: NativeHandle): NativeHandle;
  maskedFill(t: NativeHandle, mask: NativeHandle, value: Scalar): NativeHandle;
  clamp(t: NativeHandle, min: number | undefined, max: number | undefined): NativeHandle;
  neg(t: NativeHandle): NativeHandle;
  abs(t: NativeHandle): NativeHandle;
  exp(t: NativeHandle): NativeHandle;
  log(t: NativeHandle): NativeHandle;
  sqrt(t: NativeHandle): NativeHandle;
  rsqrt(t: NativeHandle): NativeHandle;
  square(t: NativeHandle): NativeHandle;
  reciprocal(t: NativeHandle): NativeHandle;
  sign(t: NativeHandle): NativeHandle;
  floor(t: NativeHandle): NativeHandle;
  ceil(t: NativeHandle): NativeHandle;
  round(t: NativeHandle): NativeHandle;
  tanh(t: NativeHandle): NativeHandle;
  sin(t: NativeHandle): NativeHandle;
  cos(t: NativeHandle): NativeHandle;
  acos(t: NativeHandle): NativeHandle;
  isnan(t: NativeHandle): NativeHandle;
  isfinite(t: NativeHandle): NativeHandle;
  add_(a: NativeHandle, b: NativeHandle | Scalar, alpha?: Scalar): void;
  sub_(a: NativeHandle, b: NativeHandle | Scalar, alpha?: Scalar): void;
  mul_(a: NativeHandle, b: NativeHandle | Scalar): void;
  div_(a: NativeHandle, b: NativeHandle | Scalar): void;
  copy_(target: NativeHandle, source: NativeHandle): void;
  zero_(t: NativeHandle): void;
  fill_(t: NativeHandle, value: Scalar): void;
  clamp_(t: NativeHandle, min: number | undefined, max: number | undefined): void;
  addcmul_(t: NativeHandle, a: NativeHandle, b: NativeHandle, value: Scalar): void;
  addcdiv_(t: NativeHandle, a: NativeHandle, b: NativeHandle, value: Scalar): void;
  lerp_(t: NativeHandle, end: NativeHandle, weight: Scalar): void;
  sqrt_(t: NativeHandle): void;
  uniform_(t: NativeHandle, low: number, high: number): void;
  normal_(t: NativeHandle, mean: number, std: number): void;
  bernoulli(like: NativeHandle, p: number): NativeHandle;
  sum(t: NativeHandle, dims: number | number[] | undefined, keepdim: boolean, dtype?: DTypeCode): NativeHandle;
  mean(t: NativeHandle, dims: number | number[] | undefined, keepdim: boolean): NativeHandle;
  var(t: NativeHandle, dims: number | number[] | undefined, correction: number, keepdim: boolean): NativeHandle;
  norm(t: NativeHandle, p: Scalar, dims: number | number[] | undefined, keepdim: boolean): NativeHandle;
  maxAll(t: NativeHandle): NativeHandle;
  minAll(t: NativeHandle): NativeHandle;
  maxDim(t: NativeHandle, dim: number, keepdim: boolean): NativeHandle[];
  minDim(t: NativeHandle, dim: number, keepdim: boolean): NativeHandle[];
  argmax(t: NativeHandle, dim: number | undefined, keepdim: boolean): NativeHandle;
  argmin(t: NativeHandle, dim: number | undefined, keepdim: boolean): NativeHandle;
  topk(t: NativeHandle, k: number, dim: number, largest: boolean, sorted: boolean): NativeHandle[];
  sort(t: NativeHandle, dim: number, descending: boolean): NativeHandle[];
  all(t: NativeHandle): NativeHandle;
  any(t: NativeHandle): NativeHandle;
  logsumexp(t: NativeHandle, dims: number | number[], keepdim: boolean): NativeHandle;
  cumsum(t: NativeHandle, dim: number): NativeHandle;
  allclose(a: NativeHandle, b: NativeHandle, rtol: number, atol: number): boolean;
  matmul(a: NativeHandle, b: NativeHandle): NativeHandle;
  mm(a: NativeHandle, b: NativeHandle): NativeHandle;
  bmm(a: NativeHandle, b: NativeHandle): NativeHandle;
  outer(a: NativeHandle, b: NativeHandle): NativeHandle;

  // native/view_ops.cc
  reshape(t: NativeHandle, shape: number[]): NativeHandle;
  view(t: NativeHandle, shape: number[]): NativeHandle;
  permute(t: NativeHandle, dims: number[]): NativeHandle;
  transpose(t: NativeHandle, dim0: number, dim1: number): NativeHandle;
  flatten(t: NativeHandle, startDim: number, endDim: number): NativeHandle;
  squeeze(t: NativeHandle, dim?: number): NativeHandle;
  unsqueeze(t: NativeHandle, dim: number): NativeHandle;
  narrow(t: NativeHandle, dim: number, start: number, length: number): NativeHandle;
  slice(t: NativeHandle, dim: number, start: number, end: number, step: number): NativeHandle;
  select(t: NativeHandle, dim: number, index: number): NativeHandle;
  indexSelect(t: NativeHandle, dim: number, index: NativeHandle): NativeHandle;
  gather(t: NativeHandle, dim: number, index: NativeHandle): NativeHandle;
  scatter(t: NativeHandle, dim: number, index: NativeHandle, source: NativeHandle): NativeHandle;
  maskedSelect(t: NativeHandle, mask: NativeHandle): NativeHandle;
  expand(t: NativeHandle, shape: number[]): NativeHandle;
  repeat(t: NativeHandle, times: number[]): NativeHandle;
  flip(t: NativeHandle, dims: number[]): NativeHandle;
  cat(tensors: NativeHandle[], dim: number): NativeHandle;
  stack(tensors: NativeHandle[], dim: number): NativeHandle;
  split(t: NativeHandle, sizeOrSizes: number | number[], dim: number): NativeHandle[];
  chunk(t: NativeHandle, chunks: number, dim: number): NativeHandle[];
  asStrided(t: NativeHandle, shape: number[], strides: number[], storageOffset: number): NativeHandle;
  oneHot(indices: NativeHandle, numClasses: number): NativeHandle;

  // native/nn_ops.cc
  conv2d(input: NativeHandle, weight: NativeHandle, bias: NativeHandle | null | undefined, stride: number[], padding: number[], dilation: number[], groups: number): NativeHandle;
  mkldnnReorderConv2dWeight(weight: NativeHandle, padding: number[], stride: number[], dilation: number[], groups: number): NativeHandle;
  batchNorm(
    input: NativeHandle, weight: NativeHandle | null | undefined, bias: NativeHandle | null | undefined, runningMean: NativeHandle | null | undefined,
    runningVar: NativeHandle | null | undefined, training: boolean, momentum: number, eps: number,
  ): NativeHandle;
  linear(input: NativeHandle, weight: NativeHandle, bias?: NativeHandle | null): NativeHandle;
  relu(t: NativeHandle): NativeHandle;
  relu_(t: NativeHandle): void;
  prelu(t: NativeHandle, weight: NativeHandle): NativeHandle;
  leakyRelu(t: NativeHandle, negativeSlope: Scalar): NativeHandle;
  sigmoid(t: NativeHandle): NativeHandle;
  hardtanh(t: NativeHandle, min: Scalar, max: Scalar): NativeHandle;
  gelu(t: NativeHandle): NativeHandle;
  silu(t: NativeHandle): NativeHandle;
  softmax(t: NativeHandle, dim: number): NativeHandle;
  logSoftmax(t: NativeHandle, dim: number): NativeHandle;
  maxPool2d(input: NativeHandle, kernel: number[], stride: number[], padding: number[], dilation: number[], ceilMode: boolean): NativeHandle;
  avgPool2d(input: NativeHandle, kernel: number[], stride: number[], padding: number[], ceilMode: boolean, countIncludePad: boolean): NativeHandle;
  adaptiveAvgPool2d(input: NativeHandle, outputSize: number[]): NativeHandle;
  adaptiveMaxPool2d(input: NativeHandle, outputSize: number[]): NativeHandle;
  dropout(input: NativeHandle, p: number, training: boolean): NativeHandle;
  crossEntropy(logits: NativeHandle, target: NativeHandle, weight: NativeHandle | null | undefined, reduction: number, ignoreIndex: number, labelSmoothing: number): NativeHandle;
  nllLoss(logProbs: NativeHandle, target: NativeHandle, weight: NativeHandle | null | undefined, reduction: number, ignoreIndex: number): NativeHandle;
  mseLoss(input: NativeHandle, target: NativeHandle, reduction: number): NativeHandle;
  pad(input: NativeHandle, pads: number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular', value: Scalar): NativeHandle;
  interpolateBilinear(input: NativeHandle, size: number[], alignCorners: boolean, antialias: boolean): NativeHandle;
  cosineSimilarity(a: NativeHandle, b: NativeHandle, dim: number, eps: number): NativeHandle;
  normalize(t: NativeHandle, dim: number, eps: number): NativeHandle;

  // native/autograd.cc
  setRequiresGrad(t: NativeHandle, requiresGrad: boolean): void;
  requiresGrad(t: NativeHandle): boolean;
  isLeaf(t: NativeHandle): boolean;
  backward(t: NativeHandle, gradient: NativeHandle | null | undefined, retainGraph: boolean): void;
  grad(t: NativeHandle): NativeHandle | null;
  setGrad(t: NativeHandle, gradient: NativeHandle | null): void;
  detach(t: NativeHandle): NativeHandle;
  gradFnName(t: NativeHandle): string | null;
  retainGrad(t: NativeHandle): void;
  retainsGrad(t: NativeHandle): boolean;
  autogradGrad(outputs: NativeHandle[], inputs: NativeHandle[], gradOutputs: NativeHandle[], retainGraph: boolean, createGraph: boolean, allowUnused: boolean): (NativeHandle | null)[];
  setHookDispatcher(dispatch: (id: number, grad: NativeHandle) => NativeHandle | undefined): void;
  registerHook(t: NativeHandle, id: number): number;
  removeHook(t: NativeHandle, position: number): void;
  isGradEnabled(): boolean;
  setGradEnabled(enabled: boolean): void;
  manualSeed(seed: number): void;
  setNumThreads(threads: number): void;
  getNumThreads(): number;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  memory(): MemoryFigures;
  version(): string;
  sgdStep(params: NativeHandle[], grads: NativeHandle[], momentumBuffers: NativeHandle[], lr: number, momentum: number, dampening: number, weightDecays: number[], nesterov: boolean, firstStep: boolean): void;
  adamwStep(params: NativeHandle[], grads: NativeHandle[], expAvg: NativeHandle[], expAvgSq: NativeHandle[], step: number, lr: number, beta1: number, beta2: number, eps: number, weightDecays: number[]): void;
  clipGradNorm(grads: NativeHandle[], maxNorm: number): number;

  // native/checkpoint.cc
  /** Runs `segment` without a graph; its outputs come back attached to a node that recomputes it in backward. */
  checkpoint(segment: (inputs: NativeHandle[]) => NativeHandle[], inputs: NativeHandle[]): NativeHandle[];

  // native/allocator.cc
  allocatorStats(): { currentBytes: number; peakBytes: number };
  resetPeakAllocatorBytes(): void;
  retainFreedMemory(): boolean;

  // native/trace.cc
  traceBegin(inputs: NativeHandle[], named: NativeHandle[], names: string[]): void;
  tracePushScope(name: string): void;
  tracePopScope(): void;
  traceAbandon(): void;
  traceEnd(outputs: NativeHandle[]): RawGraph;

  // native/autocast.cc
  /** This thread's autocast state on 'cpu' or 'cuda'. */
  autocastState(device: string): AutocastState;
  /** Sets the state (and enters one more nested region); returns the state it replaced. */
  autocastEnter(device: string, state: AutocastState): AutocastState;
  /** Leaves a region, putting back the state autocastEnter returned; the outermost one drops the cached weight casts. */
  autocastExit(device: string, previous: AutocastState): void;

  // native/dnnl_plan.cc
  dnnlPlanCreate(spec: DnnlPlanSpec): DnnlPlanHandle;
  /** Dense float32 outputs in the shapes of the plan's output values. */
  dnnlPlanRun(plan: DnnlPlanHandle, input: NativeHandle): NativeHandle[];
  dnnlPlanInfo(plan: DnnlPlanHandle): DnnlPlanInfo;
  /** Frees the plan's weights and buffers now; the handle is unusable afterwards. */
  dnnlPlanFree(plan: DnnlPlanHandle): void;
  /** The instruction set oneDNN dispatches to on this CPU, and oneDNN's version. */
  dnnlCpuInfo(): { isa: string; version: string };

  // native/distributed.cc
  /** Rendezvous at masterAddr:masterPort (a TCPStore, served by rank 0) and the Gloo process group. */
  distInit(options: { rank: number; worldSize: number; masterAddr: string; masterPort: number; timeoutMs: number; interface?: string; threads?: number }): Promise<void>;
  distDestroy(): void;
  distInfo(): { rank: number; worldSize: number; timeoutMs: number } | null;
  distAllReduce(tensors: NativeHandle[], op: 'sum' | 'avg' | 'max' | 'min' | 'product', async: boolean): Promise<void> | undefined;
  distBroadcast(tensors: NativeHandle[], root: number, async: boolean): Promise<void> | undefined;
  distBarrier(async: boolean): Promise<void> | undefined;
  distRollCall(tag: string, windowMs: number): { missing: number[] } | { storeError: string };
  ddpCreate(params: NativeHandle[], names: string[], bucketCapBytes: number, firstBucketCapBytes: number): { handle: object; buckets: number };
  ddpPrepareForward(reducer: object): void;
  ddpPrepareBackward(reducer: object, outputs: NativeHandle[]): void;
  ddpDestroy(reducer: object): void;
  ddpBroadcastCoalesced(tensors: NativeHandle[], bufferBytes: number, root: number): void;
  syncBatchNorm(input: NativeHandle, weight: NativeHandle | undefined, bias: NativeHandle | undefined, runningMean: NativeHandle | undefined, runningVar: NativeHandle | undefined, momentum: number, eps: number): NativeHandle;
}
