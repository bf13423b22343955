"""Measuring helpers for `bench.py`: interleaved medians, matmul ceilings, FLOP counts, peak memory.

Everything here is model-agnostic; `bench_subjects.py` builds the models.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

Step = Callable[[], object]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def device_clock(clock: str, device: str = "cpu") -> Callable[[], float]:
    """The clock to time steps with on `device`: on CUDA, wall seconds after a device
    synchronisation, so a step's queued kernels are charged to it (CPU time cannot see them)."""
    if device == "cpu":
        return CLOCKS[clock]
    if clock != "wall":
        raise ValueError(f"--clock {clock} measures host CPU seconds only; use --clock wall on {device}")

    def synced() -> float:
        torch.cuda.synchronize()
        return time.perf_counter()

    return synced


def interleaved_times(
    steps: dict[str, Step], warmup: int, repeats: int, clock: str = "wall", device: str = "cpu"
) -> dict[str, list[float]]:
    """Seconds of each step in each round, timing them round-robin (A B C A B C ...) after warm-up.

    Interleaving spreads slow phases of a shared machine over all candidates instead of
    penalising whichever happened to run during them, and makes round i of A and round i of B
    a fair pair for a ratio. `clock="cpu"` times process CPU seconds instead of wall seconds:
    with one thread it measures the work itself, whatever else runs on the machine (use it for
    A/B decisions on a busy machine, never for the reported images/s). On CUDA every reading
    synchronises the device first (`device_clock`).
    """
    now = device_clock(clock, device)
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = now()
            step()
            times[name].append(now() - start)
    return times


def interleaved_medians(
    steps: dict[str, Step], warmup: int, repeats: int, clock: str = "wall", device: str = "cpu"
) -> dict[str, float]:
    """Median seconds of each step over interleaved rounds (see `interleaved_times`)."""
    times = interleaved_times(steps, warmup, repeats, clock, device)
    return {name: statistics.median(values) for name, values in times.items()}


def round_ratios(numerator: list[float], denominator: list[float]) -> tuple[float, float, float]:
    """Median, min and max over rounds of numerator[i] / denominator[i] (same-round pairs)."""
    values = sorted(n / d for n, d in zip(numerator, denominator, strict=True))
    return statistics.median(values), values[0], values[-1]


CPU_CEILING_SHAPES = ((4096, 1024, 1024), (2048, 2048, 2048))
# a GPU needs larger GEMMs to reach its peak; each of these is ~1 ms on an H100-class chip
CUDA_CEILING_SHAPES = ((8192, 8192, 8192), (16384, 4096, 4096), (4096, 16384, 4096))


def matmul_ceiling(
    dtype: torch.dtype, repeats: int, clock: str = "wall", device: str = "cpu"
) -> dict[str, float]:
    """Best median GFLOP/s of a few large GEMMs (both operand layouts nn.Linear uses), in `dtype`,
    timed with the same `clock` as the models (so MFU is CPU time over CPU time with `--clock cpu`).
    On CUDA: larger shapes, each timed as 10 back-to-back GEMMs between synchronisations."""
    best: dict[str, float] = {}
    cuda = device != "cpu"
    calls = 10 if cuda else 1
    for m, k, n in CUDA_CEILING_SHAPES if cuda else CPU_CEILING_SHAPES:
        a = torch.randn(m, k, dtype=dtype, device=device)
        b = torch.randn(k, n, dtype=dtype, device=device)
        bt = torch.randn(n, k, dtype=dtype, device=device)
        layouts: dict[str, Step] = {
            "nn": lambda a=a, b=b: [a @ b for _ in range(calls)],  # type: ignore[misc]
            "nt": lambda a=a, bt=bt: [a @ bt.t() for _ in range(calls)],  # type: ignore[misc]
        }
        medians = interleaved_medians(layouts, warmup=1, repeats=repeats, clock=clock, device=device)
        for layout, seconds in medians.items():
            key = f"{m}x{k}x{n} {layout}"
            best[key] = 2.0 * m * k * n * calls / seconds / 1e9
    return best


def count_flops(fn: Step) -> int:
    """FLOPs of `fn()` (forward and, if it runs one, backward) by torch's flop counter.

    The math SDPA backend is forced: the counter sees the fused CPU attention kernel as 0 FLOPs.
    """
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        fn()
    return int(counter.get_total_flops())


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (VmHWM) of this process (Linux only)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    return _status_kb("VmHWM") / 1024.0


def rss_mb() -> float:
    return _status_kb("VmRSS") / 1024.0
