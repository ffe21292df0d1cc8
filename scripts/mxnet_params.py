#!/usr/bin/python3
"""MXNet's NDArray list file (`prefix-0000.params`) read and written with numpy alone,
from the layout of apache/mxnet src/ndarray/ndarray.cc (NDArray::Save / NDArray::Load)
and dmlc-core's serializer; no MXNet needed. Little-endian throughout:

  uint64 0x112, uint64 0
  uint64 count; per array:
    V2/V3: uint32 magic 0xF993FAC9 / 0xF993FACA, int32 storage type (0 = dense),
           int32 ndim, int64 dims
    V1:    uint32 magic 0xF993FAC8, int32 ndim, int64 dims
    legacy: uint32 ndim, uint32 dims
    int32 device type (1 = CPU), int32 device id, int32 mshadow type flag, the data
  uint64 count; per name: uint64 length, the bytes

As a library: save(path, {name: ndarray}, layout='v2') and load(path) -> {name: ndarray}.

  mxnet_params.py write OUT.params IN.npz [--layout v2|v1|v3|legacy]
      the arrays of IN.npz under their names ('arg:conv0_weight', ...)
  mxnet_params.py read IN.params OUT.npz
  mxnet_params.py fixture OUT_DIR
      for each layout, OUT_DIR/LAYOUT.params with a few arrays of several dtypes, and
      OUT_DIR/LAYOUT.json: {name: {"dtype", "shape", "values"}} of what it holds
  mxnet_params.py dump IN.params
      JSON on stdout, as the fixture's .json
"""
import json
import os
import struct
import sys

import numpy as np

LIST_MAGIC = 0x112
MAGIC = {'v1': 0xF993FAC8, 'v2': 0xF993FAC9, 'v3': 0xF993FACA}
TYPE_FLAGS = {
    np.dtype('float32'): 0, np.dtype('float64'): 1, np.dtype('float16'): 2, np.dtype('uint8'): 3,
    np.dtype('int32'): 4, np.dtype('int8'): 5, np.dtype('int64'): 6, np.dtype('bool'): 7, np.dtype('int16'): 8,
}
DTYPES = {flag: dtype for dtype, flag in TYPE_FLAGS.items()}


def save(path, arrays, layout='v2'):
    out = [struct.pack('<QQQ', LIST_MAGIC, 0, len(arrays))]
    for value in arrays.values():
        value = np.ascontiguousarray(value)
        if layout == 'legacy':
            out.append(struct.pack('<I', value.ndim) + struct.pack(f'<{value.ndim}I', *value.shape))
        else:
            head = struct.pack('<I', MAGIC[layout])
            if layout != 'v1':
                head += struct.pack('<i', 0)
            out.append(head + struct.pack('<i', value.ndim) + struct.pack(f'<{value.ndim}q', *value.shape))
        out.append(struct.pack('<iii', 1, 0, TYPE_FLAGS[value.dtype]))
        out.append(value.astype(value.dtype.newbyteorder('<')).tobytes())
    out.append(struct.pack('<Q', len(arrays)))
    for name in arrays:
        encoded = name.encode('utf-8')
        out.append(struct.pack('<Q', len(encoded)) + encoded)
    with open(path, 'wb') as f:
        f.write(b''.join(out))


class _Cursor:
    def __init__(self, data):
        self.data, self.offset = data, 0

    def take(self, size):
        if self.offset + size > len(self.data):
            raise ValueError(f'truncated at offset {self.offset}')
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))


def load(path):
    with open(path, 'rb') as f:
        cursor = _Cursor(f.read())
    magic, _reserved = cursor.unpack('<QQ')
    if magic != LIST_MAGIC:
        raise ValueError('not an MXNet .params file')
    (count,) = cursor.unpack('<Q')
    values = []
    for _ in range(count):
        (magic,) = cursor.unpack('<I')
        if magic in (MAGIC['v2'], MAGIC['v3']):
            (storage,) = cursor.unpack('<i')
            if storage != 0:
                raise ValueError('sparse storage')
        if magic in MAGIC.values():
            (ndim,) = cursor.unpack('<i')
            shape = cursor.unpack(f'<{ndim}q')
        else:
            shape = cursor.unpack(f'<{magic}I')
        _device, _device_id, flag = cursor.unpack('<iii')
        dtype = DTYPES[flag]
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        values.append(np.frombuffer(cursor.take(size), dtype=dtype.newbyteorder('<')).reshape(shape).astype(dtype))
    (names,) = cursor.unpack('<Q')
    keys = []
    for _ in range(names):
        (length,) = cursor.unpack('<Q')
        keys.append(cursor.take(length).decode('utf-8'))
    return dict(zip(keys or [str(i) for i in range(count)], values))


def describe(arrays):
    return {name: {'dtype': str(value.dtype), 'shape': list(value.shape), 'values': value.reshape(-1).tolist()} for name, value in arrays.items()}


def fixture(out_dir):
    rng = np.random.default_rng(11)
    arrays = {
        'arg:conv0_weight': rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        'arg:bn0_gamma': rng.standard_normal(4).astype(np.float32),
        'aux:bn0_moving_var': rng.uniform(0.5, 2, 4).astype(np.float64),
        'arg:half': rng.standard_normal((2, 3)).astype(np.float16),
        'arg:index': rng.integers(-2**40, 2**40, (3,)).astype(np.int64),
        'arg:count': rng.integers(-1000, 1000, (2, 2)).astype(np.int32),
        'arg:small': rng.integers(-100, 100, (5,)).astype(np.int8),
        'arg:pixels': rng.integers(0, 255, (2, 2, 2)).astype(np.uint8),
        'arg:mask': np.array([True, False, True]),
        'arg:short': rng.integers(-30000, 30000, (2,)).astype(np.int16),
    }
    for layout in ('v2', 'v1', 'v3', 'legacy'):
        save(os.path.join(out_dir, f'{layout}.params'), arrays, layout)
        with open(os.path.join(out_dir, f'{layout}.json'), 'w') as f:
            json.dump(describe(arrays), f)


def main():
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == 'write':
        layout = args[args.index('--layout') + 1] if '--layout' in args else 'v2'
        with np.load(args[2]) as npz:
            save(args[1], {name: npz[name] for name in npz.files}, layout)
    elif len(args) == 3 and args[0] == 'read':
        np.savez(args[2], **load(args[1]))
    elif len(args) == 2 and args[0] == 'fixture':
        fixture(args[1])
    elif len(args) == 2 and args[0] == 'dump':
        json.dump(describe(load(args[1])), sys.stdout)
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
