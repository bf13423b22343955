"""Noise schedules gamma(t), continuous time (official `diffusion_utils.Scheduler`).

t in [0, 1]; t = 0 is data, t = 1 is noise. gamma is the signal variance (alpha-bar):
x_t = sqrt(gamma) x0 + sqrt(1 - gamma) eps. Every schedule is clipped to [1e-9, 1].
Names: `linear`, `cosine`, `cosine@s,e,tau`, `sigmoid@s,e,tau` (Chen 2023, "On the importance
of noise scheduling for diffusion models").
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from rin.configs.schedule_names import parse_gamma_schedule

GAMMA_MIN = 1e-9

Schedule = Callable[[torch.Tensor], torch.Tensor]


def linear_gamma(t: torch.Tensor) -> torch.Tensor:
    """`simple_linear`: gamma = 1 - t."""
    return (1.0 - t).clamp(GAMMA_MIN, 1.0)


def simple_cosine_gamma(t: torch.Tensor) -> torch.Tensor:
    """The default inference schedule: cos(((t + 0.0002) / 1.00025) * pi / 2)^2."""
    return torch.cos((t + 0.0002) / (1 + 0.00025) * math.pi / 2).pow(2).clamp(GAMMA_MIN, 1.0)


def cosine_gamma(t: torch.Tensor, start: float, end: float, tau: float) -> torch.Tensor:
    """`cosine@s,e,tau`: a cosine power curve between s and e, rescaled to hit 1 at t=0 and 0 at t=1."""
    v_start = math.cos(start * math.pi / 2) ** (2 * tau)
    v_end = math.cos(end * math.pi / 2) ** (2 * tau)
    output = torch.cos((t * (end - start) + start) * math.pi / 2).pow(2 * tau)
    return ((v_end - output) / (v_end - v_start)).clamp(GAMMA_MIN, 1.0)


def sigmoid_gamma(t: torch.Tensor, start: float, end: float, tau: float) -> torch.Tensor:
    """`sigmoid@s,e,tau`: (sigma(e/tau) - sigma((t(e-s)+s)/tau)) / (sigma(e/tau) - sigma(s/tau))."""
    v_start = 1.0 / (1.0 + math.exp(-start / tau))
    v_end = 1.0 / (1.0 + math.exp(-end / tau))
    output = torch.sigmoid((t * (end - start) + start) / tau)
    return ((v_end - output) / (v_end - v_start)).clamp(GAMMA_MIN, 1.0)


def get_schedule(name: str) -> Schedule:
    """Parse a schedule name into a function t (float tensor) -> gamma (same shape)."""
    kind, numbers = parse_gamma_schedule(name)
    if numbers is None:
        return linear_gamma if kind == "linear" else simple_cosine_gamma
    start, end, tau = numbers
    gamma = cosine_gamma if kind == "cosine" else sigmoid_gamma
    return lambda t: gamma(t, start, end, tau)
