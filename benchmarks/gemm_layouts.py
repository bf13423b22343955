"""GEMM GFLOP/s in fp32 and bf16 for the shapes and operand layouts of rin's linear layers.

Shows whether this CPU runs bf16 matmuls in hardware: without AVX-512 BF16 or AMX every bf16
layout is far below fp32 (benchmarks/README.md, "Why bf16 was ~12x slower").

    python benchmarks/gemm_layouts.py --threads 2
"""

from __future__ import annotations

import argparse

import torch
from bench_measure import interleaved_medians

from rin.model.precision import cpu_has_native_bf16

# (tokens, in, out): latent MLP / attention and interface projections of the mnist and cifar10 presets
SHAPES = ((2048, 64, 64), (512, 128, 512), (512, 512, 128), (2048, 256, 256), (4096, 512, 512))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"cpu capability {torch.backends.cpu.get_cpu_capability()}, native bf16: {cpu_has_native_bf16()}")
    print("| M x K x N | dtype | NN | NT | TN |")
    print("|---|---|---|---|---|")
    for m, k, n in SHAPES:
        for dtype in (torch.float32, torch.bfloat16):
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            bt, c = torch.randn(n, k, dtype=dtype), torch.randn(m, n, dtype=dtype)
            # forward x @ W.t() is NT; the weight gradient x.t() @ dy is TN; the input gradient NN
            steps = {
                "nn": lambda a=a, b=b: a @ b,
                "nt": lambda a=a, bt=bt: a @ bt.t(),
                "tn": lambda a=a, c=c: a.t() @ c,
            }
            medians = interleaved_medians(steps, warmup=2, repeats=args.repeats)
            rates = [2.0 * m * k * n / medians[key] / 1e9 for key in ("nn", "nt", "tn")]
            print(f"| {m} x {k} x {n} | {str(dtype)[6:]} | " + " | ".join(f"{r:.1f}" for r in rates) + " |")


if __name__ == "__main__":
    main()
