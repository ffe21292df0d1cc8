"""Checkpoint fixtures for the io tests, from the reference (PyTorch, NumPy).

    io_fixtures.py write DIR   writes torch.save files, .npy files and hand-written
                               safetensors files into DIR, plus DIR/manifest.json
                               listing every tensor's dtype, shape and values.
    io_fixtures.py check DIR   loads the files the TypeScript side wrote into DIR
                               (described by DIR/manifest.json) with PyTorch, NumPy and
                               a hand-written safetensors parser; prints a JSON verdict.
"""
import json
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch

DTYPES = {
    'float32': torch.float32,
    'float64': torch.float64,
    'float16': torch.float16,
    'bfloat16': torch.bfloat16,
    'int64': torch.int64,
    'int32': torch.int32,
    'int16': torch.int16,
    'int8': torch.int8,
    'uint8': torch.uint8,
    'bool': torch.bool,
}
NAMES = {dtype: name for name, dtype in DTYPES.items()}
SAFETENSORS_CODES = {
    'float64': 'F64', 'float32': 'F32', 'float16': 'F16', 'bfloat16': 'BF16', 'int64': 'I64',
    'int32': 'I32', 'int16': 'I16', 'int8': 'I8', 'uint8': 'U8', 'bool': 'BOOL',
}
DTYPE_BY_CODE = {code: name for name, code in SAFETENSORS_CODES.items()}


def describe(tensor):
    """dtype, shape and C-order values; floats as float64 (exact for every float dtype)."""
    flat = tensor.detach().contiguous().reshape(-1)
    values = flat.double().tolist() if tensor.is_floating_point() else flat.tolist()
    return {'dtype': NAMES[tensor.dtype], 'shape': list(tensor.shape), 'values': values}


def reference_state_dict():
    torch.manual_seed(0)
    sd = OrderedDict()
    sd['conv.weight'] = torch.randn(2, 3, 2, 2)
    sd['fc.f64'] = torch.randn(3, dtype=torch.float64)
    sd['half'] = torch.randn(5).half()
    sd['brain'] = torch.randn(5).bfloat16()
    sd['long'] = torch.tensor([0, -7, 2**40 + 1, 2**53 - 1, -(2**53) + 1])
    sd['int'] = torch.tensor([-2**31, 2**31 - 1, 5], dtype=torch.int32)
    sd['short'] = torch.tensor([-32768, 32767, 1], dtype=torch.int16)
    sd['char'] = torch.tensor([-128, 127, 0], dtype=torch.int8)
    sd['byte'] = torch.tensor([0, 255, 128], dtype=torch.uint8)
    sd['mask'] = torch.tensor([True, False, True, True])
    # A non-contiguous view: saved with its strides over the full storage.
    sd['transposed'] = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
    # Two views of one storage, at storage offsets 3 and 6.
    shared = torch.randn(4, 3)
    sd['shared.row1'] = shared[1]
    sd['shared.rows23'] = shared[2:]
    sd['scalar'] = torch.tensor(2.5)
    sd['empty'] = torch.zeros(0)
    sd['empty2d'] = torch.zeros(2, 0, dtype=torch.int64)
    return sd


def write_safetensors(path, tensors, metadata):
    header = {'__metadata__': metadata} if metadata else {}
    chunks, offset = [], 0
    for name, tensor in tensors.items():
        data = tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b''
        header[name] = {'dtype': SAFETENSORS_CODES[NAMES[tensor.dtype]], 'shape': list(tensor.shape),
                        'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode('utf-8')
    encoded += b' ' * (-len(encoded) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)) + encoded + b''.join(chunks))


def write(folder):
    os.makedirs(folder, exist_ok=True)
    manifest = {}
    sd = reference_state_dict()
    described = {name: describe(t) for name, t in sd.items()}

    torch.save(sd, os.path.join(folder, 'state_dict.pth'))
    manifest['state_dict.pth'] = {'tensors': described, 'strides': {'transposed': list(sd['transposed'].stride())}}
    torch.save({'state_dict': sd, 'epoch': 3}, os.path.join(folder, 'checkpoint.pth'))
    manifest['checkpoint.pth'] = {'tensors': described, 'wrapped': 'state_dict', 'objects': {'epoch': 3}}

    # A real module's state_dict carries a `_metadata` attribute (pickled with BUILD).
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    torch.save(module.state_dict(), os.path.join(folder, 'module.pt'))
    manifest['module.pt'] = {'tensors': {name: describe(t) for name, t in module.state_dict().items()}}

    weight = torch.nn.Parameter(torch.randn(2, 2))
    torch.save({'weight': weight, 'plain': [1, 2.5, 'text', None, True], 'pair': (4, 'b'), 'big': 2**70,
                'nested': {'ids': torch.arange(3)}}, os.path.join(folder, 'objects.pth'))
    manifest['objects.pth'] = {
        'tensors': {'weight': describe(weight), 'nested.ids': describe(torch.arange(3))},
        'objects': {'plain': [1, 2.5, 'text', None, True], 'pair': [4, 'b'], 'big': str(2**70)},
        'requires_grad': ['weight'],
    }

    rng = np.random.default_rng(0)
    arrays = {
        'f32.npy': rng.standard_normal((2, 3)).astype('<f4'),
        'f64.npy': rng.standard_normal(4),
        'f16.npy': rng.standard_normal(3).astype('<f2'),
        'i64.npy': np.array([[1, -2], [2**40, 7]], dtype='<i8'),
        'i32.npy': np.array([-5, 2**31 - 1], dtype='<i4'),
        'u8.npy': np.arange(0, 250, 50, dtype=np.uint8).reshape(1, 5),
        'bool.npy': np.array([True, False, False]),
        'scalar.npy': np.array(1.25, dtype='<f4'),
        'cube.npy': rng.standard_normal((2, 2, 2)).astype('<f4'),
        'empty.npy': np.zeros((0, 3), dtype='<f4'),
    }
    for name, array in arrays.items():
        np.save(os.path.join(folder, name), array)
        manifest[name] = {'tensors': {'value': describe(torch.from_numpy(array.copy(order='C')))}}
    # Files the reader must refuse, each with a clear error.
    np.save(os.path.join(folder, 'fortran.npy'), np.asfortranarray(rng.standard_normal((2, 3))))
    np.save(os.path.join(folder, 'object.npy'), np.array([1, 'a'], dtype=object), allow_pickle=True)
    np.save(os.path.join(folder, 'bigendian.npy'), np.arange(3, dtype='>f4'))

    contiguous = OrderedDict((name, t.contiguous()) for name, t in sd.items())
    metadata = {'format': 'pt', 'note': 'written by io_fixtures.py'}
    write_safetensors(os.path.join(folder, 'model.safetensors'), contiguous, metadata)
    manifest['model.safetensors'] = {'tensors': described, 'metadata': metadata}

    with open(os.path.join(folder, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)
    print(json.dumps({'written': sorted(manifest)}))


def expected_tensor(spec):
    dtype = DTYPES[spec['dtype']]
    if dtype.is_floating_point:
        values = torch.tensor(spec['values'], dtype=torch.float64)
    elif dtype == torch.bool:
        values = torch.tensor(spec['values'], dtype=torch.bool)
    else:
        values = torch.tensor(spec['values'], dtype=torch.int64)
    return values.reshape(spec['shape'])


def compare(name, actual, spec, errors):
    if not isinstance(actual, torch.Tensor):
        errors.append(f'{name}: not a tensor but {type(actual).__name__}')
        return
    if NAMES.get(actual.dtype) != spec['dtype']:
        errors.append(f'{name}: dtype {actual.dtype}, expected {spec["dtype"]}')
    if list(actual.shape) != spec['shape']:
        errors.append(f'{name}: shape {list(actual.shape)}, expected {spec["shape"]}')
        return
    expected = expected_tensor(spec)
    widened = actual.double() if actual.is_floating_point() else actual.long() if actual.dtype != torch.bool else actual
    if not torch.equal(widened, expected):
        errors.append(f'{name}: values differ')


def lookup(container, dotted):
    """`nested.ids` reaches container['nested']['ids'] when there is no such flat key."""
    if dotted in container:
        return container[dotted]
    head, _, rest = dotted.partition('.')
    return lookup(container[head], rest)


def normalize(value):
    if isinstance(value, tuple):
        return [normalize(v) for v in value]
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


def parse_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (length,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + length].decode('utf-8'))
    data = raw[8 + length:]
    metadata = header.pop('__metadata__', {}) or {}
    tensors, cursor = {}, 0
    for name, info in sorted(header.items(), key=lambda item: item[1]['data_offsets']):
        begin, end = info['data_offsets']
        assert begin == cursor, f'{name}: offsets are not contiguous'
        cursor = end
        dtype = DTYPES[DTYPE_BY_CODE[info['dtype']]]
        chunk = bytearray(data[begin:end])
        flat = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.zeros(0, dtype=dtype)
        tensors[name] = flat.reshape(info['shape'])
    assert cursor == len(data), 'data section has trailing bytes'
    return tensors, metadata


def check_torch(path, entry, errors):
    # PyTorch 1.13's weights-only unpickler lacks the BINFLOAT opcode, so a file with a
    # Python float (torch.save's own too) opts out with "weights_only": false.
    for weights_only in (True, False) if entry.get('weights_only', True) else (False,):
        label = f'{os.path.basename(path)} (weights_only={weights_only})'
        try:
            loaded = torch.load(path, weights_only=weights_only)
        except Exception as error:  # report, then keep checking the other files
            errors.append(f'{label}: torch.load failed: {error}')
            continue
        root = loaded[entry['wrapped']] if entry.get('wrapped') else loaded
        if entry.get('ordered') and type(root) is not OrderedDict:
            errors.append(f'{label}: the state dict is a {type(root).__name__}, not an OrderedDict')
        for name, spec in entry['tensors'].items():
            compare(f'{label}: {name}', lookup(root, name), spec, errors)
        for key, value in entry.get('objects', {}).items():
            if normalize(loaded[key]) != value:
                errors.append(f'{label}: {key} is {loaded[key]!r}, expected {value!r}')


def check(folder):
    with open(os.path.join(folder, 'manifest.json')) as f:
        manifest = json.load(f)
    errors, checked = [], 0
    for file, entry in manifest.items():
        path = os.path.join(folder, file)
        if file.endswith('.npy'):
            array = np.load(path, allow_pickle=False)
            if not array.flags.c_contiguous and array.size > 1:
                errors.append(f'{file}: not C order')
            compare(file, torch.from_numpy(array.copy(order='C')), entry['tensors']['value'], errors)
        elif file.endswith('.safetensors'):
            tensors, metadata = parse_safetensors(path)
            if list(tensors) and sorted(tensors) != sorted(entry['tensors']):
                errors.append(f'{file}: names {sorted(tensors)}, expected {sorted(entry["tensors"])}')
            for name, spec in entry['tensors'].items():
                compare(f'{file}: {name}', tensors.get(name), spec, errors)
            if metadata != entry.get('metadata', {}):
                errors.append(f'{file}: metadata {metadata}, expected {entry.get("metadata", {})}')
        else:
            check_torch(path, entry, errors)
        checked += 1
    print(json.dumps({'ok': not errors, 'checked': checked, 'errors': errors}))


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] not in ('write', 'check'):
        sys.exit(__doc__)
    (write if sys.argv[1] == 'write' else check)(sys.argv[2])
