"""Reference results of torchvision's augmentation ops (tensor path, uint8), for
test/data-augment.test.ts.

Usage: augment_reference.py FILE.json
FILE: {"image": HWC uint8 nested lists,
       "ops": [[op_name, magnitude], ...]   (torchvision.transforms.autoaugment._apply_op,
                                             nearest interpolation, no fill),
       "hue": [factor, ...]                  (F.adjust_hue),
       "bins": int, "size": [height, width]} (the RandAugment and TrivialAugmentWide
                                             magnitude tables)
Prints JSON: {"ops": [flat HWC lists], "hue": [flat HWC lists],
              "rand_augment": {op: [magnitudes]}, "trivial_augment": {op: [magnitudes]}}.
"""
import json
import sys

import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import RandAugment, TrivialAugmentWide, _apply_op


def to_hwc_list(chw):
    return chw.permute(1, 2, 0).flatten().tolist()


def table(space):
    return {name: (mags.tolist() if mags.ndim > 0 else []) for name, (mags, _signed) in space.items()}


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    image = torch.tensor(spec["image"], dtype=torch.uint8).permute(2, 0, 1).contiguous()
    ops = [to_hwc_list(_apply_op(image, name, float(m), interpolation=InterpolationMode.NEAREST, fill=None)) for name, m in spec["ops"]]
    hue = [to_hwc_list(F.adjust_hue(image, h)) for h in spec.get("hue", [])]
    bins, size = spec["bins"], spec["size"]
    print(json.dumps({
        "ops": ops,
        "hue": hue,
        "rand_augment": table(RandAugment()._augmentation_space(bins, tuple(size))),
        "trivial_augment": table(TrivialAugmentWide()._augmentation_space(bins)),
    }))


if __name__ == "__main__":
    main()
