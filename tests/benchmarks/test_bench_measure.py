"""Tests of the benchmark's measuring helpers (benchmarks/bench_measure.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_measure import (  # noqa: E402
    count_flops,
    interleaved_medians,
    peak_rss_mb,
    reset_peak_rss,
    round_ratios,
)


def test_count_flops_of_a_matmul_is_2mkn():
    """A (m, k) x (k, n) product counts 2*m*k*n FLOPs."""
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    assert count_flops(lambda: a @ b) == 2 * 8 * 16 * 4


def test_count_flops_sees_attention():
    """Attention is counted (the fused CPU kernel alone would count 0): 2 batched matmuls of 2*n*n*d."""
    q = torch.randn(1, 1, 8, 4)
    assert count_flops(lambda: F.scaled_dot_product_attention(q, q, q)) == 2 * (2 * 8 * 8 * 4)


def test_interleaved_medians_runs_each_step_warmup_plus_repeats_times():
    """Every step runs warmup + repeats times, round-robin, and gets a non-negative median."""
    calls: list[str] = []
    medians = interleaved_medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 1, 3)
    assert calls == ["a", "b"] + ["a", "b"] * 3
    assert set(medians) == {"a", "b"} and min(medians.values()) >= 0


def test_round_ratios_pair_rounds_in_order():
    """Ratios pair round i with round i: median, min and max of those, not of the medians."""
    median, low, high = round_ratios([2.0, 6.0, 3.0], [1.0, 2.0, 3.0])  # ratios 2, 3, 1
    assert (median, low, high) == (2.0, 1.0, 3.0)
    with pytest.raises(ValueError):
        round_ratios([1.0], [1.0, 2.0])


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux /proc only")
def test_peak_rss_sees_a_new_allocation():
    """After a reset, the high-water mark rises by at least most of a freshly touched 64 MB block."""
    if not reset_peak_rss():
        pytest.skip("clear_refs not writable here")
    before = peak_rss_mb()
    block = torch.ones(16 * 1024 * 1024)  # 64 MB, written so it is resident
    assert peak_rss_mb() - before > 48
    del block
