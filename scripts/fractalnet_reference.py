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
    def __init__(self, cin, cout, drop_rate=0.0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(cout)
        self.drop_rate = drop_rate

    def forward(self, x):
        return nn.functional.dropout(torch.relu(self.norm(self.conv(x))), self.drop_rate, self.training)


def sample_join(inputs, plan):
    """Which inputs of a join (deepest column first) take part: plan is ('all',),
    ('column', index from the deepest) or ('local', drop probability; one input always kept)."""
    if plan[0] == 'all':
        return [True] * inputs
    if plan[0] == 'column':
        return [i == plan[1] for i in range(inputs)]
    keep = [bool(u >= plan[1]) for u in torch.rand(inputs)]
    if not any(keep):
        keep[int(torch.randint(inputs, ()))] = True
    return keep


def mean_join(inputs):
    return torch.stack(inputs).mean(0)


class Expansion(nn.Module):
    """f_C; branches() returns the kept inputs of its final join, deepest column first."""

    def __init__(self, columns, cin, cout, drop_rate=0.0):
        super().__init__()
        self.columns = columns
        if columns > 1:
            self.deep1 = Expansion(columns - 1, cin, cout, drop_rate)
            self.deep2 = Expansion(columns - 1, cout, cout, drop_rate)
        self.shallow = ConvUnit(cin, cout, drop_rate)

    def branches(self, z, keep=None, plan=('all',)):
        keep = keep or [True] * self.columns
        out = []
        if self.columns > 1 and any(keep[:-1]):
            middle = mean_join(self.deep1.branches(z, sample_join(self.columns - 1, plan), plan))
            out += self.deep2.branches(middle, keep[:-1], plan)
        if keep[-1]:
            out.append(self.shallow(z))
        return out


class Block(Expansion):
    def forward(self, x, plan=('all',)):
        return nn.functional.max_pool2d(mean_join(self.branches(x, sample_join(self.columns, plan), plan)), 2)


class FractalNet(nn.Module):
    """Drop-path in training: per batch, global (one column for the whole network) with
    probability global_ratio, else local (each join input dropped with local_drop)."""

    def __init__(self, columns, blocks, channels=None, in_chans=3, num_classes=10,
                 drop_rates=None, local_drop=0.0, global_ratio=0.0):
        super().__init__()
        channels = channels or [64, 128, 256, 512, 512][:blocks]
        drop_rates = drop_rates or [0.0] * blocks
        cin = in_chans
        for i, cout in enumerate(channels):
            setattr(self, f'block{i + 1}', Block(columns, cin, cout, drop_rates[i]))
            cin = cout
        self.columns, self.blocks = columns, blocks
        self.local_drop, self.global_ratio = local_drop, global_ratio
        self.eval_column = None
        self.classifier = nn.Linear(cin, num_classes)

    def path_plan(self):
        if not self.training:
            return ('all',) if self.eval_column is None else ('column', self.columns - self.eval_column)
        if self.global_ratio == 0 and self.local_drop == 0:
            return ('all',)
        if float(torch.rand(())) < self.global_ratio:
            return ('column', int(torch.randint(self.columns, ())))
        return ('local', self.local_drop)

    def forward(self, x):
        plan = self.path_plan()
        for i in range(self.blocks):
            x = getattr(self, f'block{i + 1}')(x, plan)
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
