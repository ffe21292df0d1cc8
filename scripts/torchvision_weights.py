"""Writes the pretrained-weights table and ImageNet's class names from Debian's torchvision.

Usage: torchvision_weights.py OUT_DIR
Writes OUT_DIR/torchvision-weights.json (every checkpoint torchvision lists for the
ResNet, ResNeXt, Wide ResNet and DenseNet models: file, address, SHA-256 prefix, size of
the classifier, preprocessing, reported accuracy, which tag is DEFAULT) and
OUT_DIR/imagenet-classes.json (torchvision's _IMAGENET_CATEGORIES, in class order).
"""
import json
import os
import sys

import torchvision.models as models
from torchvision.models._meta import _IMAGENET_CATEGORIES

FAMILIES = ('resnet', 'resnext', 'wide_resnet', 'densenet')
IMAGENET = 'imagenet-1k'


def transforms_of(weights):
    """The evaluation preset's arguments (a functools.partial of ImageClassification)."""
    keywords = dict(weights.transforms.keywords)
    preset = weights.transforms()
    return {
        'cropSize': keywords.get('crop_size', preset.crop_size[0]),
        'resizeSize': keywords.get('resize_size', preset.resize_size[0]),
        'interpolation': str(preset.interpolation.value),
        'mean': list(preset.mean),
        'std': list(preset.std),
    }


def entry(model, weights, default):
    url = weights.url
    file = url.rsplit('/', 1)[1]
    # torchvision's files end in -<first 8+ hex digits of the SHA-256>.pth (torch.hub's check_hash).
    sha256_prefix = file.rsplit('.', 1)[0].rsplit('-', 1)[1]
    categories = weights.meta['categories']
    metrics = weights.meta['_metrics']['ImageNet-1K']
    return {
        'model': model,
        'tag': weights.name,
        'default': weights is default,
        'url': url,
        'file': file,
        'sha256Prefix': sha256_prefix,
        'numParams': weights.meta['num_params'],
        'numClasses': len(categories),
        'classes': IMAGENET if list(categories) == list(_IMAGENET_CATEGORIES) else list(categories),
        'transforms': transforms_of(weights),
        'metrics': {'acc@1': metrics['acc@1'], 'acc@5': metrics['acc@5']},
        'recipe': weights.meta.get('recipe'),
    }


def main():
    out = sys.argv[1]
    table = []
    for model in models.list_models(module=models):
        if not model.startswith(FAMILIES):
            continue
        enum = models.get_model_weights(model)
        table.extend(entry(model, weights, enum.DEFAULT) for weights in enum)
    with open(os.path.join(out, 'torchvision-weights.json'), 'w') as f:
        json.dump(table, f, indent=1)
        f.write('\n')
    with open(os.path.join(out, 'imagenet-classes.json'), 'w') as f:
        json.dump(list(_IMAGENET_CATEGORIES), f, indent=0)
        f.write('\n')


if __name__ == '__main__':
    main()
