"""Training throughput of PyTorch eager, the peer for bench/train.ts.

Trains the same networks as `resnets` on synthetic data (so only the training step is
measured): the CIFAR ResNet of He et al. (2015, section 4.2, option A shortcuts) and
torchvision's models by name (resnet18, resnet50, densenet121). SGD with momentum 0.9, Nesterov, weight decay 5e-4,
cross entropy; the thread count is set explicitly. --channels-last converts the model and the batch to
torch.channels_last; --autocast bf16 runs the forward under torch.autocast('cpu', dtype=torch.bfloat16), the loss
on its float32 output, as the autocast recipe does.

Usage: train_torch.py --model resnet20 --batch-size 128 --image-size 28 --channels 1
                      --classes 10 --threads 2 --warmup 5 --steps 20 --repeats 3 [--channels-last] [--autocast bf16]
Prints one JSON object: images per second of each repeat, their median, the median per second of process CPU
time (steadier than wall time on a shared machine), parameter count.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ShortcutA(nn.Module):
    """Identity shortcut that subsamples by `stride` and appends zero channels."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride = stride
        self.extra = planes - in_planes

    def forward(self, x):
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class CifarBasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = ShortcutA(in_planes, planes, stride) if stride != 1 or in_planes != planes else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes, in_chans, width=16):
        super().__init__()
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_chans, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, in_planes = [], width
        for stage, planes in enumerate([width, 2 * width, 4 * width]):
            stage_blocks = []
            for i in range(blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                stage_blocks.append(CifarBasicBlock(in_planes, planes, stride))
                in_planes = planes
            layers.append(nn.Sequential(*stage_blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def build(name, num_classes, in_chans):
    cifar_depths = {"resnet20": 20, "resnet32": 32, "resnet44": 44, "resnet56": 56, "resnet110": 110}
    if name in cifar_depths:
        return CifarResNet(cifar_depths[name], num_classes, in_chans)
    import torchvision

    model = getattr(torchvision.models, name)(num_classes=num_classes)
    if in_chans != 3:
        model.conv1 = nn.Conv2d(in_chans, 64, 7, 2, 3, bias=False)
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--autocast", choices=["bf16"])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(args.model, args.classes, args.channels)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    images = torch.randn(args.batch_size, args.channels, args.image_size, args.image_size)
    labels = torch.randint(0, args.classes, (args.batch_size,))
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    autocast = args.autocast == "bf16"

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            output = model(images)
        loss = F.cross_entropy(output.float(), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    rates, cpu_rates = [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            step()
        rates.append(args.steps * args.batch_size / (time.perf_counter() - start))
        cpu_rates.append(args.steps * args.batch_size / (time.process_time() - cpu_start))
    print(json.dumps({
        "peer": f"PyTorch {torch.__version__} eager" + (", channels-last" if args.channels_last else "") + (", autocast bf16" if autocast else ""),
        "model": args.model,
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
        "images_per_second": statistics.median(rates),
        "runs": rates,
        "cpu_images_per_second": statistics.median(cpu_rates),
    }))


if __name__ == "__main__":
    main()
