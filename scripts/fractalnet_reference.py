#!/usr/bin/python3
"""FractalNet written from the paper (Larsson, Maire, Shakhnarovich 2016) in PyTorch, as
the reference for parameter counts, state-dict layout and eval outputs.

  fractalnet_reference.py structure SPEC_JSON
      SPEC_JSON: a list of {"columns", "blocks", "channels", "in_chans", "num_classes"}.
      JSON on stdout: for each, the state-dict keys in order with shapes, and the
      parameter count.

  fractalnet_reference.py fixtures OUT_DIR SPEC_JSON
      SPEC_JSON: a list of the same specs with "id", "input" and "seed". For each, random
      weights and randomised BatchNorm statistics in OUT_DIR/ID.safetensors, and the
      eval-mode output (every column) in OUT_DIR/ID-io.safetensors.

The paper's definitions: conv = 3x3 convolution, BatchNorm, ReLU; the expansion rule
f_1(z) = conv(z), f_{C+1}(z) = join(f_C(f_C(z)), conv(z)), with join the element-wise
mean and the last join of the inner f_C merged into the outer join (Figure 1: one join
per depth, averaging one input per column); 2x2 max-pooling after each of the B blocks;
a linear classifier on the pooled features.
"""
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from resnet_reference import describe_structure, eval_fixture, run_commands, write_safetensors  # noqa: E402


class ConvUnit(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x)))


class Expansion(nn.Module):
    """f_C; branches() returns the inputs of its final join, deepest column first."""

    def __init__(self, columns, cin, cout):
        super().__init__()
        self.columns = columns
        if columns > 1:
            self.deep1 = Expansion(columns - 1, cin, cout)
            self.deep2 = Expansion(columns - 1, cout, cout)
        self.shallow = ConvUnit(cin, cout)

    def branches(self, z):
        if self.columns == 1:
            return [self.shallow(z)]
        middle = torch.stack(self.deep1.branches(z)).mean(0)
        return self.deep2.branches(middle) + [self.shallow(z)]


class Block(Expansion):
    def forward(self, x):
        return nn.functional.max_pool2d(torch.stack(self.branches(x)).mean(0), 2)


class FractalNet(nn.Module):
    def __init__(self, columns, blocks, channels=None, in_chans=3, num_classes=10):
        super().__init__()
        channels = channels or [64, 128, 256, 512, 512][:blocks]
        cin = in_chans
        for i, cout in enumerate(channels):
            setattr(self, f'block{i + 1}', Block(columns, cin, cout))
            cin = cout
        self.blocks = blocks
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
        for i in range(self.blocks):
            x = getattr(self, f'block{i + 1}')(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def build(spec):
    return FractalNet(spec['columns'], spec['blocks'], spec.get('channels'), spec.get('in_chans', 3), spec.get('num_classes', 10))


def structure(specs):
    json.dump([describe_structure(build(spec)) for spec in specs], sys.stdout)


def fixtures(out_dir, specs):
    for spec in specs:
        torch.manual_seed(spec.get('seed', 0))
        state, io = eval_fixture(build(spec), spec['input'])
        write_safetensors(os.path.join(out_dir, f'{spec["id"]}.safetensors'), state)
        write_safetensors(os.path.join(out_dir, f'{spec["id"]}-io.safetensors'), io)


if __name__ == '__main__':
    run_commands(__doc__, structure, fixtures, structure_takes_spec=True)
