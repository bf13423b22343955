"""FLOP matching for `quality_per_compute.py`: size a peer to within a tolerance of rin's forward FLOPs.

A peer architecture comes as *families*: each family is one shape (depth, channel multipliers,
...) listed from small to large width, so its forward FLOPs grow along the list. The search walks
each family until it passes the target's upper bound and keeps the candidate whose FLOPs are
closest to the target (in ratio). Counting is by `bench_measure.count_flops` (torch's flop
counter with the math attention backend), the same counter as `rin info` and `bench.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch
from bench_measure import count_flops
from torch import nn

C = TypeVar("C")


class FlopMatchError(RuntimeError):
    """No candidate lands within the tolerance of the target FLOPs."""


@dataclass(frozen=True)
class Match(Generic[C]):
    candidate: C
    flops: float  # forward FLOPs per image of the candidate
    target: float  # forward FLOPs per image it was matched to

    @property
    def ratio(self) -> float:
        return self.flops / self.target


def match_flops(
    families: Sequence[Sequence[C]],
    flops_of: Callable[[C], float],
    target: float,
    tolerance: float = 0.1,
) -> Match[C]:
    """The candidate whose FLOPs are closest to `target` (by |log ratio|); ties go to the earlier one.

    Each family must be ordered by growing FLOPs: its walk stops at the first candidate above
    target * (1 + tolerance), so only a few candidates per family are counted.
    Raises FlopMatchError when the closest one is off by more than `tolerance`.
    """
    if target <= 0:
        raise ValueError(f"target FLOPs must be positive, got {target}")
    best: Match[C] | None = None
    for family in families:
        for candidate in family:
            flops = flops_of(candidate)
            if flops > 0 and (best is None or abs(math.log(flops / target)) < abs(math.log(best.ratio))):
                best = Match(candidate, flops, target)
            if flops > target * (1 + tolerance):
                break  # the rest of this family is larger still
    if best is None or abs(best.ratio - 1) > tolerance:
        found = "nothing" if best is None else f"{best.candidate} at {best.ratio:.3f}x"
        raise FlopMatchError(
            f"no candidate within {tolerance:.0%} of {target / 1e9:.4f} GFLOPs (closest: {found})"
        )
    return best


def forward_flops_on_meta(build: Callable[[], nn.Module], call: Callable[[nn.Module], object]) -> float:
    """Forward FLOPs of `call(build())` with the model built on the meta device (no memory, no compute)."""
    with torch.device("meta"):
        model = build().eval()
        return float(count_flops(lambda: call(model)))
