// PyTorch's legacy storage classes, which name a storage's element type in torch.save files.
import type { DType } from '../../torch/dtype.js';

export const storageClassByDtype: Record<DType, string> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

export const dtypeByStorageClass = new Map<string, DType>(Object.entries(storageClassByDtype).map(([dtype, name]) => [name, dtype as DType]));
