"""The training loop's randomness: a function of (seed, step), kept out of the caller's RNG.

Every step draws t, eps, the self-conditioning mask, dropout and drop-path from the global
generators, reseeded from (seed, step), so a resumed run takes exactly the steps an uninterrupted
one takes. `preserved_rng` gives a library caller its own generator states back afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step * 7_919 + 12_345) % (2**63 - 1)


def seed_rng(seed: int, device: torch.device) -> None:
    """Seed the CPU generator and `device`'s: the only ones training draws from.

    The same numbers as `torch.manual_seed(seed)` there, without reseeding other accelerators
    (or queueing a seed for an unused CUDA), which `preserved_rng` would not restore.
    """
    torch.random.default_generator.manual_seed(seed)
    if device.type == "cuda":
        with torch.cuda.device(device):  # `cuda` without an index: the current device
            torch.cuda.manual_seed(seed)
    elif device.type != "cpu":
        torch.get_device_module(device.type).manual_seed(seed)


@contextlib.contextmanager
def preserved_rng(device: torch.device) -> Iterator[None]:
    """Restore the CPU generator and `device`'s on exit, also when the body raises."""
    accelerators = [] if device.type == "cpu" else [device]
    with torch.random.fork_rng(accelerators, device_type=device.type):
        yield
