#!/usr/bin/python3
"""arcface_torch's IResNet (deepinsight/insightface recognition/arcface_torch/backbones/
iresnet.py) written out from its documented layout, as the reference for ours: the
same modules under the same names (conv1, bn1, prelu, layer1.0.{bn1, conv1, bn2, prelu,
conv2, bn3, downsample}, bn2, dropout, fc, features), eps 1e-5 everywhere, `features`
a BatchNorm1d whose weight is frozen at 1.

  iresnet_reference.py structure
      JSON on stdout: for iresnet18/34/50/100/200, the state-dict keys in order with
      shapes, the parameter count and the trainable parameter count.
  iresnet_reference.py fixtures OUT_DIR SPEC_JSON
      SPEC_JSON: a list of {"name", "input": [N, 3, 112, 112], "seed"}. Random weights,
      randomised BatchNorm statistics and affine parameters (features' weight included,
      as a trained checkpoint holds it), written as OUT_DIR/NAME.pth (torch.save), with
      OUT_DIR/NAME-input.npy and OUT_DIR/NAME-output.npy (the eval-mode embedding).
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn

LAYERS = {'iresnet18': [2, 2, 2, 2], 'iresnet34': [3, 4, 6, 3], 'iresnet50': [3, 4, 14, 3], 'iresnet100': [3, 13, 30, 3], 'iresnet200': [6, 26, 60, 6]}


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class IBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.conv1 = conv3x3(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-05)
        self.prelu = nn.PReLU(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-05)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (self.downsample(x) if self.downsample is not None else x)


class IResNet(nn.Module):
    fc_scale = 7 * 7

    def __init__(self, layers, dropout=0, num_features=512):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-05)
        self.prelu = nn.PReLU(64)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1])
        self.layer3 = self._make_layer(256, layers[2])
        self.layer4 = self._make_layer(512, layers[3])
        self.bn2 = nn.BatchNorm2d(512, eps=1e-05)
        self.dropout = nn.Dropout(p=dropout, inplace=True)
        self.fc = nn.Linear(512 * self.fc_scale, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-05)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False

    def _make_layer(self, planes, blocks):
        downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=2, bias=False), nn.BatchNorm2d(planes, eps=1e-05))
        layers = [IBasicBlock(self.inplanes, planes, 2, downsample)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.bn2(x), 1)
        return self.features(self.fc(self.dropout(x)))


def skip_initialisation():
    """The listing reads names and shapes only: filling the weights would only cost time."""
    def keep(tensor, *args, **kwargs):
        return tensor
    for name in ('kaiming_uniform_', 'uniform_', 'normal_', 'constant_', 'zeros_', 'ones_'):
        setattr(torch.nn.init, name, keep)


def structure():
    skip_initialisation()
    out = {}
    for name, layers in LAYERS.items():
        model = IResNet(layers)
        state = model.state_dict()
        out[name] = {
            'keys': [[key, list(value.shape)] for key, value in state.items()],
            'params': sum(p.numel() for p in model.parameters()),
            'trainable': sum(p.numel() for p in model.parameters() if p.requires_grad),
        }
        del model, state
    json.dump(out, sys.stdout)


def randomise(model):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
                module.num_batches_tracked.fill_(3)
            elif isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0, 1 / np.sqrt(fan_in))
            elif isinstance(module, nn.PReLU):
                module.weight.uniform_(0, 0.5)


def fixtures(out_dir, spec):
    for item in spec:
        torch.manual_seed(item.get('seed', 0))
        model = IResNet(LAYERS[item['name']])
        randomise(model)
        model.eval()
        # An image in 0..255, prepared as arcface_torch does: (x / 255 - 0.5) / 0.5.
        x = (torch.rand(*item['input']) * 255 / 255 - 0.5) / 0.5
        with torch.no_grad():
            y = model(x)
        prefix = os.path.join(out_dir, item['name'])
        torch.save(model.state_dict(), f'{prefix}.pth')
        np.save(f'{prefix}-input.npy', x.numpy())
        np.save(f'{prefix}-output.npy', y.numpy())


def main():
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    if len(sys.argv) == 2 and sys.argv[1] == 'structure':
        structure()
    elif len(sys.argv) == 4 and sys.argv[1] == 'fixtures':
        fixtures(sys.argv[2], json.loads(sys.argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
