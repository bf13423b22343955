"""Training and sampling throughput of rin presets, as a markdown table (and JSON with --json).

Measures the full RIN training step (pass 1 without gradient, pass 2 forward/backward, optimizer
step) and one sampling step, medians over repeats after warm-up, on random data of the preset's
shape. Run with the allocator settings of the Makefile for stable CPU numbers:

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 \
        python benchmarks/throughput.py --preset cifar10 --batch 32 --bf16
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from rin.configs import apply_overrides, get_preset
from rin.diffusion import diffusion_loss
from rin.model import RIN, count_parameters
from rin.sampling import RINDenoiser
from rin.training import build_optimizer


def median_seconds(fn: Callable[[], None], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(preset: str, batch: int, bf16: bool, warmup: int, repeats: int, overrides: list[str]) -> dict:
    config = apply_overrides(get_preset(preset), overrides)
    m = config.model
    model = RIN(m)
    optimizer = build_optimizer(model, config.train)
    x0 = torch.rand(batch, m.channels, m.image_size, m.image_size) * 2 - 1
    labels = torch.randint(0, max(m.num_classes, 1), (batch,)) if m.num_classes else None

    def train_step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = diffusion_loss(model, x0, labels, config.diffusion).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    train_s = median_seconds(train_step, warmup, repeats)
    denoise = RINDenoiser(model.eval(), config.diffusion.prediction, labels=labels,
                          autocast_dtype=torch.bfloat16 if bf16 else None)  # fmt: skip
    gamma = torch.full((batch,), 0.5)
    sample_s = median_seconds(lambda: denoise(x0, gamma), warmup, repeats)
    return {
        "preset": preset,
        "precision": "bf16" if bf16 else "fp32",
        "batch": batch,
        "params_M": round(count_parameters(model) / 1e6, 2),
        "threads": torch.get_num_threads(),
        "train_img_per_s": round(batch / train_s, 2),
        "sample_img_steps_per_s": round(batch / sample_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", nargs="+", default=["cifar10"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--bf16", action="store_true", help="also measure bf16 autocast")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--json", help="write the rows to this JSON file")
    args = parser.parse_args()
    rows = []
    for preset in args.preset:
        for bf16 in (False, True) if args.bf16 else (False,):
            rows.append(measure(preset, args.batch, bf16, args.warmup, args.repeats, args.overrides))
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
