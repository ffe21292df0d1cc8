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
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fresnet_reference as mx  # noqa: E402  (the eager MXNet operators)


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


def main():
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    if len(sys.argv) == 4 and sys.argv[1] == 'fixtures':
        with torch.no_grad():
            fixtures(sys.argv[2], json.loads(sys.argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
