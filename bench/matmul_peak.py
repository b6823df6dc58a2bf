"""Measured float32 matmul peak of this machine, the yardstick for achieved FLOP/s in the bench.

Times torch.mm of two size×size matrices with the bench's thread count (best of several runs, so a
busy moment lowers the mean but not the peak) into a preallocated output, so the figure is the
kernel's and not the allocator's (a fresh 4 MB result per product costs page faults that a VM can
make slower than the product itself), and writes the same MatMul as an ONNX file so the
TypeScript side can time onnxruntime's kernel on identical shapes. Prints one JSON line.
"""
import argparse
import json
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--onnx-out", default=None)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    n = a.size
    x = torch.randn(n, n)
    w = torch.randn(n, n)
    y = torch.empty(n, n)
    torch.mm(x, w, out=y)  # warm-up: thread pool start, page faults
    best = float("inf")
    iters = max(1, int(2e9 // (2 * n ** 3)))  # about 2 GFLOP per timing
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            torch.mm(x, w, out=y)
        best = min(best, (time.perf_counter() - t0) / iters)

    if a.onnx_out:

        class MatMul(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(w)

            def forward(self, x):
                return torch.matmul(x, self.w)

        torch.onnx.export(MatMul(), (x,), a.onnx_out, input_names=["x"], output_names=["y"], opset_version=14, dynamo=False)

    print(json.dumps({"size": n, "threads": a.threads, "seconds": best, "flops": 2 * n ** 3 / best}))


if __name__ == "__main__":
    main()
