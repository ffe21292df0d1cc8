#!/usr/bin/python3
"""InsightFace's MXNet fresnet, run eagerly in PyTorch, as the reference for our fresnet.

The network is written from the seed's `fresnet.py` (shared/seeds/001_*.txt: residual_unit_v1,
v1_L, v2, v3, v3_x, the dispatcher `residual_unit`, `resnet`, `get_symbol`) and
InsightFace's `symbol_utils.get_fc1` (deepinsight/insightface recognition/symbol/
symbol_utils.py: heads Z, E, FC, GAP, GNAP, GDC, F, G, H, I, J), line by line: each
`mx.sym.X(...)` call is a function here that computes its output at once (eval mode:
BatchNorm with moving statistics, Dropout the identity), creates the operator's
variables under MXNet's names (conv0_weight, bn0_gamma, bn0_moving_mean, relu0_gamma,
...) with random values, and records the node as MXNet's symbol JSON does. So one pass
gives the output, the arg/aux parameters of a checkpoint, `prefix-symbol.json` and the
total `mx.viz.print_summary` prints (transcribed below, quirks included).

One deliberate change: GNAP's mean of the spatial norms is taken per image (the
`axis=(1,2,3)` line left commented out upstream), not over the whole batch.

  fresnet_reference.py fixtures OUT_DIR SPEC_JSON
      SPEC_JSON: a list of {"id", "config": {...}, "input": [N, C, H, W], "seed"}; config
      keys: units (list of 4) or num_layers, version_unit (1, 2, 3 or "3_x"),
      version_input (0, 1, 2), version_act ("relu" | "prelu"), version_se (0/1),
      version_output (head), emb_size, bottle_neck (default: num_layers >= 500).
      Writes OUT_DIR/ID-0000.params, ID-symbol.json, ID-input.npy, ID-output.npy and
      ID.json: {"params": arg parameter count, "aux": aux count,
      "mxnet_summary": print_summary's total}.

  fresnet_reference.py counts SPEC_JSON
      The same counts as JSON on stdout, one object per item, without writing files.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxnet_params  # noqa: E402

RESNET_SPEC = {
    18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 49: [3, 4, 14, 3], 50: [3, 4, 14, 3], 74: [3, 6, 24, 3],
    90: [3, 8, 35, 3], 98: [3, 4, 38, 3], 99: [3, 8, 35, 3], 100: [3, 13, 30, 3], 134: [3, 10, 50, 3],
    136: [3, 13, 48, 3], 140: [3, 15, 48, 3], 124: [3, 13, 40, 5], 160: [3, 24, 49, 3], 101: [3, 4, 23, 3],
    152: [3, 8, 36, 3], 200: [3, 24, 36, 3], 269: [3, 30, 48, 8],
}


class Sym:
    """An operator's output: the value and the id of its node."""

    def __init__(self, value, node):
        self.value, self.node = value, node

    def __add__(self, other):
        return G.op('elemwise_add', G.auto('_plus'), [self, other], {}, self.value + other.value)

    def __sub__(self, scalar):
        return G.op('_minus_scalar', G.auto('_minusscalar'), [self], {'scalar': str(scalar)}, self.value - scalar)

    def __mul__(self, other):
        if isinstance(other, Sym):
            return G.op('elemwise_mul', G.auto('_mul'), [self, other], {}, self.value * other.value)
        return G.op('_mul_scalar', G.auto('_mulscalar'), [self], {'scalar': str(other)}, self.value * other)


class Graph:
    def __init__(self, seed):
        self.nodes, self.shapes = [], {}
        self.arg, self.aux = {}, {}
        self.counters = {}
        self.rng = torch.Generator().manual_seed(seed)

    def auto(self, hint):
        index = self.counters.get(hint, 0)
        self.counters[hint] = index + 1
        return f'{hint}{index}'

    def variable(self, name, shape, kind, aux=False):
        value = random_value(self.rng, name, shape, kind)
        (self.aux if aux else self.arg)[name] = value
        self.nodes.append({'op': 'null', 'name': name, 'inputs': []})
        self.shapes[name] = list(shape)
        return Sym(value, len(self.nodes) - 1)

    def op(self, op, name, inputs, attrs, value, aux_inputs=()):
        node = {'op': op, 'name': name, 'attrs': attrs, 'inputs': [[s.node, 0, 0] for s in inputs] + [[s.node, 0, 1] for s in aux_inputs]}
        self.nodes.append(node)
        self.shapes[f'{name}_output'] = list(value.shape)
        return Sym(value, len(self.nodes) - 1)

    def symbol_json(self, head):
        arg_nodes = [i for i, n in enumerate(self.nodes) if n['op'] == 'null']
        outputs = {'BatchNorm': 3, 'Dropout': 2}
        row = [0]
        for node in self.nodes:
            row.append(row[-1] + outputs.get(node['op'], 1))
        return {'nodes': self.nodes, 'arg_nodes': arg_nodes, 'node_row_ptr': row, 'heads': [[head.node, 0, 0]], 'attrs': {'mxnet_version': ['int', 10600]}}


def random_value(rng, name, shape, kind):
    """Values away from defaults so a skipped or misplaced layer shows in the output."""
    def uniform(low, high):
        return torch.rand(shape, generator=rng) * (high - low) + low

    def normal(std):
        return torch.randn(shape, generator=rng) * std
    if kind == 'weight':
        fan_in = int(np.prod(shape[1:]))
        return normal(1.0 / np.sqrt(fan_in))
    if kind == 'bias':
        return normal(0.1)
    if kind == 'gamma':
        return uniform(0.5, 1.5)
    if kind == 'beta':
        return normal(0.1)
    if kind == 'prelu':
        return uniform(0.0, 0.5)
    if kind == 'moving_mean':
        return uniform(100, 150) if name.startswith('bn_data') else normal(0.1)
    if kind == 'moving_var':
        return uniform(3000, 6000) if name.startswith('bn_data') else uniform(0.5, 2.0)
    raise ValueError(kind)


G = None


def tuple_text(values):
    return '(' + ', '.join(str(v) for v in values) + ')'


# ---- the operators of mx.sym that fresnet and get_fc1 call ------------------------------

def Variable(name, value):
    G.nodes.append({'op': 'null', 'name': name, 'inputs': []})
    G.shapes[name] = list(value.shape)
    return Sym(value, len(G.nodes) - 1)


def identity(data, name):
    return G.op('_copy', name, [data], {}, data.value)


def Convolution(data, num_filter, kernel, stride=(1, 1), pad=(0, 0), no_bias=False, name=None, workspace=256, num_group=1):
    channels = data.value.shape[1]
    weight = G.variable(f'{name}_weight', (num_filter, channels // num_group) + tuple(kernel), 'weight')
    inputs = [data, weight]
    bias = None
    if not no_bias:
        bias_sym = G.variable(f'{name}_bias', (num_filter,), 'bias')
        inputs.append(bias_sym)
        bias = bias_sym.value
    value = F.conv2d(data.value, weight.value, bias, stride=tuple(stride), padding=tuple(pad), groups=num_group)
    attrs = {'kernel': tuple_text(kernel), 'num_filter': str(num_filter), 'pad': tuple_text(pad), 'stride': tuple_text(stride), 'workspace': str(workspace)}
    if no_bias:
        attrs['no_bias'] = 'True'
    if num_group != 1:
        attrs['num_group'] = str(num_group)
    return G.op('Convolution', name, inputs, dict(sorted(attrs.items())), value)


def BatchNorm(data, fix_gamma=True, eps=1e-3, momentum=0.9, name=None, given=None):
    # MXNet's defaults: fix_gamma True, eps 1e-3; `given` lists the attributes the caller set.
    channels = data.value.shape[1]
    gamma = G.variable(f'{name}_gamma', (channels,), 'gamma')
    beta = G.variable(f'{name}_beta', (channels,), 'beta')
    mean = G.variable(f'{name}_moving_mean', (channels,), 'moving_mean', aux=True)
    var = G.variable(f'{name}_moving_var', (channels,), 'moving_var', aux=True)
    scale = torch.ones(channels) if fix_gamma else gamma.value
    value = F.batch_norm(data.value, mean.value, var.value, scale, beta.value, training=False, eps=eps)
    attrs = {'fix_gamma': str(fix_gamma), 'momentum': str(momentum)}
    if 'eps' in (given or ('eps',)):
        attrs['eps'] = str(eps)
    return G.op('BatchNorm', name, [data, gamma, beta], dict(sorted(attrs.items())), value, aux_inputs=[mean, var])


def LeakyReLU(data, act_type, name):
    assert act_type == 'prelu'
    channels = data.value.shape[1]
    gamma = G.variable(f'{name}_gamma', (channels,), 'prelu')
    return G.op('LeakyReLU', name, [data, gamma], {'act_type': 'prelu'}, F.prelu(data.value, gamma.value))


def Activation(data, act_type, name):
    functions = {'relu': F.relu, 'sigmoid': torch.sigmoid, 'tanh': torch.tanh}
    return G.op('Activation', name, [data], {'act_type': act_type}, functions[act_type](data.value))


def Pooling(data, global_pool=False, kernel=(1, 1), pool_type='max', name=None, stride=(1, 1), pad=(0, 0)):
    # MXNet's default pooling_convention 'valid' rounds down, as PyTorch does.
    if global_pool:
        value = data.value.mean(dim=(2, 3), keepdim=True) if pool_type == 'avg' else data.value.amax(dim=(2, 3), keepdim=True)
        attrs = {'global_pool': 'True', 'kernel': tuple_text(kernel), 'pool_type': pool_type}
    else:
        assert pool_type == 'max'
        value = F.max_pool2d(data.value, kernel, stride, pad)
        attrs = {'kernel': tuple_text(kernel), 'pad': tuple_text(pad), 'pool_type': pool_type, 'stride': tuple_text(stride)}
    return G.op('Pooling', name or G.auto('pooling'), [data], attrs, value)


def broadcast_mul(a, b):
    return G.op('broadcast_mul', G.auto('broadcast_mul'), [a, b], {}, a.value * b.value)


def broadcast_div(a, b):
    return G.op('broadcast_div', G.auto('broadcast_div'), [a, b], {}, a.value / b.value)


def Dropout(data, p):
    return G.op('Dropout', G.auto('dropout'), [data], {'p': str(p)}, data.value)


def Flatten(data):
    return G.op('Flatten', G.auto('flatten'), [data], {}, data.value.flatten(1))


def FullyConnected(data, num_hidden, name):
    inputs = data.value.flatten(1)
    weight = G.variable(f'{name}_weight', (num_hidden, inputs.shape[1]), 'weight')
    bias = G.variable(f'{name}_bias', (num_hidden,), 'bias')
    return G.op('FullyConnected', name, [data, weight, bias], {'num_hidden': str(num_hidden)}, F.linear(inputs, weight.value, bias.value))


def sym_sum(data, axis, keepdims):
    return G.op('sum', G.auto('sum'), [data], {'axis': str(axis), 'keepdims': str(keepdims)}, data.value.sum(dim=axis, keepdim=keepdims))


def sym_sqrt(data):
    return G.op('sqrt', G.auto('sqrt'), [data], {}, data.value.sqrt())


def per_image_mean(data):
    value = data.value.mean(dim=(1, 2, 3), keepdim=True)
    return G.op('mean', G.auto('mean'), [data], {'axis': '(1, 2, 3)', 'keepdims': 'True'}, value)


def tile(data, reps):
    return G.op('tile', G.auto('tile'), [data], {'reps': tuple_text(reps)}, data.value.repeat(*reps))


# ---- fresnet.py, from the seed -------------------------------------------------------

def Conv(**kwargs):
    return Convolution(**kwargs)


def Act(data, act_type, name):
    if act_type == 'prelu':
        return LeakyReLU(data=data, act_type='prelu', name=name)
    return Activation(data=data, act_type=act_type, name=name)


def BN(data, name, fix_gamma=False, momentum=0.9):
    return BatchNorm(data=data, fix_gamma=fix_gamma, eps=2e-5, momentum=momentum, name=name)


def se_block(body, num_filter, name, act_type, workspace):
    pooled = Pooling(data=body, global_pool=True, kernel=(7, 7), pool_type='avg', name=name + '_se_pool1')
    pooled = Conv(data=pooled, num_filter=num_filter // 16, kernel=(1, 1), stride=(1, 1), pad=(0, 0), name=name + '_se_conv1', workspace=workspace)
    pooled = Act(data=pooled, act_type=act_type, name=name + '_se_relu1')
    pooled = Conv(data=pooled, num_filter=num_filter, kernel=(1, 1), stride=(1, 1), pad=(0, 0), name=name + '_se_conv2', workspace=workspace)
    pooled = Activation(data=pooled, act_type='sigmoid', name=name + '_se_sigmoid')
    return broadcast_mul(body, pooled)


def projection(data, num_filter, stride, name, workspace, bn_mom):
    conv1sc = Conv(data=data, num_filter=num_filter, kernel=(1, 1), stride=stride, no_bias=True, workspace=workspace, name=name + '_conv1sc')
    return BN(conv1sc, name + '_sc', momentum=bn_mom)


def residual_unit_v1(data, num_filter, stride, dim_match, name, bottle_neck, large=False, **kwargs):
    """residual_unit_v1, or residual_unit_v1_L with large=True: the same unit with the
    stride moved from the first convolution to conv2 (basic) / conv3 (bottleneck)."""
    use_se, bn_mom, workspace, act_type = kwargs.get('version_se', 1), kwargs.get('bn_mom', 0.9), kwargs.get('workspace', 256), kwargs.get('version_act', 'prelu')
    early, late = ((1, 1), stride) if large else (stride, (1, 1))
    if bottle_neck:
        conv1 = Conv(data=data, num_filter=int(num_filter * 0.25), kernel=(1, 1), stride=early, pad=(0, 0), no_bias=True, workspace=workspace, name=name + '_conv1')
        act1 = Act(data=BN(conv1, name + '_bn1', momentum=bn_mom), act_type=act_type, name=name + '_relu1')
        conv2 = Conv(data=act1, num_filter=int(num_filter * 0.25), kernel=(3, 3), stride=(1, 1), pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv2')
        act2 = Act(data=BN(conv2, name + '_bn2', momentum=bn_mom), act_type=act_type, name=name + '_relu2')
        conv3 = Conv(data=act2, num_filter=num_filter, kernel=(1, 1), stride=late, pad=(0, 0), no_bias=True, workspace=workspace, name=name + '_conv3')
        last = BN(conv3, name + '_bn3', momentum=bn_mom)
    else:
        conv1 = Conv(data=data, num_filter=num_filter, kernel=(3, 3), stride=early, pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv1')
        act1 = Act(data=BN(conv1, name + '_bn1', momentum=bn_mom), act_type=act_type, name=name + '_relu1')
        conv2 = Conv(data=act1, num_filter=num_filter, kernel=(3, 3), stride=late, pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv2')
        last = BN(conv2, name + '_bn2', momentum=bn_mom)
    if use_se:
        last = se_block(last, num_filter, name, act_type, workspace)
    shortcut = data if dim_match else projection(data, num_filter, stride, name, workspace, bn_mom)
    return Act(data=last + shortcut, act_type=act_type, name=name + '_relu3')


def residual_unit_v2(data, num_filter, stride, dim_match, name, bottle_neck, **kwargs):
    use_se, bn_mom, workspace, act_type = kwargs.get('version_se', 1), kwargs.get('bn_mom', 0.9), kwargs.get('workspace', 256), kwargs.get('version_act', 'prelu')
    act1 = Act(data=BN(data, name + '_bn1', momentum=bn_mom), act_type=act_type, name=name + '_relu1')
    if bottle_neck:
        conv1 = Conv(data=act1, num_filter=int(num_filter * 0.25), kernel=(1, 1), stride=(1, 1), pad=(0, 0), no_bias=True, workspace=workspace, name=name + '_conv1')
        act2 = Act(data=BN(conv1, name + '_bn2', momentum=bn_mom), act_type=act_type, name=name + '_relu2')
        conv2 = Conv(data=act2, num_filter=int(num_filter * 0.25), kernel=(3, 3), stride=stride, pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv2')
        act3 = Act(data=BN(conv2, name + '_bn3', momentum=bn_mom), act_type=act_type, name=name + '_relu3')
        last = Conv(data=act3, num_filter=num_filter, kernel=(1, 1), stride=(1, 1), pad=(0, 0), no_bias=True, workspace=workspace, name=name + '_conv3')
    else:
        conv1 = Conv(data=act1, num_filter=num_filter, kernel=(3, 3), stride=stride, pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv1')
        act2 = Act(data=BN(conv1, name + '_bn2', momentum=bn_mom), act_type=act_type, name=name + '_relu2')
        last = Conv(data=act2, num_filter=num_filter, kernel=(3, 3), stride=(1, 1), pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv2')
    if use_se:
        last = se_block(last, num_filter, name, act_type, workspace)
    shortcut = data if dim_match else Conv(data=act1, num_filter=num_filter, kernel=(1, 1), stride=stride, no_bias=True, workspace=workspace, name=name + '_sc')
    return last + shortcut


def residual_unit_v3(data, num_filter, stride, dim_match, name, bottle_neck, grouped=False, **kwargs):
    """residual_unit_v3, or residual_unit_v3_x with grouped=True (bottleneck only: 32
    groups in conv1 and conv2, which are num_filter * 0.5 wide)."""
    use_se, bn_mom, workspace, act_type = kwargs.get('version_se', 1), kwargs.get('bn_mom', 0.9), kwargs.get('workspace', 256), kwargs.get('version_act', 'prelu')
    bn1 = BN(data, name + '_bn1', momentum=bn_mom)
    if bottle_neck:
        width, groups = (int(num_filter * 0.5), 32) if grouped else (int(num_filter * 0.25), 1)
        conv1 = Conv(data=bn1, num_group=groups, num_filter=width, kernel=(1, 1), stride=(1, 1), pad=(0, 0), no_bias=True, workspace=workspace, name=name + '_conv1')
        act1 = Act(data=BN(conv1, name + '_bn2', momentum=bn_mom), act_type=act_type, name=name + '_relu1')
        conv2 = Conv(data=act1, num_group=groups, num_filter=width, kernel=(3, 3), stride=(1, 1), pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv2')
        act2 = Act(data=BN(conv2, name + '_bn3', momentum=bn_mom), act_type=act_type, name=name + '_relu2')
        conv3 = Conv(data=act2, num_filter=num_filter, kernel=(1, 1), stride=stride, pad=(0, 0), no_bias=True, workspace=workspace, name=name + '_conv3')
        last = BN(conv3, name + '_bn4', momentum=bn_mom)
    else:
        assert not grouped
        conv1 = Conv(data=bn1, num_filter=num_filter, kernel=(3, 3), stride=(1, 1), pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv1')
        act1 = Act(data=BN(conv1, name + '_bn2', momentum=bn_mom), act_type=act_type, name=name + '_relu1')
        conv2 = Conv(data=act1, num_filter=num_filter, kernel=(3, 3), stride=stride, pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv2')
        last = BN(conv2, name + '_bn3', momentum=bn_mom)
    if use_se:
        last = se_block(last, num_filter, name, act_type, workspace)
    shortcut = data if dim_match else projection(data, num_filter, stride, name, workspace, bn_mom)
    return last + shortcut


def residual_unit(data, num_filter, stride, dim_match, name, bottle_neck, **kwargs):
    uv = kwargs.get('version_unit', 3)
    version_input = kwargs.get('version_input', 1)
    if uv == 1:
        return residual_unit_v1(data, num_filter, stride, dim_match, name, bottle_neck, large=version_input != 0, **kwargs)
    if uv == 2:
        return residual_unit_v2(data, num_filter, stride, dim_match, name, bottle_neck, **kwargs)
    if uv == '3_x':
        # Never reached from the seed's dispatcher; reachable through options in ours.
        return residual_unit_v3(data, num_filter, stride, dim_match, name, bottle_neck, grouped=True, **kwargs)
    return residual_unit_v3(data, num_filter, stride, dim_match, name, bottle_neck, **kwargs)


def get_fc1(last_conv, num_classes, fc_type, act_type, bn_mom=0.9, input_channel=512):
    body = last_conv
    if fc_type == 'Z':
        body = BN(body, 'bn1', momentum=bn_mom)
        return Dropout(body, p=0.4)
    if fc_type == 'E':
        body = Dropout(BN(body, 'bn1', momentum=bn_mom), p=0.4)
        return BN(FullyConnected(body, num_classes, 'pre_fc1'), 'fc1', fix_gamma=True, momentum=bn_mom)
    if fc_type in ('FC', 'I'):
        body = BN(body, 'bn1', momentum=bn_mom)
        return BN(FullyConnected(body, num_classes, 'pre_fc1'), 'fc1', fix_gamma=True, momentum=bn_mom)
    if fc_type == 'GAP':
        relu1 = Act(BN(body, 'bn1', momentum=bn_mom), act_type, 'relu1')
        flat = Flatten(Pooling(data=relu1, global_pool=True, kernel=(7, 7), pool_type='avg', name='pool1'))
        return BN(FullyConnected(flat, num_classes, 'pre_fc1'), 'fc1', fix_gamma=True, momentum=bn_mom)
    if fc_type == 'GNAP':
        filters_in = 512
        if num_classes > filters_in:
            body = Convolution(data=last_conv, num_filter=num_classes, kernel=(1, 1), stride=(1, 1), pad=(0, 0), no_bias=True, name='convx')
            body = Act(BN(body, 'convx_bn', momentum=0.9), act_type, 'convx_relu')
            filters_in = num_classes
        body = BN(body, 'bn6f', fix_gamma=True, momentum=0.9)
        spatial_sqrt = sym_sqrt(sym_sum(body * body, axis=1, keepdims=True))
        inverse = broadcast_div(per_image_mean(spatial_sqrt), spatial_sqrt)
        body = body * tile(inverse, reps=(1, filters_in, 1, 1))
        fc1 = Pooling(body, kernel=(7, 7), global_pool=True, pool_type='avg')
        if num_classes < filters_in:
            fc1 = FullyConnected(BN(fc1, 'bn6w', fix_gamma=True, momentum=0.9), num_classes, 'pre_fc1')
        else:
            fc1 = Flatten(fc1)
        return BN(fc1, 'fc1', fix_gamma=True, momentum=0.9)
    if fc_type == 'GDC':
        conv = Convolution(data=last_conv, num_filter=input_channel, kernel=(7, 7), num_group=input_channel, stride=(1, 1), pad=(0, 0), no_bias=True, name='conv_6dw7_7_conv2d')
        # symbol_utils.Linear passes no eps: MXNet's default 1e-3.
        conv = BatchNorm(data=conv, name='conv_6dw7_7_batchnorm', fix_gamma=False, momentum=bn_mom, given=('fix_gamma', 'momentum'))
        return BN(FullyConnected(conv, num_classes, 'pre_fc1'), 'fc1', fix_gamma=True, momentum=bn_mom)
    if fc_type == 'F':
        body = Dropout(BN(body, 'bn1', momentum=bn_mom), p=0.4)
        return FullyConnected(body, num_classes, 'fc1')
    if fc_type == 'G':
        return FullyConnected(BN(body, 'bn1', momentum=bn_mom), num_classes, 'fc1')
    if fc_type == 'H':
        return FullyConnected(body, num_classes, 'fc1')
    if fc_type == 'J':
        return BN(FullyConnected(body, num_classes, 'pre_fc1'), 'fc1', fix_gamma=True, momentum=bn_mom)
    raise ValueError(f'unknown head {fc_type}')


def resnet(data, units, filter_list, num_classes, bottle_neck, config):
    bn_mom, workspace = 0.9, 256
    kwargs = {'version_se': config.get('version_se', 0), 'version_input': config.get('version_input', 1),
              'version_unit': config.get('version_unit', 3), 'version_act': config.get('version_act', 'prelu'),
              'bn_mom': bn_mom, 'workspace': workspace}
    version_input, act_type = kwargs['version_input'], kwargs['version_act']
    if version_input == 0:
        data = identity(data, 'id') - 127.5
        data = data * 0.0078125
        body = Conv(data=data, num_filter=filter_list[0], kernel=(7, 7), stride=(2, 2), pad=(3, 3), no_bias=True, name='conv0', workspace=workspace)
    elif version_input == 2:
        data = BatchNorm(data=data, fix_gamma=True, eps=2e-5, momentum=bn_mom, name='bn_data')
        body = Conv(data=data, num_filter=filter_list[0], kernel=(3, 3), stride=(1, 1), pad=(1, 1), no_bias=True, name='conv0', workspace=workspace)
    else:
        data = identity(data, 'id') - 127.5
        data = data * 0.0078125
        body = Conv(data=data, num_filter=filter_list[0], kernel=(3, 3), stride=(1, 1), pad=(1, 1), no_bias=True, name='conv0', workspace=workspace)
    body = Act(BN(body, 'bn0', momentum=bn_mom), act_type, 'relu0')
    for i in range(len(units)):
        body = residual_unit(body, filter_list[i + 1], (2, 2), False, name='stage%d_unit%d' % (i + 1, 1), bottle_neck=bottle_neck, **kwargs)
        for j in range(units[i] - 1):
            body = residual_unit(body, filter_list[i + 1], (1, 1), True, name='stage%d_unit%d' % (i + 1, j + 2), bottle_neck=bottle_neck, **kwargs)
    if bottle_neck:
        body = Conv(data=body, num_filter=512, kernel=(1, 1), stride=(1, 1), pad=(0, 0), no_bias=True, name='convd', workspace=workspace)
        body = Act(BN(body, 'bnd', momentum=bn_mom), act_type, 'relud')
    return get_fc1(body, num_classes, config.get('version_output', 'E'), act_type, bn_mom)


def get_symbol(config, image, seed):
    global G
    G = Graph(seed)
    num_layers = config.get('num_layers', 0)
    bottle_neck = config.get('bottle_neck', num_layers >= 500)
    filter_list = [64, 256, 512, 1024, 2048] if bottle_neck else [64, 64, 128, 256, 512]
    units = config['units'] if 'units' in config else RESNET_SPEC[num_layers]
    data = Variable('data', image)
    out = resnet(data, units, filter_list, config.get('emb_size', 512), bottle_neck, config)
    return G, out


# ---- mx.viz.print_summary's total, transcribed ---------------------------------------

def _str2tuple(string):
    import re
    return re.findall(r'\d+', string)


def print_summary_total(conf, shape_dict):
    nodes = conf['nodes']
    heads = set(conf['heads'][0])  # as upstream: [node, index, version], so node 0 counts as a head

    def layer_params(node):
        op = node['op']
        pre_filter = 0
        if op != 'null':
            for item in node['inputs']:
                input_node = nodes[item[0]]
                if input_node['op'] != 'null' or item[0] in heads:
                    key = input_node['name'] + '_output' if input_node['op'] != 'null' else input_node['name']
                    if key in shape_dict:
                        pre_filter += int(shape_dict[key][1:][0])
        attrs = node.get('attrs', {})
        if op == 'Convolution':
            count = pre_filter * int(attrs['num_filter']) // int(attrs.get('num_group', '1'))
            for k in _str2tuple(attrs['kernel']):
                count *= int(k)
            if not ('no_bias' in attrs and attrs['no_bias'] == 'True'):
                count += int(attrs['num_filter'])
            return count
        if op == 'FullyConnected':
            if 'no_bias' in attrs and attrs['no_bias'] == 'True':
                return pre_filter * int(attrs['num_hidden'])
            return (pre_filter + 1) * int(attrs['num_hidden'])
        if op == 'BatchNorm':
            return int(shape_dict[node['name'] + '_output'][1]) * 2
        return 0

    total = 0
    for i, node in enumerate(nodes):
        if node['op'] == 'null' and i > 0:
            continue
        total += layer_params(node)
    return total


def run(item):
    seed = item.get('seed', 0)
    image = torch.rand(*item['input'], generator=torch.Generator().manual_seed(seed + 1000)) * 255
    graph, out = get_symbol(item['config'], image, seed)
    conf = graph.symbol_json(out)
    # print_summary infers shapes for a batch of one; only per-image dims are read.
    shapes = {key: [1] + value[1:] for key, value in graph.shapes.items()}
    counts = {
        'params': sum(v.numel() for v in graph.arg.values()),
        'aux': sum(v.numel() for v in graph.aux.values()),
        'mxnet_summary': print_summary_total(conf, shapes),
    }
    return image, graph, out, conf, counts


def write_checkpoint(prefix, graph, out, image, counts):
    """PREFIX-symbol.json and PREFIX-0000.params as MXNet writes them, the input, the output and the counts."""
    with open(f'{prefix}-symbol.json', 'w') as f:
        json.dump(graph.symbol_json(out), f, indent=2)
    arrays = {f'arg:{k}': v.numpy() for k, v in graph.arg.items()}
    arrays.update({f'aux:{k}': v.numpy() for k, v in graph.aux.items()})
    mxnet_params.save(f'{prefix}-0000.params', arrays)
    np.save(f'{prefix}-input.npy', image.numpy())
    np.save(f'{prefix}-output.npy', out.value.numpy())
    with open(f'{prefix}.json', 'w') as f:
        json.dump(counts, f)


def fixtures(out_dir, spec):
    for item in spec:
        image, graph, out, _conf, counts = run(item)
        write_checkpoint(os.path.join(out_dir, item['id']), graph, out, image, counts)


def main():
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    if len(sys.argv) == 4 and sys.argv[1] == 'fixtures':
        with torch.no_grad():
            fixtures(sys.argv[2], json.loads(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == 'counts':
        with torch.no_grad():
            json.dump([run(item)[4] for item in json.loads(sys.argv[2])], sys.stdout)
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
