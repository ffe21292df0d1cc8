"""Reference optimiser trajectories from torch.optim, for test/train-optim.test.ts.

Usage: optim_reference.py CONFIG_JSON
CONFIG: {"optimizer": "sgd"|"adamw", "steps": int, "seed": int, "lrs": [lr per step],
         "groups": [{"shapes": [[...], ...], "weight_decay": float}], plus the optimiser's
         keyword arguments (momentum, dampening, nesterov, betas, eps)}.
Prints JSON: the initial parameters, the gradient of every step, and the parameters and
optimiser state after the last step, all as flat lists.
"""
import json
import sys

import torch


def main():
    config = json.loads(sys.argv[1])
    torch.manual_seed(config["seed"])
    groups = []
    for group in config["groups"]:
        params = [torch.randn(shape, dtype=torch.float32).requires_grad_() for shape in group["shapes"]]
        groups.append({"params": params, "weight_decay": group["weight_decay"]})
    initial = [p.detach().clone().flatten().tolist() for g in groups for p in g["params"]]
    kind = config["optimizer"]
    first_lr = config["lrs"][0]
    if kind == "sgd":
        optimizer = torch.optim.SGD(groups, lr=first_lr, momentum=config.get("momentum", 0),
                                    dampening=config.get("dampening", 0), nesterov=config.get("nesterov", False))
    elif kind == "adamw":
        optimizer = torch.optim.AdamW(groups, lr=first_lr, betas=tuple(config.get("betas", [0.9, 0.999])),
                                      eps=config.get("eps", 1e-8))
    else:
        raise SystemExit(f"unknown optimizer {kind}")
    grads = []
    for step in range(config["steps"]):
        for group in optimizer.param_groups:
            group["lr"] = config["lrs"][step]
        step_grads = []
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = torch.randn(p.shape, dtype=torch.float32)
                step_grads.append(p.grad.flatten().tolist())
        grads.append(step_grads)
        optimizer.step()
    final = [p.detach().flatten().tolist() for g in optimizer.param_groups for p in g["params"]]
    state = {}
    flat = [p for g in optimizer.param_groups for p in g["params"]]
    for index, p in enumerate(flat):
        for name, value in optimizer.state[p].items():
            if torch.is_tensor(value) and value.numel() == p.numel():
                state[f"state.{index}.{name}"] = value.flatten().tolist()
    print(json.dumps({"initial": initial, "grads": grads, "final": final, "state": state}))


if __name__ == "__main__":
    main()
