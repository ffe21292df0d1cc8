#!/usr/bin/python3
"""The first seed's MXNet ResNeXt (tornadomeet's symbol_resnext.py: `residual_unit` and
`resnext`, shared/seeds/000_*.txt), transcribed line by line onto the eager MXNet
operators of fresnet_reference.py, as the reference for our `resnext` family: one pass
gives fc1's logits (the SoftmaxOutput is left out), the arg/aux parameters under MXNet's
names with random values (bn_data's statistics at pixel scale), prefix-symbol.json and
the counts.

  mxnet_resnext_reference.py fixtures OUT_DIR SPEC_JSON
      SPEC_JSON: a list of {"id", "config": {units, filter_list, num_classes, num_group,
      bottle_neck}, "input": [N, C, H, W], "seed"}. Writes OUT_DIR/ID-0000.params,
      ID-symbol.json, ID-input.npy (pixels in 0..255), ID-output.npy and ID.json
      ({"params": arg parameter count, "aux": aux count}).

  mxnet_resnext_reference.py run PREFIX INPUT.npy OUTPUT.npy
      Evaluates the graph of PREFIX-symbol.json with the weights of PREFIX-0000.params,
      operator by operator as MXNet's executor does in inference (the operators
      symbol_resnext.py uses), on INPUT.npy: OUTPUT.npy holds what the SoftmaxOutput
      reads (fc1's logits).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fresnet_reference as mx  # noqa: E402  (the eager MXNet operators)
import mxnet_params  # noqa: E402


def BatchNorm(data, name, fix_gamma=False):
    return mx.BatchNorm(data=data, fix_gamma=fix_gamma, eps=2e-5, momentum=0.9, name=name)


def Convolution(**kwargs):
    return mx.Convolution(**kwargs)


def relu(data, name):
    return mx.Activation(data=data, act_type='relu', name=name)


def residual_unit(data, num_filter, stride, dim_match, name, bottle_neck=True, num_group=32, workspace=256):
    if bottle_neck:
        conv1 = Convolution(data=data, num_filter=int(num_filter * 0.5), kernel=(1, 1), stride=(1, 1), pad=(0, 0), no_bias=True, workspace=workspace, name=name + '_conv1')
        act1 = relu(BatchNorm(conv1, name + '_bn1'), name + '_relu1')
        conv2 = Convolution(data=act1, num_filter=int(num_filter * 0.5), num_group=num_group, kernel=(3, 3), stride=stride, pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv2')
        act2 = relu(BatchNorm(conv2, name + '_bn2'), name + '_relu2')
        conv3 = Convolution(data=act2, num_filter=num_filter, kernel=(1, 1), stride=(1, 1), pad=(0, 0), no_bias=True, workspace=workspace, name=name + '_conv3')
        last = BatchNorm(conv3, name + '_bn3')
    else:
        conv1 = Convolution(data=data, num_filter=num_filter, kernel=(3, 3), stride=stride, pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv1')
        act1 = relu(BatchNorm(conv1, name + '_bn1'), name + '_relu1')
        conv2 = Convolution(data=act1, num_filter=num_filter, kernel=(3, 3), stride=(1, 1), pad=(1, 1), no_bias=True, workspace=workspace, name=name + '_conv2')
        last = BatchNorm(conv2, name + '_bn2')
    if dim_match:
        shortcut = data
    else:
        shortcut_conv = Convolution(data=data, num_filter=num_filter, kernel=(1, 1), stride=stride, no_bias=True, workspace=workspace, name=name + '_sc')
        shortcut = BatchNorm(shortcut_conv, name + '_sc_bn')
    return relu(last + shortcut, name + '_relu')


def resnext(data, units, filter_list, num_classes, num_group, bottle_neck, workspace=256):
    data = BatchNorm(data, 'bn_data', fix_gamma=True)
    body = Convolution(data=data, num_filter=filter_list[0], kernel=(7, 7), stride=(2, 2), pad=(3, 3), no_bias=True, name='conv0', workspace=workspace)
    body = relu(BatchNorm(body, 'bn0'), 'relu0')
    body = mx.Pooling(data=body, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type='max')
    for i in range(len(units)):
        stride = (1, 1) if i == 0 else (2, 2)
        body = residual_unit(body, filter_list[i + 1], stride, False, name='stage%d_unit%d' % (i + 1, 1), bottle_neck=bottle_neck, num_group=num_group, workspace=workspace)
        for j in range(units[i] - 1):
            body = residual_unit(body, filter_list[i + 1], (1, 1), True, name='stage%d_unit%d' % (i + 1, j + 2), bottle_neck=bottle_neck, num_group=num_group, workspace=workspace)
    pool1 = mx.Pooling(data=body, global_pool=True, kernel=(7, 7), pool_type='avg', name='pool1')
    return mx.FullyConnected(mx.Flatten(pool1), num_classes, 'fc1')


def fixtures(out_dir, spec):
    for item in spec:
        seed = item.get('seed', 0)
        config = item['config']
        image = torch.rand(*item['input'], generator=torch.Generator().manual_seed(seed + 1000)) * 255
        mx.G = mx.Graph(seed)
        data = mx.Variable('data', image)
        out = resnext(data, config['units'], config['filter_list'], config.get('num_classes', 1000), config.get('num_group', 32), config.get('bottle_neck', False))
        graph = mx.G
        counts = {'params': sum(v.numel() for v in graph.arg.values()), 'aux': sum(v.numel() for v in graph.aux.values())}
        mx.write_checkpoint(os.path.join(out_dir, item['id']), graph, out, image, counts)


def _numbers(text, default):
    return tuple(int(v) for v in text.strip('()').split(',') if v.strip()) if text else default


def _flag(text, default):
    return default if text is None else text == 'True'


def run_symbol(symbol, params, data):
    """The symbol's head in inference, each operator with MXNet's defaults for what its attributes leave out."""
    def param(name):
        for kind in ('arg', 'aux'):
            if f'{kind}:{name}' in params:
                return torch.from_numpy(params[f'{kind}:{name}'])
        raise SystemExit(f'the .params file has no {name}')
    values = []
    for node in symbol['nodes']:
        op, name = node['op'], node['name']
        attrs = node.get('attrs', node.get('param', {}))
        x = [values[entry[0]] for entry in node['inputs']]
        if op == 'null':
            value = data if name == 'data' else None if name.endswith('_label') else param(name)
        elif op == 'Convolution':
            bias = None if _flag(attrs.get('no_bias'), False) else x[2]
            value = F.conv2d(x[0], x[1], bias, stride=_numbers(attrs.get('stride'), (1, 1)), padding=_numbers(attrs.get('pad'), (0, 0)), groups=int(attrs.get('num_group', 1)))
        elif op == 'BatchNorm':
            gamma = torch.ones_like(x[1]) if _flag(attrs.get('fix_gamma'), True) else x[1]
            value = F.batch_norm(x[0], x[3], x[4], gamma, x[2], training=False, eps=float(attrs.get('eps', 1e-3)))
        elif op == 'Activation' and attrs['act_type'] == 'relu':
            value = F.relu(x[0])
        elif op == 'Pooling' and _flag(attrs.get('global_pool'), False):
            value = x[0].mean(dim=(2, 3), keepdim=True) if attrs['pool_type'] == 'avg' else x[0].amax(dim=(2, 3), keepdim=True)
        elif op == 'Pooling' and attrs['pool_type'] == 'max' and attrs.get('pooling_convention', 'valid') == 'valid':
            value = F.max_pool2d(x[0], _numbers(attrs['kernel'], None), _numbers(attrs.get('stride'), (1, 1)), _numbers(attrs.get('pad'), (0, 0)))
        elif op == 'elemwise_add':
            value = x[0] + x[1]
        elif op == 'Flatten':
            value = x[0].flatten(1)
        elif op == 'FullyConnected':
            value = F.linear(x[0].flatten(1), x[1], None if _flag(attrs.get('no_bias'), False) else x[2])
        elif op == 'SoftmaxOutput':
            value = x[0]
        else:
            raise SystemExit(f'{name}: operator {op} {attrs} is not one symbol_resnext.py uses')
        values.append(value)
    return values[symbol['heads'][0][0]]


def main():
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    if len(sys.argv) == 4 and sys.argv[1] == 'fixtures':
        with torch.no_grad():
            fixtures(sys.argv[2], json.loads(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == 'run':
        with open(f'{sys.argv[2]}-symbol.json') as f:
            symbol = json.load(f)
        params = mxnet_params.load(f'{sys.argv[2]}-0000.params')
        with torch.no_grad():
            out = run_symbol(symbol, params, torch.from_numpy(np.load(sys.argv[3])))
        np.save(sys.argv[4], out.numpy())
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
