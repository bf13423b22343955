"""Time grids: the noise levels (gamma) at which a sampler calls the network, in the order it does.

A grid of N steps holds, for step i, the level `gamma_now[i]` at which the network is called and
the level `gamma_next[i]` the update moves x to. Without a time difference `gamma_next[i]` is
`gamma_now[i + 1]`; with Bit Diffusion's time difference td (Chen et al. 2022, in the official
sampler) the update jumps 1 + td steps ahead while the next call is made one step ahead.

Grids are defined over a continuous step index u in [0, N], u = 0 the noisiest point and u = N the
end, so td works for every grid: step i goes from u = i to u = min(i + 1 + td, N).

- `uniform`: uniform in t, u -> t = 1 - u/N (the official grid; every RIN config uses it).
- `logsnr`: uniform in log-SNR between t = 1 and t = `T_END`, the grid of DPM-Solver (Lu et al. 2022).
- `karras`: EDM's sigma^(1/rho) spacing, rho = 7, sigma in [0.002, 80] clipped to the schedule's range
  (Karras et al. 2022), with sigma = sqrt((1 - gamma) / gamma).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import get_args

import torch

from rin.configs.experiment import GridName
from rin.diffusion.schedules import GAMMA_MIN, Schedule

GRID_NAMES: tuple[str, ...] = get_args(GridName)

T_END = 1e-3  # least-noisy end of the logsnr grid (DPM-Solver's default for VP models)
KARRAS_SIGMA_MIN, KARRAS_SIGMA_MAX, KARRAS_RHO = 0.002, 80.0, 7.0


@dataclass(frozen=True)
class Grid:
    """Step i calls the network at `gamma_now[i]` and moves x to `gamma_next[i]`; both (N,) float32."""

    gamma_now: torch.Tensor
    gamma_next: torch.Tensor

    def __len__(self) -> int:
        return int(self.gamma_now.shape[0])


def log_snr(gamma: float) -> float:
    """lambda = log(alpha / sigma) = 0.5 log(gamma / (1 - gamma)); +inf at gamma = 1."""
    if gamma >= 1.0:
        return math.inf
    return 0.5 * (math.log(max(gamma, GAMMA_MIN)) - math.log1p(-gamma))


def _gamma_from_log_snr(lam: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(2.0 * lam)  # gamma = alpha^2 = 1 / (1 + exp(-2 lambda))


def _uniform(schedule: Schedule, steps: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda u: schedule((1.0 - u / steps).clamp_min(0.0))


def _logsnr(schedule: Schedule, steps: int) -> Callable[[torch.Tensor], torch.Tensor]:
    end = torch.tensor([1.0, T_END], dtype=torch.float64)
    lam_start, lam_end = (log_snr(float(g)) for g in schedule(end))
    return lambda u: _gamma_from_log_snr(lam_start + (lam_end - lam_start) * u / steps)


def _karras(schedule: Schedule, steps: int) -> Callable[[torch.Tensor], torch.Tensor]:
    ends = schedule(torch.tensor([1.0, T_END], dtype=torch.float64))
    sigma_of = lambda g: math.sqrt((1.0 - g) / g)  # noqa: E731 - EDM's sigma of a VP level
    s_max = min(KARRAS_SIGMA_MAX, sigma_of(float(ends[0])))
    s_min = max(KARRAS_SIGMA_MIN, sigma_of(float(ends[1])))
    a, b = s_max ** (1 / KARRAS_RHO), s_min ** (1 / KARRAS_RHO)

    def gamma(u: torch.Tensor) -> torch.Tensor:
        sigma = (a + (b - a) * u / steps) ** KARRAS_RHO
        return 1.0 / (1.0 + sigma**2)

    return gamma


_GRIDS = {"uniform": _uniform, "logsnr": _logsnr, "karras": _karras}


def make_grid(name: str, schedule: Schedule, steps: int, time_difference: float = 0.0) -> Grid:
    """The grid `name` of `steps` steps over the inference `schedule` (t -> gamma)."""
    if name not in _GRIDS:
        raise ValueError(f"unknown time grid {name!r}; known grids: {', '.join(GRID_NAMES)}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if time_difference < 0:
        raise ValueError(f"time_difference must be >= 0, got {time_difference}")
    gamma_of_u = _GRIDS[name](schedule, steps)
    u = torch.arange(steps, dtype=torch.float64)
    u_next = (u + 1.0 + time_difference).clamp_max(float(steps))
    return Grid(gamma_of_u(u).float(), gamma_of_u(u_next).float())
