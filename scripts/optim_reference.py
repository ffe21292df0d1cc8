"""Reference optimiser trajectories from torch.optim, for test/train-optim.test.ts.

Usage: optim_reference.py CONFIG_JSON
CONFIG: {"optimizer": "sgd"|"adamw"|"rmsprop"|"rmsproptf"|"lamb", "steps": int, "seed": int,
         "lrs": [lr per step], "momentums": [momentum or beta1 per step]?,
         "groups": [{"shapes": [[...], ...], "weight_decay": float}], plus the optimiser's
         keyword arguments (momentum, dampening, nesterov, betas, eps, alpha, centered,
         max_grad_norm, trust_clip, always_adapt)}.
rmsprop is torch.optim.RMSprop. timm is not installable here, so rmsproptf and lamb are
written below from the definitions in timm/optim/rmsprop_tf.py (RMSpropTF with
lr_in_momentum, coupled weight decay) and timm/optim/lamb.py (Lamb, single-tensor path).
Prints JSON: the initial parameters, the gradient of every step, and the parameters and
optimiser state after the last step, all as flat lists.
"""
import json
import sys

import torch


class RMSpropTF(torch.optim.Optimizer):
    """timm's RMSpropTF: mean square from ones, eps inside the root, lr in the momentum buffer."""

    def __init__(self, params, lr, alpha=0.9, eps=1e-10, weight_decay=0, momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["square_avg"] = torch.ones_like(p)
                    if group["momentum"] > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = torch.zeros_like(p)
                square_avg = state["square_avg"]
                one_minus_alpha = 1.0 - group["alpha"]
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                square_avg.add_(grad.pow(2) - square_avg, alpha=one_minus_alpha)
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    grad_avg.add_(grad - grad_avg, alpha=one_minus_alpha)
                    avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).add(group["eps"]).sqrt_()
                else:
                    avg = square_avg.add(group["eps"]).sqrt_()
                if group["momentum"] > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(group["momentum"]).addcdiv_(grad, avg, value=group["lr"])
                    p.add_(-buf)
                else:
                    p.addcdiv_(grad, avg, value=-group["lr"])


class Lamb(torch.optim.Optimizer):
    """timm's Lamb (NVLAMB): global-norm gradient clipping, trust ratio on decayed parameters."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01, max_grad_norm=1.0,
                 trust_clip=False, always_adapt=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      max_grad_norm=max_grad_norm, trust_clip=trust_clip, always_adapt=always_adapt))

    @torch.no_grad()
    def step(self):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        clip = None
        if self.defaults["max_grad_norm"] is not None and grads:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            clip = (norm / self.defaults["max_grad_norm"]).clamp_(min=1.0)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            beta3 = 1 - beta1
            group["step"] = group.get("step", 0) + 1
            bc1 = 1 - beta1 ** group["step"]
            bc2 = 1 - beta2 ** group["step"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad if clip is None else p.grad / clip
                state = self.state[p]
                if len(state) == 0:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, beta3)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (exp_avg_sq.sqrt() / (bc2 ** 0.5)).add_(group["eps"])
                update = (exp_avg / bc1).div_(denom)
                if group["weight_decay"] != 0:
                    update.add_(p, alpha=group["weight_decay"])
                if group["weight_decay"] != 0 or group["always_adapt"]:
                    w_norm, g_norm = p.norm(2.0), update.norm(2.0)
                    ratio = torch.where(w_norm > 0, torch.where(g_norm > 0, w_norm / g_norm, torch.ones_like(w_norm)), torch.ones_like(w_norm))
                    if group["trust_clip"]:
                        ratio = torch.clamp(ratio, max=1.0)
                    update.mul_(ratio)
                p.add_(update, alpha=-group["lr"])


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
    elif kind == "rmsprop":
        optimizer = torch.optim.RMSprop(groups, lr=first_lr, alpha=config.get("alpha", 0.99), eps=config.get("eps", 1e-8),
                                        momentum=config.get("momentum", 0), centered=config.get("centered", False))
    elif kind == "rmsproptf":
        optimizer = RMSpropTF(groups, lr=first_lr, alpha=config.get("alpha", 0.9), eps=config.get("eps", 1e-10),
                              momentum=config.get("momentum", 0), centered=config.get("centered", False))
    elif kind == "lamb":
        optimizer = Lamb(groups, lr=first_lr, betas=tuple(config.get("betas", [0.9, 0.999])), eps=config.get("eps", 1e-6),
                         max_grad_norm=config.get("max_grad_norm", 1.0), trust_clip=config.get("trust_clip", False),
                         always_adapt=config.get("always_adapt", False))
    else:
        raise SystemExit(f"unknown optimizer {kind}")
    grads = []
    for step in range(config["steps"]):
        for group in optimizer.param_groups:
            group["lr"] = config["lrs"][step]
            if "momentums" in config:
                if "betas" in group:
                    group["betas"] = (config["momentums"][step], group["betas"][1])
                else:
                    group["momentum"] = config["momentums"][step]
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
