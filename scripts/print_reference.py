# PyTorch's printed forms, the reference for test/nn-print.test.ts: repr() of tensors
# (values, abbreviation, dtype and autograd suffixes), of torch.nn layers, and of
# torchvision's resnet18. Prints one JSON object.
import json
import math

import torch
import torchvision

torch.manual_seed(0)


def values_of(t):
    return [float(v) if t.dtype.is_floating_point else (bool(v) if t.dtype == torch.bool else int(v)) for v in t.reshape(-1).tolist()]


def tensor_case(name, t):
    facts = {
        'shape': list(t.shape),
        'dtype': str(t.dtype).replace('torch.', ''),
        'requiresGrad': t.requires_grad,
        'values': [None if isinstance(v, float) and not math.isfinite(v) else v for v in values_of(t)],
        'nonFinite': [('nan' if math.isnan(v) else 'inf' if v > 0 else '-inf') if isinstance(v, float) and not math.isfinite(v) else None for v in values_of(t)],
        'repr': repr(t),
    }
    return name, facts


cases = dict([
    tensor_case('small float', torch.randn(3, 4)),
    tensor_case('vector', torch.randn(7)),
    tensor_case('long vector wraps', torch.randn(30)),
    tensor_case('integers', torch.arange(12).reshape(3, 4)),
    tensor_case('abbreviated integers', torch.arange(2000)),
    tensor_case('abbreviated 2-D', torch.randn(50, 40)),
    tensor_case('abbreviated 4-D', torch.randn(2, 3, 20, 20)),
    tensor_case('3-D', torch.randn(2, 3, 4)),
    tensor_case('whole floats', torch.tensor([[1.0, -2.0], [30.0, 4.0]])),
    tensor_case('scientific', torch.randn(2, 3) * 1e-5),
    tensor_case('wide range', torch.tensor([1e-3, 1.0, 5e4])),
    tensor_case('float64', torch.randn(2, 2, dtype=torch.float64)),
    tensor_case('int32', torch.tensor([1, -20, 300], dtype=torch.int32)),
    tensor_case('uint8', torch.tensor([[0, 255], [7, 8]], dtype=torch.uint8)),
    tensor_case('bool', torch.tensor([True, False, True])),
    tensor_case('scalar', torch.tensor(3.25)),
    tensor_case('zeros', torch.zeros(2, 2)),
    tensor_case('non-finite', torch.tensor([1.5, float('nan'), float('inf'), -float('inf')])),
    tensor_case('requires grad', torch.randn(2, 3).requires_grad_()),
    tensor_case('empty', torch.zeros(0)),
    tensor_case('empty 2-D', torch.zeros(0, 3)),
])

modules = {
    'Conv2d(3, 64, 7, stride=2, padding=3, bias=False)': repr(torch.nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)),
    'Conv2d(64, 128, 3, groups=32, dilation=2)': repr(torch.nn.Conv2d(64, 128, 3, groups=32, dilation=2)),
    'BatchNorm2d(64)': repr(torch.nn.BatchNorm2d(64)),
    'BatchNorm2d(8, eps=0.001, momentum=None, affine=False, track_running_stats=False)': repr(torch.nn.BatchNorm2d(8, eps=0.001, momentum=None, affine=False, track_running_stats=False)),
    'Linear(512, 10)': repr(torch.nn.Linear(512, 10)),
    'Linear(4, 2, bias=False)': repr(torch.nn.Linear(4, 2, bias=False)),
    'ReLU(inplace=True)': repr(torch.nn.ReLU(inplace=True)),
    'ReLU()': repr(torch.nn.ReLU()),
    'MaxPool2d(3, stride=2, padding=1)': repr(torch.nn.MaxPool2d(3, stride=2, padding=1)),
    'AvgPool2d(2)': repr(torch.nn.AvgPool2d(2)),
    'AdaptiveAvgPool2d((1, 1))': repr(torch.nn.AdaptiveAvgPool2d((1, 1))),
    'Flatten()': repr(torch.nn.Flatten()),
    'Dropout(0.2)': repr(torch.nn.Dropout(0.2)),
    'Identity()': repr(torch.nn.Identity()),
    'PReLU(64)': repr(torch.nn.PReLU(64)),
    'Sequential(Conv2d(3, 8, 3, padding=1), BatchNorm2d(8), ReLU(), Sequential(Linear(8, 2)))': repr(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Sequential(torch.nn.Linear(8, 2)))),
}

print(json.dumps({'tensors': cases, 'modules': modules, 'resnet18': repr(torchvision.models.resnet18())}))
