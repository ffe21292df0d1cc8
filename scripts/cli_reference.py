"""Reference figures for the command line, from torchvision.

  preprocess OUT.npy SIZE RESIZE IMAGE...
      torchvision's evaluation preset: PIL decode to RGB, Resize(RESIZE) (bilinear,
      antialiased), CenterCrop(SIZE), ToTensor, Normalize with ImageNet's mean and std;
      the stacked [N, 3, SIZE, SIZE] batch is saved to OUT.npy.
"""
import sys

import numpy as np


def preprocess(out, size, resize, images):
    from PIL import Image
    from torchvision import transforms

    preset = transforms.Compose([
        transforms.Resize(int(resize)),
        transforms.CenterCrop(int(size)),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    batch = np.stack([preset(Image.open(path).convert("RGB")).numpy() for path in images])
    np.save(out, batch.astype(np.float32))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "preprocess":
        preprocess(args[0], args[1], args[2], args[3:])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
