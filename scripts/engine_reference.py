"""Reference results from PyTorch for the engine tests (test/engine-*.test.ts).

Usage: engine_reference.py CASES_JSON OUT_JSON
CASES_JSON: [{"id": str, "op": str, "inputs": {name: TENSOR}, "params": {...}}, ...]
TENSOR: {"shape": [...], "dtype": "float32"|"float64"|"int64"|"int32"|"uint8"|"bool"|..., "values": [flat, C order]}
        (results write infinities and NaN as the strings "inf", "-inf", "nan")
OUT_JSON: {id: [TENSOR, ...]}: every case's results (one op may give several, as topk).
Each op below is the PyTorch call our engine's function of the same meaning must match.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}


def decode(spec):
    dtype = DTYPES[spec["dtype"]]
    # Values travel as float64 (JSON numbers); exact for every value the tests send.
    flat = torch.tensor(spec["values"], dtype=torch.float64)
    return flat.to(dtype).reshape(spec["shape"])


def encode(t):
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        values = t.to(torch.float64)
    elif t.dtype == torch.bool:
        values = t.to(torch.int64)
    else:
        values = t
    flat = [v if math.isfinite(v) else str(v) for v in values.flatten().tolist()]
    return {"shape": list(t.shape), "dtype": NAMES[t.dtype], "values": flat}


def batch_norm_train(x, p):
    running_mean, running_var = x["running_mean"].clone(), x["running_var"].clone()
    out = F.batch_norm(x["input"], running_mean, running_var, x.get("weight"), x.get("bias"),
                       training=True, momentum=p["momentum"], eps=p["eps"])
    return [out, running_mean, running_var]


OPS = {
    # elementwise, broadcasting
    "add": lambda x, p: x["a"] + x["b"],
    "add_alpha": lambda x, p: torch.add(x["a"], x["b"], alpha=p["alpha"]),
    "sub": lambda x, p: x["a"] - x["b"],
    "mul": lambda x, p: x["a"] * x["b"],
    "div": lambda x, p: x["a"] / x["b"],
    "div_scalar": lambda x, p: x["a"] / p["value"],
    "pow": lambda x, p: torch.pow(x["a"], x["b"]),
    "remainder": lambda x, p: torch.remainder(x["a"], x["b"]),
    "maximum": lambda x, p: torch.maximum(x["a"], x["b"]),
    "exp": lambda x, p: torch.exp(x["a"]),
    "log": lambda x, p: torch.log(x["a"]),
    "rsqrt": lambda x, p: torch.rsqrt(x["a"]),
    "tanh": lambda x, p: torch.tanh(x["a"]),
    "round": lambda x, p: torch.round(x["a"]),
    "clamp": lambda x, p: torch.clamp(x["a"], p["min"], p["max"]),
    "eq": lambda x, p: x["a"] == x["b"],
    "lt": lambda x, p: x["a"] < x["b"],
    "ge": lambda x, p: x["a"] >= x["b"],
    "gt_scalar": lambda x, p: x["a"] > p["value"],
    "where": lambda x, p: torch.where(x["cond"], x["a"], x["b"]),
    # reductions
    "sum": lambda x, p: x["a"].sum(),
    "sum_dims": lambda x, p: x["a"].sum(dim=p["dim"], keepdim=p["keepdim"]),
    "mean_dims": lambda x, p: x["a"].mean(dim=p["dim"], keepdim=p["keepdim"]),
    "var": lambda x, p: torch.var(x["a"], dim=p["dim"], correction=p["correction"]),
    "max": lambda x, p: x["a"].max(),
    "max_dim": lambda x, p: list(torch.max(x["a"], dim=p["dim"], keepdim=p["keepdim"])),
    "min_dim": lambda x, p: list(torch.min(x["a"], dim=p["dim"])),
    "argmax": lambda x, p: torch.argmax(x["a"], dim=p["dim"]),
    "argmax_all": lambda x, p: torch.argmax(x["a"]),
    "topk": lambda x, p: list(torch.topk(x["a"], p["k"], dim=p["dim"], largest=p["largest"])),
    "sort": lambda x, p: list(torch.sort(x["a"], dim=p["dim"], descending=p["descending"])),
    "logsumexp": lambda x, p: torch.logsumexp(x["a"], dim=p["dim"]),
    "cumsum": lambda x, p: torch.cumsum(x["a"], dim=p["dim"]),
    "norm": lambda x, p: torch.norm(x["a"], p=p["p"], dim=p["dim"]),
    # linear algebra
    "matmul": lambda x, p: torch.matmul(x["a"], x["b"]),
    # views and indexing (values after the view, in C order)
    "permute": lambda x, p: x["a"].permute(p["dims"]),
    "transpose": lambda x, p: x["a"].transpose(p["dim0"], p["dim1"]),
    "slice": lambda x, p: x["a"][tuple([slice(None)] * p["dim"] + [slice(p["start"], p["end"], p["step"])])],
    "index_select": lambda x, p: torch.index_select(x["a"], p["dim"], x["index"]),
    "gather": lambda x, p: torch.gather(x["a"], p["dim"], x["index"]),
    "cat": lambda x, p: torch.cat([x["a"], x["b"]], dim=p["dim"]),
    "stack": lambda x, p: torch.stack([x["a"], x["b"]], dim=p["dim"]),
    "split": lambda x, p: list(torch.split(x["a"], p["size"], dim=p["dim"])),
    "chunk": lambda x, p: list(torch.chunk(x["a"], p["chunks"], dim=p["dim"])),
    "flip": lambda x, p: torch.flip(x["a"], p["dims"]),
    "expand": lambda x, p: x["a"].expand(p["shape"]),
    "repeat": lambda x, p: x["a"].repeat(p["times"]),
    "to": lambda x, p: x["a"].to(DTYPES[p["dtype"]]),
    # neural-network functions
    "conv2d": lambda x, p: F.conv2d(x["input"], x["weight"], x.get("bias"), stride=p["stride"],
                                    padding=p["padding"], dilation=p["dilation"], groups=p["groups"]),
    "batch_norm_train": batch_norm_train,
    "batch_norm_eval": lambda x, p: F.batch_norm(x["input"], x["running_mean"], x["running_var"], x.get("weight"),
                                                 x.get("bias"), training=False, eps=p["eps"]),
    "linear": lambda x, p: F.linear(x["input"], x["weight"], x.get("bias")),
    "relu": lambda x, p: F.relu(x["input"]),
    "prelu": lambda x, p: F.prelu(x["input"], x["weight"]),
    "sigmoid": lambda x, p: torch.sigmoid(x["input"]),
    "softmax": lambda x, p: F.softmax(x["input"], dim=p["dim"]),
    "log_softmax": lambda x, p: F.log_softmax(x["input"], dim=p["dim"]),
    "max_pool2d": lambda x, p: F.max_pool2d(x["input"], p["kernel"], stride=p["stride"], padding=p["padding"],
                                            dilation=p["dilation"], ceil_mode=p["ceil_mode"]),
    "avg_pool2d": lambda x, p: F.avg_pool2d(x["input"], p["kernel"], stride=p["stride"], padding=p["padding"],
                                            ceil_mode=p["ceil_mode"], count_include_pad=p["count_include_pad"]),
    "adaptive_avg_pool2d": lambda x, p: F.adaptive_avg_pool2d(x["input"], p["size"]),
    "adaptive_max_pool2d": lambda x, p: F.adaptive_max_pool2d(x["input"], p["size"]),
    "cross_entropy": lambda x, p: F.cross_entropy(x["input"], x["target"], weight=x.get("weight"),
                                                  reduction=p["reduction"], ignore_index=p["ignore_index"],
                                                  label_smoothing=p["label_smoothing"]),
    "pad": lambda x, p: F.pad(x["input"], p["pads"], mode=p["mode"], value=p["value"])
    if p["mode"] == "constant" else F.pad(x["input"], p["pads"], mode=p["mode"]),
}


def main():
    with open(sys.argv[1], encoding="utf8") as handle:
        cases = json.load(handle)
    results = {}
    for case in cases:
        inputs = {name: decode(spec) for name, spec in case["inputs"].items()}
        out = OPS[case["op"]](inputs, case.get("params", {}))
        results[case["id"]] = [encode(t) for t in (out if isinstance(out, list) else [out])]
    with open(sys.argv[2], "w", encoding="utf8") as handle:
        json.dump(results, handle, allow_nan=False)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
