#!/usr/bin/python3
"""torchvision's ResNets as the reference for the model zoo's tests.

  resnet_reference.py structure
      JSON on stdout: for each of the ten torchvision ResNets, its state-dict keys in
      order with their shapes, and its parameter count (randomly initialised; nothing is
      downloaded).

  resnet_reference.py fixtures OUT_DIR SPEC_JSON
      SPEC_JSON is a list of {"name", "format": "pth" | "safetensors", "input": [N, C, H, W],
      "seed", "variants": [...]}. For each model: random weights, randomised BatchNorm
      statistics and affine parameters, the state dict written as OUT_DIR/NAME.pth
      (torch.save) or OUT_DIR/NAME.safetensors, and OUT_DIR/NAME-io.safetensors holding
      "input" and "output" (torchvision's eval-mode output on that input), plus one
      output per variant, computed with the same weights. An "architecture" of
      {"block": "Bottleneck" | "BasicBlock", "layers", and torchvision.models.resnet.ResNet's
      other arguments (groups, width_per_group, num_classes)} builds that ResNet instead,
      NAME naming its files:
        "v1"      -> "output_v1": the stride of each downsampling bottleneck moved from
                     its 3x3 to its first 1x1 convolution (the original ResNet v1)
        "dilated" -> "output_dilated": replace_stride_with_dilation=[False, True, True]
        "train"   -> "output_train": training mode (batch statistics), and the gradients
                     of mean(output ** 2) for the weights in GRADIENT_KEYS as "grad:KEY"
"""
import copy
import json
import os
import struct
import sys

import torch
import torchvision.models as tvm

NAMES = [
    'resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152',
    'resnext50_32x4d', 'resnext101_32x8d', 'resnext101_64x4d',
    'wide_resnet50_2', 'wide_resnet101_2',
]

SAFETENSORS_DTYPES = {torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64'}


def build(name, architecture=None):
    if architecture is not None:
        options = dict(architecture)
        block = getattr(tvm.resnet, options.pop('block'))
        return tvm.resnet.ResNet(block, options.pop('layers'), **options)
    if name not in NAMES:
        raise SystemExit(f'unknown model {name}; expected one of {", ".join(NAMES)}')
    return getattr(tvm, name)(weights=None)


def skip_initialisation():
    """The structure listing reads names and shapes only: filling hundreds of millions
    of weights with random numbers would only cost time."""
    def keep(tensor, *args, **kwargs):
        return tensor
    for name in ('kaiming_normal_', 'kaiming_uniform_', 'uniform_', 'normal_', 'constant_', 'zeros_', 'ones_'):
        setattr(torch.nn.init, name, keep)


def structure():
    skip_initialisation()
    out = {}
    for name in NAMES:
        model = build(name)
        state = model.state_dict()
        out[name] = {
            'keys': [[key, list(value.shape)] for key, value in state.items()],
            'params': sum(p.numel() for p in model.parameters()),
        }
        del model, state
    json.dump(out, sys.stdout)


def randomise_batchnorm(model):
    """Statistics and affine parameters away from their 0/1 defaults, so a wrong fold or
    a skipped BatchNorm shows in the output."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
                module.num_batches_tracked.fill_(7)


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for key, tensor in tensors.items():
        data = tensor.detach().contiguous().cpu().numpy().tobytes()
        header[key] = {
            'dtype': SAFETENSORS_DTYPES[tensor.dtype],
            'shape': list(tensor.shape),
            'data_offsets': [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode('utf-8')
    encoded += b' ' * (-len(encoded) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)


def describe_structure(model):
    """State-dict keys in order with shapes, and the parameter count."""
    return {
        'keys': [[key, list(value.shape)] for key, value in model.state_dict().items()],
        'params': sum(p.numel() for p in model.parameters()),
    }


def eval_fixture(model, input_shape):
    """Randomised BatchNorm, eval mode, a random input: the state dict and {input, output}."""
    randomise_batchnorm(model)
    model.eval()
    x = torch.randn(*input_shape)
    with torch.no_grad():
        y = model(x)
    return model.state_dict(), {'input': x, 'output': y}


def write_state(state, out_dir, stem, fmt):
    """OUT_DIR/STEM.pth (torch.save) or OUT_DIR/STEM.safetensors."""
    if fmt == 'pth':
        torch.save(state, os.path.join(out_dir, f'{stem}.pth'))
    elif fmt == 'safetensors':
        write_safetensors(os.path.join(out_dir, f'{stem}.safetensors'), state)
    else:
        raise SystemExit(f'unknown format {fmt}')


def run_commands(doc, structure, fixtures, structure_takes_spec):
    """The command line the reference scripts share: `structure [SPEC_JSON]` and `fixtures OUT_DIR SPEC_JSON`."""
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    argv = sys.argv[1:]
    if argv[:1] == ['structure'] and len(argv) == (2 if structure_takes_spec else 1):
        structure(*[json.loads(a) for a in argv[1:]])
    elif argv[:1] == ['fixtures'] and len(argv) == 3:
        fixtures(argv[1], json.loads(argv[2]))
    else:
        raise SystemExit(doc)


def stride_on_first_1x1(name, model, x, outputs):
    v1 = copy.deepcopy(model)
    for stage in (v1.layer2, v1.layer3, v1.layer4):
        stage[0].conv1.stride, stage[0].conv2.stride = (2, 2), (1, 1)
    with torch.no_grad():
        return v1(x)


def dilated(name, model, x, outputs):
    variant = getattr(tvm, name)(weights=None, replace_stride_with_dilation=[False, True, True])
    variant.load_state_dict(model.state_dict())
    variant.eval()
    with torch.no_grad():
        return variant(x)


GRADIENT_KEYS = ['conv1.weight', 'layer1.0.bn1.weight', 'layer3.0.downsample.0.weight', 'layer4.1.conv2.weight', 'fc.bias']


def training_mode(name, model, x, outputs):
    trained = copy.deepcopy(model).train()
    y = trained(x)
    y.square().mean().backward()
    parameters = dict(trained.named_parameters())
    for key in GRADIENT_KEYS:
        outputs[f'grad:{key}'] = parameters[key].grad
    return y.detach()


VARIANTS = {'v1': stride_on_first_1x1, 'dilated': dilated, 'train': training_mode}


def fixtures(out_dir, spec):
    for item in spec:
        name = item['name']
        torch.manual_seed(item.get('seed', 0))
        model = build(name, item.get('architecture'))
        randomise_batchnorm(model)
        model.eval()
        x = torch.randn(*item['input'])
        with torch.no_grad():
            y = model(x)
        outputs = {'input': x, 'output': y}
        for variant in item.get('variants', []):
            outputs[f'output_{variant}'] = VARIANTS[variant](name, model, x, outputs)
        state = model.state_dict()
        if item['format'] == 'pth':
            torch.save(state, os.path.join(out_dir, f'{name}.pth'))
        elif item['format'] == 'safetensors':
            write_safetensors(os.path.join(out_dir, f'{name}.safetensors'), state)
        else:
            raise SystemExit(f'unknown format {item["format"]}')
        write_safetensors(os.path.join(out_dir, f'{name}-io.safetensors'), outputs)


def main():
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    if len(sys.argv) >= 2 and sys.argv[1] == 'structure':
        structure()
    elif len(sys.argv) == 4 and sys.argv[1] == 'fixtures':
        fixtures(sys.argv[2], json.loads(sys.argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
