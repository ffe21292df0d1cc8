"""Reference figures for the data layer, from numpy, torch and torchvision.

  fashion-mnist DIR   reads the gzipped IDX files with numpy; prints counts, first
                      labels, label histograms, pixel sums and the train mean/std
  transforms FILE.json
                      {"resize": [{"image": HWC floats, "size": [h, w], "box": [top, left, h, w]?}],
                       "normalize": [{"image": HWC uint8, "mean": [...], "std": [...]}]}:
                      bilinear antialiased resizes (torch.nn.functional.interpolate) and
                      torchvision's to_tensor + normalize (CHW), in the order given
  decode PATH...      PIL's RGB and L pixels of image files
Prints one JSON object.
"""
import gzip
import json
import os
import sys

import numpy as np


def read_idx(path, header, shape_tail):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    return data.reshape((-1,) + shape_tail)


def fashion_mnist(folder):
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), 16, (28, 28))
        labels = read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), 8, ())
        out[split] = {
            "count": int(images.shape[0]),
            "labels": int(labels.shape[0]),
            "first_labels": labels[:20].tolist(),
            "histogram": np.bincount(labels, minlength=10).tolist(),
            "first_pixel_sums": images[:5].reshape(5, -1).sum(axis=1).tolist(),
            "last_pixel_sum": int(images[-1].sum()),
            "pixel_sum": int(images.sum(dtype=np.int64)),
        }
        if split == "train":
            scaled = images.astype(np.float64) / 255.0
            out[split]["mean"] = float(scaled.mean())
            out[split]["std"] = float(scaled.std())
    return out


def resize(spec):
    import torch
    import torch.nn.functional as F

    image = torch.tensor(spec["image"], dtype=torch.float64).permute(2, 0, 1)
    if "box" in spec:
        top, left, h, w = spec["box"]
        image = image[:, top : top + h, left : left + w]
    out = F.interpolate(image[None], size=tuple(spec["size"]), mode="bilinear", align_corners=False, antialias=True)[0]
    return {"image": out.permute(1, 2, 0).tolist()}


def normalize(spec):
    import torchvision.transforms.functional as TF

    image = np.array(spec["image"], dtype=np.uint8)
    tensor = TF.normalize(TF.to_tensor(image), spec["mean"], spec["std"])
    return {"chw": tensor.flatten().tolist(), "shape": list(tensor.shape)}


def decode(paths):
    from PIL import Image

    out = {}
    for path in paths:
        image = Image.open(path)
        out[path] = {
            "rgb": np.asarray(image.convert("RGB")).flatten().tolist(),
            "gray": np.asarray(image.convert("L")).flatten().tolist(),
            "size": [image.height, image.width],
        }
    return out


def main():
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "fashion-mnist":
        result = fashion_mnist(arguments[0])
    elif command == "decode":
        result = decode(arguments)
    elif command == "transforms":
        with open(arguments[0]) as f:
            spec = json.load(f)
        result = {
            "resize": [resize(job) for job in spec.get("resize", [])],
            "normalize": [normalize(job) for job in spec.get("normalize", [])],
        }
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
