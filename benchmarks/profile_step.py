"""Where the time of one rin training step goes, by op kind and by phase (CPU).

Two views of the same step (pass 1 without gradient, pass 2 forward, backward, optimizer step):

- `--view cpu` (default): every ATen op below autograd and autocast is timed with this thread's
  CPU clock (`time.thread_time_ns`) from a `TorchDispatchMode`, so the breakdown holds on a busy
  machine at one thread (other processes do not add to it). The mode itself costs some
  microseconds per op, reported as "outside ops".
- `--view profiler`: `torch.profiler` self CPU time per op (wall clock inside each op).

Op kinds: GEMM (mm, addmm, bmm, baddbmm), attention (the fused SDPA kernels), casts (`_to_copy`,
`copy_`), dropout (mask draws and applying them), layernorm, softmax, gelu, optimizer (every op
inside `optimizer.step()`), element-wise and the rest.

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 \\
        python benchmarks/profile_step.py --preset cifar10 --batch 16 --bf16 --threads 1
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from rin.configs import apply_overrides, get_preset
from rin.diffusion import diffusion_loss
from rin.model import RIN
from rin.training import build_optimizer

KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("GEMM", ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::linear", "aten::matmul")),
    ("attention", ("scaled_dot_product", "flash_attention")),
    ("casts", ("aten::_to_copy", "aten::copy_", "aten::to", "aten::_copy_from")),
    ("dropout", ("aten::random_", "aten::bernoulli", "aten::where", "aten::native_dropout", "aten::rand")),
    ("layernorm", ("layer_norm",)),
    ("softmax", ("softmax",)),
    ("gelu", ("gelu",)),
]
PHASES = ("pass 1", "pass 2 forward", "backward", "optimizer")


def op_kind(name: str) -> str:
    for kind, needles in KINDS:
        if any(n in name for n in needles):
            return kind
    return "other"


class CPUTimeByOp(TorchDispatchMode):
    """Thread CPU nanoseconds and call counts of every ATen op, keyed by (phase, op name)."""

    def __init__(self) -> None:
        super().__init__()
        self.phase = "other"
        self.ns: dict[tuple[str, str], int] = defaultdict(int)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        start = time.thread_time_ns()
        out = func(*args, **(kwargs or {}))
        key = (self.phase, "aten::" + func.__name__.split(".")[0])
        self.ns[key] += time.thread_time_ns() - start
        self.calls[key] += 1
        return out


def build_step(preset: str, batch: int, bf16: bool, overrides: list[str], mode: CPUTimeByOp | None):
    """One training step as the benchmark's (random data), with phase markers for `mode`."""
    config = apply_overrides(get_preset(preset), overrides)
    m = config.model
    model = RIN(m).train()
    optimizer = build_optimizer(model, config.train)
    x0 = torch.rand(batch, m.channels, m.image_size, m.image_size) * 2 - 1
    labels = torch.randint(0, max(m.num_classes, 1), (batch,)) if m.num_classes else None

    def marked(*args, **kwargs):  # type: ignore[no-untyped-def]
        if mode is not None:
            mode.phase = "pass 2 forward" if torch.is_grad_enabled() else "pass 1"
        return model(*args, **kwargs)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = diffusion_loss(marked, x0, labels, config.diffusion).loss
        optimizer.zero_grad(set_to_none=True)
        if mode is not None:
            mode.phase = "backward"
        loss.backward()
        if mode is not None:
            mode.phase = "optimizer"
        optimizer.step()
        if mode is not None:
            mode.phase = "other"

    return step


def cpu_view(step_for: Callable[[CPUTimeByOp | None], Callable[[], None]], warmup: int, repeats: int) -> None:
    mode = CPUTimeByOp()
    step = step_for(mode)
    for _ in range(warmup):
        step()
    mode.ns.clear()
    mode.calls.clear()
    start = time.thread_time_ns()
    with mode:
        for _ in range(repeats):
            step()
    total = (time.thread_time_ns() - start) / repeats
    by_kind: dict[str, float] = defaultdict(float)
    by_phase: dict[str, float] = defaultdict(float)
    for (phase, name), ns in mode.ns.items():
        kind = "optimizer" if phase == "optimizer" else op_kind(name)
        by_kind[kind] += ns / repeats
        by_phase[phase] += ns / repeats
    in_ops = sum(by_kind.values())
    by_kind["outside ops (dispatch-mode overhead, Python)"] = total - in_ops
    print(f"step CPU time {total / 1e6:.1f} ms (thread CPU clock, {repeats} steps)\n")
    print("| op kind | ms per step | share |\n|---|---|---|")
    for kind, ns in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {ns / 1e6:.1f} | {100 * ns / total:.1f}% |")
    print("\n| phase | ms per step | share |\n|---|---|---|")
    for phase in (*PHASES, "other"):
        if phase in by_phase:
            print(f"| {phase} | {by_phase[phase] / 1e6:.1f} | {100 * by_phase[phase] / total:.1f}% |")
    print("\n| phase | op | calls per step | ms per step |\n|---|---|---|---|")
    top = sorted(mode.ns.items(), key=lambda kv: -kv[1])[:60]
    for (phase, name), ns in top:
        print(f"| {phase} | {name} | {mode.calls[(phase, name)] // repeats} | {ns / repeats / 1e6:.1f} |")


def profiler_view(step: Callable[[], None], warmup: int, repeats: int) -> None:
    for _ in range(warmup):
        step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(repeats):
            step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    by_kind: dict[str, float] = defaultdict(float)
    for e in events:
        by_kind[op_kind(e.key)] += e.self_cpu_time_total
    print(f"profiled self CPU time {total / repeats / 1e3:.1f} ms per step (wall clock inside ops)\n")
    print("| op kind | ms per step | share |\n|---|---|---|")
    for kind, us in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {us / repeats / 1e3:.1f} | {100 * us / total:.1f}% |")
    print()
    print(events.table(sort_by="self_cpu_time_total", row_limit=30))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cifar10")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--view", choices=["cpu", "profiler"], default="cpu")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="rin config overrides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    precision = "bf16 autocast" if args.bf16 else "fp32"
    print(f"{args.preset}, batch {args.batch}, {precision}, {args.threads} thread(s)")

    def step_for(mode: CPUTimeByOp | None) -> Callable[[], None]:
        return build_step(args.preset, args.batch, args.bf16, args.overrides, mode)

    if args.view == "cpu":
        cpu_view(step_for, args.warmup, args.repeats)
    else:
        profiler_view(step_for(None), args.warmup, args.repeats)


if __name__ == "__main__":
    main()
