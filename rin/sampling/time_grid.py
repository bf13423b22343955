"""The sampling time grid (official `Scheduler.generate`).

Step i of T runs at t_i = 1 - i/T and moves to t_next = max(1 - (i + 1 + td)/T, 0), where td is
the time difference of Bit Diffusion (Chen et al. 2022); td = 0 in every RIN config.
"""

from __future__ import annotations

import torch


def sampling_times(steps: int, time_difference: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(t_now, t_next), each of shape (steps,), float64 for exact grid points."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    i = torch.arange(steps, dtype=torch.float64)
    t_now = 1.0 - i / steps
    t_next = (1.0 - (i + 1.0 + time_difference) / steps).clamp_min(0.0)
    return t_now, t_next
