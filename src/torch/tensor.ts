// Tensor: the TypeScript face of an at::Tensor held by the native addon.
import { native, type NativeHandle } from '../native.js';
import { dtypeCode, dtypeFromCode, typedArrayFor, type DType, type TypedArray } from './dtype.js';
import { formatTensor } from './format.js';
import { track, type Disposable } from './scope.js';

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
export type NestedArray = number | boolean | NestedArray[];

function operand(value: TensorOrScalar): NativeHandle | Scalar {
  return value instanceof Tensor ? value.handle : value;
}

export interface ToOptions {
  dtype?: DType;
  device?: string;
  copy?: boolean;
}

export class Tensor implements Disposable {
  #handle: NativeHandle;
  #shape: number[] | undefined;
  kept = false;

  constructor(handle: NativeHandle) {
    this.#handle = handle;
    track(this);
  }

  /** The native handle; throws once disposed. */
  get handle(): NativeHandle {
    return this.#handle;
  }

  /** Swaps in new storage (used by Module.to() so parameters keep their identity). */
  replaceWith(other: Tensor): void {
    native.dispose(this.#handle);
    this.#handle = other.#handle;
    this.#shape = undefined;
    other.kept = true;
  }

  get shape(): number[] {
    if (!this.#shape) this.#shape = native.shape(this.#handle) as number[];
    return this.#shape.slice();
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  size(dim: number): number {
    const shape = this.shape;
    const index = dim < 0 ? dim + shape.length : dim;
    if (!Number.isInteger(index) || index < 0 || index >= shape.length) {
      throw new Error(`size(): dimension ${dim} is out of range for a tensor of shape [${shape.join(', ')}]`);
    }
    return shape[index];
  }
  get dtype(): DType {
    return dtypeFromCode(native.dtype(this.#handle));
  }
  get device(): string {
    return native.device(this.#handle);
  }
  get strides(): number[] {
    return native.strides(this.#handle);
  }
  isContiguous(memoryFormat: 'contiguous' | 'channelsLast' = 'contiguous'): boolean {
    return native.isContiguous(this.#handle, memoryFormat === 'channelsLast');
  }
  get isDisposed(): boolean {
    return !native.isLive(this.#handle);
  }

  /** Frees the native storage now. Safe to call twice. */
  dispose(): void {
    native.dispose(this.#handle);
  }
  /** Keeps this tensor alive past the enclosing tidy() scope. */
  keep(): this {
    this.kept = true;
    return this;
  }

  // ---- values ----
  /** A copy of the values in C order; int64 as BigInt64Array, float16/bfloat16 as Float32Array. */
  toTypedArray(): TypedArray {
    const dtype = this.dtype;
    if (dtype === 'float16' || dtype === 'bfloat16') {
      const asFloat = this.to({ dtype: 'float32' });
      const values = new Float32Array(native.toBuffer(asFloat.handle));
      asFloat.dispose();
      return values;
    }
    return typedArrayFor(dtype, native.toBuffer(this.#handle));
  }
  /** The raw little-endian bytes in C order (what checkpoint writers store). */
  toBytes(): Uint8Array {
    return new Uint8Array(native.toBuffer(this.#handle));
  }
  /** Values as nested JS arrays. */
  toArray(): NestedArray {
    const values = this.toTypedArray();
    const isBool = this.dtype === 'bool';
    const flat = Array.from(values as ArrayLike<number | bigint>, (v) => (isBool ? v !== 0 : Number(v)));
    const shape = this.shape;
    if (shape.length === 0) return flat[0];
    let index = 0;
    const build = (dim: number): NestedArray[] => {
      const out: NestedArray[] = [];
      for (let i = 0; i < shape[dim]; i++) out.push(dim === shape.length - 1 ? flat[index++] : build(dim + 1));
      return out;
    };
    return build(0);
  }
  item(): number {
    return native.item(this.#handle);
  }
  /** The values as PyTorch prints them: `tensor([[0.1000, 2.0000]], requires_grad=True)`, abbreviated past 1000 elements. */
  toString(): string {
    if (this.isDisposed) return 'tensor(<disposed>)';
    return formatTensor(this, native.gradFnName(this.#handle));
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ---- conversion ----
  to(target: DType | string | ToOptions): Tensor {
    const options: ToOptions = typeof target === 'string' ? (isDType(target) ? { dtype: target } : { device: target }) : target;
    const code = options.dtype ? dtypeCode(options.dtype) : undefined;
    return new Tensor(native.to(this.#handle, code, options.device, options.copy ?? false));
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  clone(): Tensor {
    return new Tensor(native.clone(this.#handle));
  }
  contiguous(memoryFormat: 'contiguous' | 'channelsLast' = 'contiguous'): Tensor {
    return new Tensor(native.contiguous(this.#handle, memoryFormat === 'channelsLast'));
  }
  toChannelsLast(): Tensor {
    return this.contiguous('channelsLast');
  }

  // ---- arithmetic (broadcasting) ----
  add(other: TensorOrScalar, alpha?: number): Tensor {
    return new Tensor(native.add(this.#handle, operand(other), alpha));
  }
  sub(other: TensorOrScalar, alpha?: number): Tensor {
    return new Tensor(native.sub(this.#handle, operand(other), alpha));
  }
  /** `other - this` for a scalar `other`. */
  rsub(other: number): Tensor {
    return new Tensor(native.rsub(this.#handle, other));
  }
  mul(other: TensorOrScalar): Tensor {
    return new Tensor(native.mul(this.#handle, operand(other)));
  }
  div(other: TensorOrScalar): Tensor {
    return new Tensor(native.div(this.#handle, operand(other)));
  }
  pow(exponent: TensorOrScalar): Tensor {
    return new Tensor(native.pow(this.#handle, operand(exponent)));
  }
  remainder(other: TensorOrScalar): Tensor {
    return new Tensor(native.remainder(this.#handle, operand(other)));
  }
  maximum(other: Tensor): Tensor {
    return new Tensor(native.maximum(this.#handle, other.handle));
  }
  minimum(other: Tensor): Tensor {
    return new Tensor(native.minimum(this.#handle, other.handle));
  }
  clamp(min?: number, max?: number): Tensor {
    return new Tensor(native.clamp(this.#handle, min, max));
  }
  neg(): Tensor {
    return new Tensor(native.neg(this.#handle));
  }
  abs(): Tensor {
    return new Tensor(native.abs(this.#handle));
  }
  exp(): Tensor {
    return new Tensor(native.exp(this.#handle));
  }
  log(): Tensor {
    return new Tensor(native.log(this.#handle));
  }
  sqrt(): Tensor {
    return new Tensor(native.sqrt(this.#handle));
  }
  rsqrt(): Tensor {
    return new Tensor(native.rsqrt(this.#handle));
  }
  square(): Tensor {
    return new Tensor(native.square(this.#handle));
  }
  reciprocal(): Tensor {
    return new Tensor(native.reciprocal(this.#handle));
  }
  sign(): Tensor {
    return new Tensor(native.sign(this.#handle));
  }
  floor(): Tensor {
    return new Tensor(native.floor(this.#handle));
  }
  ceil(): Tensor {
    return new Tensor(native.ceil(this.#handle));
  }
  round(): Tensor {
    return new Tensor(native.round(this.#handle));
  }
  tanh(): Tensor {
    return new Tensor(native.tanh(this.#handle));
  }
  sin(): Tensor {
    return new Tensor(native.sin(this.#handle));
  }
  cos(): Tensor {
    return new Tensor(native.cos(this.#handle));
  }
  /** Arc cosine, in radians (NaN outside [-1, 1]). */
  acos(): Tensor {
    return new Tensor(native.acos(this.#handle));
  }
  relu(): Tensor {
    return new Tensor(native.relu(this.#handle));
  }
  sigmoid(): Tensor {
    return new Tensor(native.sigmoid(this.#handle));
  }
  softmax(dim: number): Tensor {
    return new Tensor(native.softmax(this.#handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return new Tensor(native.logSoftmax(this.#handle, dim));
  }
  isnan(): Tensor {
    return new Tensor(native.isnan(this.#handle));
  }
  isfinite(): Tensor {
    return new Tensor(native.isfinite(this.#handle));
  }

  // ---- comparisons (bool tensors) ----
  eq(other: TensorOrScalar): Tensor {
    return new Tensor(native.eq(this.#handle, operand(other)));
  }
  ne(other: TensorOrScalar): Tensor {
    return new Tensor(native.ne(this.#handle, operand(other)));
  }
  lt(other: TensorOrScalar): Tensor {
    return new Tensor(native.lt(this.#handle, operand(other)));
  }
  le(other: TensorOrScalar): Tensor {
    return new Tensor(native.le(this.#handle, operand(other)));
  }
  gt(other: TensorOrScalar): Tensor {
    return new Tensor(native.gt(this.#handle, operand(other)));
  }
  ge(other: TensorOrScalar): Tensor {
    return new Tensor(native.ge(this.#handle, operand(other)));
  }
  logicalAnd(other: Tensor): Tensor {
    return new Tensor(native.logicalAnd(this.#handle, other.handle));
  }
  logicalOr(other: Tensor): Tensor {
    return new Tensor(native.logicalOr(this.#handle, other.handle));
  }
  logicalNot(): Tensor {
    return new Tensor(native.logicalNot(this.#handle));
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return new Tensor(native.maskedFill(this.#handle, mask.handle, value));
  }
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return native.allclose(this.#handle, other.handle, rtol, atol);
  }

  // ---- in place (these return `this`) ----
  add_(other: TensorOrScalar, alpha?: number): this {
    native.add_(this.#handle, operand(other), alpha);
    return this;
  }
  sub_(other: TensorOrScalar, alpha?: number): this {
    native.sub_(this.#handle, operand(other), alpha);
    return this;
  }
  mul_(other: TensorOrScalar): this {
    native.mul_(this.#handle, operand(other));
    return this;
  }
  div_(other: TensorOrScalar): this {
    native.div_(this.#handle, operand(other));
    return this;
  }
  copy_(source: Tensor): this {
    native.copy_(this.#handle, source.handle);
    return this;
  }
  zero_(): this {
    native.zero_(this.#handle);
    return this;
  }
  fill_(value: Scalar): this {
    native.fill_(this.#handle, value);
    return this;
  }
  clamp_(min?: number, max?: number): this {
    native.clamp_(this.#handle, min, max);
    return this;
  }
  relu_(): this {
    native.relu_(this.#handle);
    return this;
  }
  addcmul_(a: Tensor, b: Tensor, value = 1): this {
    native.addcmul_(this.#handle, a.handle, b.handle, value);
    return this;
  }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this {
    native.addcdiv_(this.#handle, a.handle, b.handle, value);
    return this;
  }
  lerp_(end: Tensor, weight: number): this {
    native.lerp_(this.#handle, end.handle, weight);
    return this;
  }
  sqrt_(): this {
    native.sqrt_(this.#handle);
    return this;
  }
  uniform_(low = 0, high = 1): this {
    native.uniform_(this.#handle, low, high);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    native.normal_(this.#handle, mean, std);
    return this;
  }

  // ---- reductions ----
  sum(dim?: number | number[], options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    const code = options.dtype ? dtypeCode(options.dtype) : undefined;
    return new Tensor(native.sum(this.#handle, dim, options.keepdim ?? false, code));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.mean(this.#handle, dim, keepdim));
  }
  /** Variance; `correction` 1 is the unbiased estimate, as PyTorch's default. */
  var(dim?: number | number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return new Tensor(native.var(this.#handle, dim, options.correction ?? 1, options.keepdim ?? false));
  }
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native.norm(this.#handle, p, dim, keepdim));
  }
  /** Without `dim`: the largest value. With `dim`: `{ values, indices }`. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return new Tensor(native.maxAll(this.#handle));
    const [values, indices] = native.maxDim(this.#handle, dim, keepdim);
    return { values: new Tensor(values), indices: new Tensor(indices) };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return new Tensor(native.minAll(this.#handle));
    const [values, indices] = native.minDim(this.#handle, dim, keepdim);
    return { values: new Tensor(values), indices: new Tensor(indices) };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmax(this.#handle, dim, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmin(this.#handle, dim, keepdim));
  }
  topk(k: number, dim = -1, options: { largest?: boolean; sorted?: boolean } = {}): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.topk(this.#handle, k, dim, options.largest ?? true, options.sorted ?? true);
    return { values: new Tensor(values), indices: new Tensor(indices) };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.sort(this.#handle, dim, descending);
    return { values: new Tensor(values), indices: new Tensor(indices) };
  }
  all(): Tensor {
    return new Tensor(native.all(this.#handle));
  }
  any(): Tensor {
    return new Tensor(native.any(this.#handle));
  }
  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return new Tensor(native.logsumexp(this.#handle, dim, keepdim));
  }
  cumsum(dim: number): Tensor {
    return new Tensor(native.cumsum(this.#handle, dim));
  }

  // ---- linear algebra ----
  matmul(other: Tensor): Tensor {
    return new Tensor(native.matmul(this.#handle, other.handle));
  }

  // ---- views and indexing ----
  reshape(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.reshape(this.#handle, flattenArgs(shape)));
  }
  view(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.view(this.#handle, flattenArgs(shape)));
  }
  permute(...dims: number[] | [number[]]): Tensor {
    return new Tensor(native.permute(this.#handle, flattenArgs(dims)));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return new Tensor(native.transpose(this.#handle, dim0, dim1));
  }
  /** Shorthand for transpose(-2, -1) on 2-D and batched matrices. */
  get T(): Tensor {
    return this.transpose(-2, -1);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(native.flatten(this.#handle, startDim, endDim));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(native.squeeze(this.#handle, dim));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(native.unsqueeze(this.#handle, dim));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(native.narrow(this.#handle, dim, start, length));
  }
  /** Python's `t[..., start:end:step]` along `dim`; negative and open ends allowed. */
  slice(dim: number, start = 0, end?: number, step = 1): Tensor {
    // libtorch clamps the end to the size, so an open end needs no shape lookup.
    return new Tensor(native.slice(this.#handle, dim, start, end ?? Number.MAX_SAFE_INTEGER, step));
  }
  select(dim: number, index: number): Tensor {
    return new Tensor(native.select(this.#handle, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native.indexSelect(this.#handle, dim, index.handle));
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(native.gather(this.#handle, dim, index.handle));
  }
  scatter(dim: number, index: Tensor, source: Tensor): Tensor {
    return new Tensor(native.scatter(this.#handle, dim, index.handle, source.handle));
  }
  maskedSelect(mask: Tensor): Tensor {
    return new Tensor(native.maskedSelect(this.#handle, mask.handle));
  }
  expand(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.expand(this.#handle, flattenArgs(shape)));
  }
  repeat(...times: number[] | [number[]]): Tensor {
    return new Tensor(native.repeat(this.#handle, flattenArgs(times)));
  }
  flip(dims: number[]): Tensor {
    return new Tensor(native.flip(this.#handle, dims));
  }
  /** A view with explicit sizes, strides and storage offset (in elements). */
  asStrided(shape: number[], strides: number[], storageOffset = 0): Tensor {
    return new Tensor(native.asStrided(this.#handle, shape, strides, storageOffset));
  }
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] {
    return (native.split(this.#handle, sizeOrSizes, dim) as NativeHandle[]).map((h) => new Tensor(h));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return (native.chunk(this.#handle, chunks, dim) as NativeHandle[]).map((h) => new Tensor(h));
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return native.requiresGrad(this.#handle);
  }
  set requiresGrad(value: boolean) {
    native.setRequiresGrad(this.#handle, value);
  }
  requiresGrad_(value = true): this {
    native.setRequiresGrad(this.#handle, value);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.#handle);
  }
  /** The accumulated gradient, or null. Each read returns a new handle to the same storage. */
  get grad(): Tensor | null {
    const handle = native.grad(this.#handle);
    return handle === null ? null : new Tensor(handle);
  }
  set grad(value: Tensor | null) {
    native.setGrad(this.#handle, value === null ? null : value.handle);
  }
  /** Drops the gradient (as PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    native.setGrad(this.#handle, null);
  }
  /** The name of the operation that made this tensor ('AddBackward0'), or null for a leaf. */
  get gradFn(): string | null {
    return native.gradFnName(this.#handle);
  }
  /** Keeps `.grad` of a non-leaf tensor after backward() (leaves always keep theirs). */
  retainGrad(): this {
    native.retainGrad(this.#handle);
    return this;
  }
  get retainsGrad(): boolean {
    return native.retainsGrad(this.#handle);
  }
  /**
   * Calls `hook(grad)` when the gradient of this tensor is computed during backward();
   * a returned tensor replaces the gradient. The gradient handed to the hook is the
   * hook's to dispose or keep. Returns a function that removes the hook. Hooks run for
   * backward() on the JavaScript thread (CPU graphs).
   */
  registerHook(hook: (grad: Tensor) => Tensor | void): () => void {
    const id = nextHookId++;
    tensorHooks.set(id, hook);
    const position = native.registerHook(this.#handle, id);
    return () => {
      tensorHooks.delete(id);
      if (!this.isDisposed) native.removeHook(this.#handle, position);
    };
  }
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    native.backward(this.#handle, gradient?.handle, options.retainGraph ?? false);
  }
  detach(): Tensor {
    return new Tensor(native.detach(this.#handle));
  }
}

// One native dispatcher for every tensor hook: ids map to the JS functions, so the addon
// holds no reference to them.
const tensorHooks = new Map<number, (grad: Tensor) => Tensor | void>();
let nextHookId = 1;
native.setHookDispatcher((id: number, gradHandle: NativeHandle) => {
  const hook = tensorHooks.get(id);
  const grad = new Tensor(gradHandle);
  if (!hook) {
    grad.dispose();
    return undefined;
  }
  const replacement = hook(grad);
  return replacement instanceof Tensor ? replacement.handle : undefined;
});

function flattenArgs(args: number[] | [number[]]): number[] {
  return Array.isArray(args[0]) ? (args[0] as number[]) : (args as number[]);
}

const dtypeNames = new Set(['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool']);
function isDType(value: string): value is DType {
  return dtypeNames.has(value);
}
