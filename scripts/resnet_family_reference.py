#!/usr/bin/python3
"""timm's residual families as PyTorch modules, written from timm's documented layout
(timm/models/resnet.py, resnetv2.py, timm/layers/squeeze_excite.py, drop.py,
classifier.py; timm itself is not installed), as the reference for the zoo's tests.

  resnet_family_reference.py structure NAMES_JSON
      JSON on stdout: for each name, its state-dict keys in order with their shapes and
      its parameter count at 1000 classes (weights left uninitialised).

  resnet_family_reference.py fixtures OUT_DIR SPEC_JSON
      SPEC_JSON is a list of {"name", "input", "seed", "output_stride"?}. For each:
      random weights and BatchNorm statistics, the state dict written both as
      OUT_DIR/NAME.pth (torch.save) and OUT_DIR/NAME.safetensors, and OUT_DIR/NAME-io.safetensors with
      "input", "output" (eval mode) and, with output_stride, "output_os" (the same
      weights built with that output stride).
"""
import json
import math
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_reference import randomise_batchnorm, skip_initialisation, write_safetensors  # noqa: E402


def make_divisible(v, divisor=8, min_value=None, round_limit=.9):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


class SEModule(nn.Module):
    """timm.layers.squeeze_excite.SEModule with its defaults (rd_ratio 1/16, divisor 8)."""

    def __init__(self, channels, rd_ratio=1. / 16, rd_divisor=8):
        super().__init__()
        rd_channels = make_divisible(channels * rd_ratio, rd_divisor, round_limit=0.)
        self.fc1 = nn.Conv2d(channels, rd_channels, kernel_size=1, bias=True)
        self.bn = nn.Identity()
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(rd_channels, channels, kernel_size=1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        x_se = x.mean((2, 3), keepdim=True)
        x_se = self.act(self.bn(self.fc1(x_se)))
        return x * self.gate(self.fc2(x_se))


class AvgPool2dSame(nn.AvgPool2d):
    """timm's 'SAME'-padded average pool, for a 2x2 window at stride 1."""

    def forward(self, x):
        return F.avg_pool2d(F.pad(x, (0, 1, 0, 1)), self.kernel_size, self.stride, 0, self.ceil_mode, self.count_include_pad)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, cardinality=1, base_width=64,
                 first_dilation=None, dilation=1, attn=False):
        super().__init__()
        first_dilation = first_dilation or dilation
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=first_dilation, dilation=first_dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.se = SEModule(planes) if attn else None
        self.act2 = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        shortcut = x
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.bn2(self.conv2(x))
        if self.se is not None:
            x = self.se(x)
        if self.downsample is not None:
            shortcut = self.downsample(shortcut)
        return self.act2(x + shortcut)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, cardinality=1, base_width=64,
                 first_dilation=None, dilation=1, attn=False):
        super().__init__()
        width = int(math.floor(planes * (base_width / 64)) * cardinality)
        outplanes = planes * self.expansion
        first_dilation = first_dilation or dilation
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=first_dilation, dilation=first_dilation, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width, outplanes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(outplanes)
        self.se = SEModule(outplanes) if attn else None
        self.act3 = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        shortcut = x
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        if self.se is not None:
            x = self.se(x)
        if self.downsample is not None:
            shortcut = self.downsample(shortcut)
        return self.act3(x + shortcut)


def downsample_conv(in_channels, out_channels, stride, dilation):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))


def avg_pool(stride, dilation):
    avg_stride = stride if dilation == 1 else 1
    if stride == 1 and dilation == 1:
        return nn.Identity()
    pool = AvgPool2dSame if avg_stride == 1 and dilation > 1 else nn.AvgPool2d
    return pool(2, avg_stride, ceil_mode=True, count_include_pad=False)


def downsample_avg(in_channels, out_channels, stride, dilation):
    return nn.Sequential(avg_pool(stride, dilation), nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))


class ResNet(nn.Module):
    """timm.models.resnet.ResNet for the options the zoo registers."""

    def __init__(self, block, layers, num_classes=1000, in_chans=3, output_stride=32, cardinality=1, base_width=64,
                 stem_width=64, stem_type='', avg_down=False, attn=False):
        super().__init__()
        deep_stem = 'deep' in stem_type
        inplanes = stem_width * 2 if deep_stem else 64
        if deep_stem:
            stem_chs = (3 * (stem_width // 4), stem_width) if 'tiered' in stem_type else (stem_width, stem_width)
            self.conv1 = nn.Sequential(*[
                nn.Conv2d(in_chans, stem_chs[0], 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(stem_chs[0]), nn.ReLU(inplace=True),
                nn.Conv2d(stem_chs[0], stem_chs[1], 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(stem_chs[1]), nn.ReLU(inplace=True),
                nn.Conv2d(stem_chs[1], inplanes, 3, stride=1, padding=1, bias=False)])
        else:
            self.conv1 = nn.Conv2d(in_chans, inplanes, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        net_stride, dilation, prev_dilation = 4, 1, 1
        for stage_idx, (planes, num_blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if stage_idx == 0 else 2
            if net_stride >= output_stride:
                dilation *= stride
                stride = 1
            else:
                net_stride *= stride
            downsample = None
            if stride != 1 or inplanes != planes * block.expansion:
                make = downsample_avg if avg_down else downsample_conv
                downsample = make(inplanes, planes * block.expansion, stride, dilation)
            blocks = []
            for block_idx in range(num_blocks):
                blocks.append(block(inplanes, planes, stride if block_idx == 0 else 1, downsample if block_idx == 0 else None,
                                    cardinality=cardinality, base_width=base_width, first_dilation=prev_dilation,
                                    dilation=dilation, attn=attn))
                prev_dilation = dilation
                inplanes = planes * block.expansion
            self.add_module(f'layer{stage_idx + 1}', nn.Sequential(*blocks))
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x):
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.global_pool(x).flatten(1))


class BatchNormAct2d(nn.BatchNorm2d):
    """timm.layers.norm_act.BatchNormAct2d: BatchNorm2d's keys, its ReLU as child `act`."""

    def __init__(self, num_features):
        super().__init__(num_features)
        self.drop = nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.drop(super().forward(x)))


class DownsampleV2(nn.Module):
    """timm's DownsampleConv / DownsampleAvg with preact=True (norm an Identity)."""

    def __init__(self, in_chs, out_chs, stride, dilation, avg_down):
        super().__init__()
        if avg_down:
            self.pool = avg_pool(stride, dilation)
        self.conv = nn.Conv2d(in_chs, out_chs, 1, stride=1 if avg_down else stride, bias=False)
        self.norm = nn.Identity()

    def forward(self, x):
        return self.norm(self.conv(self.pool(x) if hasattr(self, 'pool') else x))


class PreActBlock(nn.Module):
    """timm's PreActBasic (basic) and PreActBottleneck."""

    def __init__(self, in_chs, out_chs, basic, bottle_ratio, stride, dilation, first_dilation, project, avg_down):
        super().__init__()
        mid = make_divisible(out_chs * bottle_ratio)
        if basic:
            project = project and (stride != 1 or first_dilation != dilation or in_chs != out_chs)
        self.downsample = DownsampleV2(in_chs, out_chs, stride, dilation, avg_down) if project else None
        self.norm1 = BatchNormAct2d(in_chs)
        conv3 = lambda i, o, s, d: nn.Conv2d(i, o, 3, stride=s, padding=d, dilation=d, bias=False)  # noqa: E731
        if basic:
            self.conv1 = conv3(in_chs, mid, stride, first_dilation)
            self.norm2 = BatchNormAct2d(mid)
            self.conv2 = conv3(mid, out_chs, 1, dilation)
        else:
            self.conv1 = nn.Conv2d(in_chs, mid, 1, bias=False)
            self.norm2 = BatchNormAct2d(mid)
            self.conv2 = conv3(mid, mid, stride, first_dilation)
            self.norm3 = BatchNormAct2d(mid)
            self.conv3 = nn.Conv2d(mid, out_chs, 1, bias=False)
        self.basic = basic

    def forward(self, x):
        x_preact = self.norm1(x)
        shortcut = self.downsample(x_preact) if self.downsample is not None else x
        x = self.conv2(self.norm2(self.conv1(x_preact)))
        if not self.basic:
            x = self.conv3(self.norm3(x))
        return x + shortcut


class ResNetStage(nn.Module):
    def __init__(self, in_chs, out_chs, stride, dilation, depth, **kwargs):
        super().__init__()
        first_dilation = 1 if dilation in (1, 2) else 2
        self.blocks = nn.Sequential()
        prev = in_chs
        for block_idx in range(depth):
            self.blocks.add_module(str(block_idx), PreActBlock(prev, out_chs, stride=stride if block_idx == 0 else 1, dilation=dilation,
                                                               first_dilation=first_dilation, project=block_idx == 0, **kwargs))
            prev = out_chs
            first_dilation = dilation

    def forward(self, x):
        return self.blocks(x)


class ClassifierHeadConv(nn.Module):
    """timm.layers.classifier.ClassifierHead with use_conv=True and average pooling."""

    def __init__(self, in_features, num_classes):
        super().__init__()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.)
        self.fc = nn.Conv2d(in_features, num_classes, 1, bias=True)
        self.flatten = nn.Flatten(1)

    def forward(self, x):
        return self.flatten(self.fc(self.drop(self.global_pool(x))))


class ResNetV2(nn.Module):
    """timm.models.resnetv2.ResNetV2, pre-activation, with BatchNormAct2d and plain convolutions
    (resnetv2_18 ... resnetv2_50d), plus a 3x3 stride-1 'cifar' stem."""

    def __init__(self, layers, channels, basic, num_classes=1000, in_chans=3, output_stride=32, stem_chs=64, stem_type='',
                 avg_down=False, bottle_ratio=0.25):
        super().__init__()
        stem = OrderedDict()
        if stem_type == 'cifar':
            stem['conv'] = nn.Conv2d(in_chans, stem_chs, 3, stride=1, padding=1, bias=False)
            curr_stride = 1
        else:
            if stem_type in ('deep', 'tiered'):
                chs = (3 * stem_chs // 8, stem_chs // 2) if stem_type == 'tiered' else (stem_chs // 2, stem_chs // 2)
                stem['conv1'] = nn.Conv2d(in_chans, chs[0], 3, stride=2, padding=1, bias=False)
                stem['norm1'] = BatchNormAct2d(chs[0])
                stem['conv2'] = nn.Conv2d(chs[0], chs[1], 3, stride=1, padding=1, bias=False)
                stem['norm2'] = BatchNormAct2d(chs[1])
                stem['conv3'] = nn.Conv2d(chs[1], stem_chs, 3, stride=1, padding=1, bias=False)
            else:
                stem['conv'] = nn.Conv2d(in_chans, stem_chs, 7, stride=2, padding=3, bias=False)
            stem['pool'] = nn.MaxPool2d(3, stride=2, padding=1)
            curr_stride = 4
        self.stem = nn.Sequential(stem)
        prev, dilation = stem_chs, 1
        self.stages = nn.Sequential()
        for stage_idx, (d, c) in enumerate(zip(layers, channels)):
            out = make_divisible(c)
            stride = 1 if stage_idx == 0 else 2
            if curr_stride >= output_stride:
                dilation *= stride
                stride = 1
            self.stages.add_module(str(stage_idx), ResNetStage(prev, out, stride, dilation, d, basic=basic, bottle_ratio=bottle_ratio, avg_down=avg_down))
            prev = out
            curr_stride *= stride
        self.norm = BatchNormAct2d(prev)
        self.head = ClassifierHeadConv(prev, num_classes)

    def forward(self, x):
        return self.head(self.norm(self.stages(self.stem(x))))


def resnet(block, layers, **kwargs):
    return lambda **extra: ResNet(block, layers, **{**kwargs, **extra})


def resnetv2(layers, basic=False, **kwargs):
    channels = (64, 128, 256, 512) if basic else (256, 512, 1024, 2048)
    bottle = 1.0 if basic else 0.25
    return lambda **extra: ResNetV2(layers, channels, basic, bottle_ratio=bottle, **{**kwargs, **extra})


def preact_cifar(depth, basic):
    n = (depth - 2) // (6 if basic else 9)
    channels = (16, 32, 64) if basic else (64, 128, 256)
    return lambda **extra: ResNetV2([n, n, n], channels, basic, bottle_ratio=1.0 if basic else 0.25, stem_chs=16, stem_type='cifar',
                                    **{'num_classes': 10, **extra})


D = dict(stem_width=32, stem_type='deep', avg_down=True)
MODELS = {
    'seresnet18': resnet(BasicBlock, [2, 2, 2, 2], attn=True),
    'seresnet34': resnet(BasicBlock, [3, 4, 6, 3], attn=True),
    'seresnet50': resnet(Bottleneck, [3, 4, 6, 3], attn=True),
    'seresnet101': resnet(Bottleneck, [3, 4, 23, 3], attn=True),
    'seresnet152': resnet(Bottleneck, [3, 8, 36, 3], attn=True),
    'seresnext50_32x4d': resnet(Bottleneck, [3, 4, 6, 3], cardinality=32, base_width=4, attn=True),
    'seresnext101_32x4d': resnet(Bottleneck, [3, 4, 23, 3], cardinality=32, base_width=4, attn=True),
    'resnet18d': resnet(BasicBlock, [2, 2, 2, 2], **D),
    'resnet26d': resnet(Bottleneck, [2, 2, 2, 2], **D),
    'resnet34d': resnet(BasicBlock, [3, 4, 6, 3], **D),
    'resnet50c': resnet(Bottleneck, [3, 4, 6, 3], stem_width=32, stem_type='deep'),
    'resnet50d': resnet(Bottleneck, [3, 4, 6, 3], **D),
    'resnet101d': resnet(Bottleneck, [3, 4, 23, 3], **D),
    'resnet152d': resnet(Bottleneck, [3, 8, 36, 3], **D),
    'resnetv2_18': resnetv2([2, 2, 2, 2], basic=True),
    'resnetv2_34': resnetv2([3, 4, 6, 3], basic=True),
    'resnetv2_50': resnetv2([3, 4, 6, 3]),
    'resnetv2_101': resnetv2([3, 4, 23, 3]),
    'resnetv2_152': resnetv2([3, 8, 36, 3]),
    'resnetv2_50d': resnetv2([3, 4, 6, 3], stem_type='deep', avg_down=True),
    'preact_resnet110': preact_cifar(110, basic=True),
    'preact_resnet164': preact_cifar(164, basic=False),
}


def build(name, **extra):
    if name not in MODELS:
        raise SystemExit(f'unknown model {name}; expected one of {", ".join(MODELS)}')
    return MODELS[name](**extra)


def structure(names):
    skip_initialisation()
    out = {}
    for name in names:
        model = build(name)
        out[name] = {
            'keys': [[key, list(value.shape)] for key, value in model.state_dict().items()],
            'params': sum(p.numel() for p in model.parameters()),
        }
        del model
    json.dump(out, sys.stdout)


def fixtures(out_dir, spec):
    for item in spec:
        name = item['name']
        torch.manual_seed(item.get('seed', 0))
        model = build(name)
        randomise_batchnorm(model)
        model.eval()
        x = torch.randn(*item['input'])
        with torch.no_grad():
            outputs = {'input': x, 'output': model(x)}
            if 'output_stride' in item:
                dilated = build(name, output_stride=item['output_stride'])
                dilated.load_state_dict(model.state_dict())
                outputs['output_os'] = dilated.eval()(x)
        state = model.state_dict()
        torch.save(state, os.path.join(out_dir, f'{name}.pth'))
        write_safetensors(os.path.join(out_dir, f'{name}.safetensors'), state)
        write_safetensors(os.path.join(out_dir, f'{name}-io.safetensors'), outputs)


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
