"""PyTorch eager side of bench/overhead.ts: the same per-op workloads.

Usage: overhead.py --threads N --adds N --matmuls N
Reads workload names from stdin, one a line (add, matmul, matmulNoGrad); for each it runs
the workload once and prints the microseconds per op, wall-clock and process CPU time. The
TypeScript side alternates these runs with its own, so both see the same machine load.
"""
import argparse
import sys
import time

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--adds", type=int, default=10000)
    parser.add_argument("--matmuls", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    a = torch.ones(1)
    b = torch.ones(1)

    def add():
        for _ in range(args.adds):
            c = a + b  # noqa: F841  (freed when rebound, as in a user's loop)
        return args.adds

    # A permutation matrix keeps every value of the chain exactly bounded.
    weight = torch.eye(64)[torch.randperm(64)].requires_grad_()
    start = torch.randn(64, 64)

    def matmul():
        x = start
        for _ in range(args.matmuls):
            x = x @ weight
        return args.matmuls

    def matmul_no_grad():
        with torch.no_grad():
            return matmul()

    workloads = {"add": add, "matmul": matmul, "matmulNoGrad": matmul_no_grad}
    print(f"ready {torch.get_num_threads()} {torch.__version__}", flush=True)
    for line in sys.stdin:
        fn = workloads[line.strip()]
        started, cpu_started = time.perf_counter(), time.process_time()
        ops = fn()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(f"{wall * 1e6 / ops} {cpu * 1e6 / ops}", flush=True)


if __name__ == "__main__":
    main()
