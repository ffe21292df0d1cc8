#!/usr/bin/python3
"""PyTorch inference throughput, the peer of `resnets bench --compare-torch`.

Builds the torchvision model of the same name (random weights, eval mode), or for timm's
variants (seresnet50, resnet50d, resnetv2_50, ...) the PyTorch module of
scripts/resnet_family_reference.py, and times forwards under torch.no_grad() with the
given thread count, run as --mode says:
  eager          the module as it is
  jit-optimized  torch.jit.trace, torch.jit.freeze, torch.jit.optimize_for_inference
                 (BatchNorm folded, oneDNN layouts and fusions; traced once per batch size)
  autocast-bf16  torch.autocast("cpu", torch.bfloat16) on a channels-last model and input

One-shot:  bench/inference.py resnet50 --batch-size 1,8 --threads 2
           prints one JSON object per batch size (warm-up runs, then the median).
--serve:   after a {"ready": ...} line, reads commands from stdin, one per line,
           "time BATCH COUNT" -> {"timesMs": [...]} (COUNT timed forwards), "quit".
           `resnets bench` uses it to alternate its runs with ours: the two never run at
           the same time, and a change in the machine's load hits both alike.
"""
import argparse
import json
import os
import statistics
import sys
import time


def build(name, threads):
    import torch
    import torchvision

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    builder = getattr(torchvision.models, name, None)
    if builder is not None and callable(builder) and not name.startswith("_"):
        return torch, builder(weights=None).eval()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
    import resnet_family_reference as family
    if name not in family.MODELS:
        print(f"neither torchvision nor scripts/resnet_family_reference.py has a model named '{name}'", file=sys.stderr)
        sys.exit(3)
    return torch, family.build(name).eval()


MODES = ("eager", "jit-optimized", "autocast-bf16")


class Runner:
    """The model as --mode runs it, and an input of each batch size."""

    def __init__(self, torch, model, args):
        self.torch, self.model, self.args = torch, model, args
        self.mode = args.mode
        self.inputs, self.traced = {}, {}
        if self.mode == "autocast-bf16":
            self.model = model.to(memory_format=torch.channels_last)

    def input(self, batch):
        if batch not in self.inputs:
            x = self.torch.randn(batch, self.args.channels, self.args.size, self.args.size)
            self.inputs[batch] = x.contiguous(memory_format=self.torch.channels_last) if self.mode == "autocast-bf16" else x
        return self.inputs[batch]

    def forward_for(self, batch):
        torch = self.torch
        if self.mode == "jit-optimized":
            if batch not in self.traced:
                with torch.no_grad():
                    traced = torch.jit.trace(self.model, self.input(batch))
                    self.traced[batch] = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            return self.traced[batch]
        if self.mode == "autocast-bf16":
            def run(x):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return self.model(x)
            return run
        return self.model


def time_forwards(runner, batch, count):
    torch = runner.torch
    x = runner.input(batch)
    forward = runner.forward_for(batch)
    times = []
    with torch.no_grad():
        for _ in range(count):
            start = time.perf_counter()
            forward(x)
            times.append((time.perf_counter() - start) * 1000)
    return times


def serve(runner):
    torch = runner.torch
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "mode": runner.mode}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] != "time" or len(words) != 3:
            print(json.dumps({"error": f"unknown command: {line.strip()}"}), flush=True)
            continue
        batch, count = int(words[1]), int(words[2])
        print(json.dumps({"timesMs": time_forwards(runner, batch, count)}), flush=True)


def one_shot(runner):
    torch, args = runner.torch, runner.args
    for batch in (int(b) for b in args.batch_size.split(",")):
        time_forwards(runner, batch, args.warmup)
        times = time_forwards(runner, batch, args.runs)
        median = statistics.median(times)
        print(json.dumps({
            "batchSize": batch,
            "size": args.size,
            "threads": torch.get_num_threads(),
            "warmup": args.warmup,
            "runs": args.runs,
            "timesMs": times,
            "medianMs": median,
            "imagesPerSecond": batch * 1000 / median,
            "torch": torch.__version__,
            "mode": runner.mode,
        }), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--batch-size", default="1", help="comma-separated batch sizes (one-shot)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--mode", choices=MODES, default="eager", help="how PyTorch runs the model (default eager)")
    parser.add_argument("--serve", action="store_true", help="take timing commands on stdin")
    args = parser.parse_args()
    torch, model = build(args.model, args.threads)
    runner = Runner(torch, model, args)
    if args.serve:
        serve(runner)
    else:
        one_shot(runner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
