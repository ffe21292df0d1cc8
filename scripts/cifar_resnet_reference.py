#!/usr/bin/python3
"""The CIFAR ResNets of He et al. (2015), section 4.2, in PyTorch: the reference for the
zoo's CifarResNet (same layers, same state-dict keys) and the peer network of the
training benchmark (import build_cifar_resnet).

A 3x3 stem with 16 channels, three stages of n basic blocks with 16, 32 and 64 channels
(depth 6n + 2), global average pooling and a linear classifier. Where a stage halves
the size and doubles the channels the shortcut is option A (subsample, then zero
channels appended after the input's: no parameters) or option B (1x1 convolution and
BatchNorm projection).

  cifar_resnet_reference.py structure SPEC_JSON
      SPEC_JSON is a list of {"depth", "shortcut", "num_classes", "in_chans"}; prints a
      JSON list of {"keys": [[key, shape], ...], "params"} in the same order.

  cifar_resnet_reference.py fixtures OUT_DIR SPEC_JSON
      SPEC_JSON is a list of {"id", "depth", "shortcut", "num_classes", "in_chans",
      "input": [N, C, H, W], "seed"}. For each: random weights and BatchNorm statistics,
      OUT_DIR/ID.safetensors (the state dict) and OUT_DIR/ID-io.safetensors ("input" and
      the eval-mode "output").
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_reference import randomise_batchnorm, write_safetensors  # noqa: E402


class ZeroPadShortcut(nn.Module):
    """Option A: the identity, subsampled, with zero channels appended."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.extra = out_channels - in_channels
        self.stride = stride

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class BasicBlock(nn.Module):
    def __init__(self, in_channels, channels, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class CifarResNet(nn.Module):
    def __init__(self, depth, shortcut='A', num_classes=10, in_chans=3, widths=(16, 32, 64), zero_init_residual=False):
        super().__init__()
        if (depth - 2) % (2 * len(widths)) != 0:
            raise ValueError(f'depth must be {2 * len(widths)}n + 2, got {depth}')
        blocks = (depth - 2) // (2 * len(widths))
        self.conv1 = nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        channels = widths[0]
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or channels != width:
                if shortcut == 'A':
                    downsample = ZeroPadShortcut(channels, width, stride)
                else:
                    downsample = nn.Sequential(nn.Conv2d(channels, width, 1, stride, bias=False), nn.BatchNorm2d(width))
            layers = [BasicBlock(channels, width, stride, downsample)]
            layers += [BasicBlock(width, width) for _ in range(1, blocks)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*layers))
            channels = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.stages = len(widths)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_in', nonlinearity='relu')
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, BasicBlock):
                    nn.init.constant_(module.bn2.weight, 0)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for i in range(self.stages):
            x = getattr(self, f'layer{i + 1}')(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build_cifar_resnet(depth, shortcut='A', num_classes=10, in_chans=3, **kwargs):
    return CifarResNet(depth, shortcut, num_classes, in_chans, **kwargs)


def from_spec(item):
    return build_cifar_resnet(item['depth'], item.get('shortcut', 'A'), item.get('num_classes', 10), item.get('in_chans', 3))


def structure(spec):
    out = []
    for item in spec:
        model = from_spec(item)
        out.append({
            'keys': [[key, list(value.shape)] for key, value in model.state_dict().items()],
            'params': sum(p.numel() for p in model.parameters()),
        })
    json.dump(out, sys.stdout)


def fixtures(out_dir, spec):
    for item in spec:
        torch.manual_seed(item.get('seed', 0))
        model = from_spec(item)
        randomise_batchnorm(model)
        model.eval()
        x = torch.randn(*item['input'])
        with torch.no_grad():
            y = model(x)
        write_safetensors(os.path.join(out_dir, f'{item["id"]}.safetensors'), model.state_dict())
        write_safetensors(os.path.join(out_dir, f'{item["id"]}-io.safetensors'), {'input': x, 'output': y})


def main():
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    if len(sys.argv) == 3 and sys.argv[1] == 'structure':
        structure(json.loads(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == 'fixtures':
        fixtures(sys.argv[2], json.loads(sys.argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
