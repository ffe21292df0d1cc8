#!/usr/bin/python3
"""torchvision's DenseNets, and DenseNet-BC for CIFAR-sized inputs, as references.

  densenet_reference.py structure
      JSON on stdout: for densenet121/161/169/201 (torchvision, 1000 classes) and the
      DenseNet-BC configurations of Huang et al. 2017, Table 2 (3 input channels, 10
      classes), the state-dict keys in order with shapes, and the parameter count.

  densenet_reference.py fixtures OUT_DIR SPEC_JSON
      SPEC_JSON is a list of {"name", "format": "pth" | "safetensors", "input": [N, C, H, W],
      "seed", "old_keys": bool, "num_classes", "in_chans"}. For each model: random weights,
      randomised BatchNorm statistics and affine parameters, the state dict in OUT_DIR/NAME.EXT
      (with "old_keys", under the keys of torchvision's first DenseNet checkpoints:
      `denselayer1.norm.1.weight` for `denselayer1.norm1.weight`), and OUT_DIR/NAME-io.safetensors
      with "input" and "output" (eval mode).

DenseNet-BC (the paper's CIFAR networks): a 3x3 stem convolution of 2k channels, three
dense blocks of (L - 4) / 6 bottleneck layers each, transitions with compression 0.5,
then BatchNorm, ReLU, global average pooling and the classifier. Built here from
torchvision's own dense block and transition, so only the stem and the layout are ours.
"""
import collections
import json
import os
import re
import sys

import torch
import torch.nn as nn
import torchvision.models as tvm
from torchvision.models.densenet import _DenseBlock, _Transition

sys.path.insert(0, os.path.dirname(__file__))
from resnet_reference import describe_structure, eval_fixture, run_commands, skip_initialisation, write_safetensors, write_state  # noqa: E402

TORCHVISION = ['densenet121', 'densenet161', 'densenet169', 'densenet201']
# name -> (depth L, growth rate k), Table 2 of Huang et al. 2017
BC = {'densenet_bc_100_12': (100, 12), 'densenet_bc_250_24': (250, 24), 'densenet_bc_190_40': (190, 40)}


class DenseNetBC(nn.Module):
    def __init__(self, depth, growth_rate, num_classes=10, in_chans=3, bn_size=4, compression=0.5):
        super().__init__()
        layers_per_block = (depth - 4) // 6
        channels = 2 * growth_rate
        features = collections.OrderedDict()
        features['conv0'] = nn.Conv2d(in_chans, channels, kernel_size=3, padding=1, bias=False)
        for i in range(3):
            features[f'denseblock{i + 1}'] = _DenseBlock(layers_per_block, channels, bn_size, growth_rate, 0.0)
            channels += layers_per_block * growth_rate
            if i != 2:
                out = int(channels * compression)
                features[f'transition{i + 1}'] = _Transition(channels, out)
                channels = out
        features['norm5'] = nn.BatchNorm2d(channels)
        self.features = nn.Sequential(features)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = torch.relu(self.features(x))
        x = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(x)


def build(name, num_classes=None, in_chans=3):
    if name in TORCHVISION:
        if in_chans != 3:
            raise SystemExit('torchvision DenseNets take 3 input channels')
        return getattr(tvm, name)(weights=None, num_classes=num_classes or 1000)
    if name in BC:
        depth, growth = BC[name]
        return DenseNetBC(depth, growth, num_classes=num_classes or 10, in_chans=in_chans)
    raise SystemExit(f'unknown model {name}; expected one of {", ".join(TORCHVISION + list(BC))}')


def structure():
    skip_initialisation()
    json.dump({name: describe_structure(build(name)) for name in TORCHVISION + list(BC)}, sys.stdout)


def to_old_keys(state):
    """The inverse of torchvision's _load_state_dict pattern: norm1 -> norm.1, conv2 -> conv.2."""
    pattern = re.compile(r'^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.((?:weight|bias|running_mean|running_var))$')
    renamed = collections.OrderedDict()
    for key, value in state.items():
        match = pattern.match(key)
        renamed[f'{match.group(1)}.{match.group(2)}.{match.group(3)}' if match else key] = value
    return renamed


def fixtures(out_dir, spec):
    for item in spec:
        torch.manual_seed(item.get('seed', 0))
        state, io = eval_fixture(build(item['name'], item.get('num_classes'), item.get('in_chans', 3)), item['input'])
        if item.get('old_keys'):
            state = to_old_keys(state)
        stem = item.get('id', item['name'])
        write_state(state, out_dir, stem, item['format'])
        write_safetensors(os.path.join(out_dir, f'{stem}-io.safetensors'), io)


if __name__ == '__main__':
    run_commands(__doc__, structure, fixtures, structure_takes_spec=False)
