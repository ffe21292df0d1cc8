// Automatic mixed precision, as torch.autocast: inside the region, convolutions, matmuls
// and linear layers run in bfloat16 (libtorch casts their inputs and weights on the way
// in, and autograd casts the gradients back), while norms, softmax and losses stay in
// float32. Weights stay float32 and their gradients arrive in float32, so optimisers
// and checkpoints see no difference. Backward runs outside the region, as in PyTorch.
import { native } from '../native.js';
import { dtypeCode, type DType } from './dtype.js';

export interface AutocastOptions {
  /** 'cpu' (the default) or 'cuda'. */
  device?: 'cpu' | 'cuda';
  /** false runs `fn` with autocast off (a region that turns a surrounding one off). */
  enabled?: boolean;
  /** Keep each weight's lower-precision cast for the whole region (default true). */
  cacheEnabled?: boolean;
}

const cpuDtypes: DType[] = ['bfloat16'];
const cudaDtypes: DType[] = ['float16', 'bfloat16'];

/** Runs `fn` under autocast to `dtype` ('bfloat16' on the CPU) and returns its result. */
export function autocast<T>(dtype: DType, fn: () => T, options: AutocastOptions = {}): T {
  const device = options.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new Error(`autocast: device must be 'cpu' or 'cuda', got '${String(device)}'`);
  const accepted = device === 'cpu' ? cpuDtypes : cudaDtypes;
  if (!accepted.includes(dtype)) {
    throw new Error(`autocast: dtype '${String(dtype)}' is not supported on ${device}; expected ${accepted.map((d) => `'${d}'`).join(' or ')}`);
  }
  const previous = native.autocastEnter(device, { enabled: options.enabled ?? true, dtype: dtypeCode(dtype), cache: options.cacheEnabled ?? true });
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('autocast() takes a synchronous function: autocast is per thread and would leak across an await');
    return result;
  } finally {
    native.autocastExit(device, previous);
  }
}

/** Whether autocast is on for `device` on this thread. */
export function isAutocastEnabled(device: 'cpu' | 'cuda' = 'cpu'): boolean {
  return native.autocastState(device).enabled;
}
