"""Noise levels as plain floats, and how samplers call the denoiser.

A VP level gamma gives alpha = sqrt(gamma), sigma = sqrt(1 - gamma) (x_t = alpha x0 + sigma eps),
the half log-SNR lambda = log(alpha / sigma) of DPM-Solver, and EDM's sigma_edm = sigma / alpha,
the noise level of x_t / alpha. Samplers compute their update coefficients from these in float64
and apply them to float32 images, so the extreme levels near t = 1 (gamma ~ 1e-9) lose nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from rin.sampling.grid import Grid

DenoiseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Level:
    """One noise level: gamma and the quantities each sampler family works in."""

    gamma: float

    @property
    def alpha(self) -> float:
        return math.sqrt(self.gamma)

    @property
    def sigma(self) -> float:
        return math.sqrt(max(1.0 - self.gamma, 0.0))

    @property
    def sigma_edm(self) -> float:
        return self.sigma / self.alpha

    @property
    def lam(self) -> float:
        return math.log(self.alpha) - math.log(self.sigma) if self.sigma > 0 else math.inf


def grid_steps(grid: Grid) -> Iterator[tuple[Level, Level, bool]]:
    """Per step: the level of its call, the level its update moves x to, whether it is the last."""
    for i in range(len(grid)):
        yield Level(float(grid.gamma_now[i])), Level(float(grid.gamma_next[i])), i == len(grid) - 1


def level_from_log_snr(lam: float) -> Level:
    return Level(1.0 / (1.0 + math.exp(-2.0 * lam)))


def level_from_sigma_edm(sigma_edm: float) -> Level:
    return Level(1.0 / (1.0 + sigma_edm**2))


def batch_gamma(level: Level | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """gamma as the (B,) float32 tensor the denoiser takes."""
    value = level if isinstance(level, torch.Tensor) else torch.tensor(level.gamma, dtype=torch.float32)
    return value.expand(like.shape[0]).to(like.device)


def call(denoise: DenoiseFn, x: torch.Tensor, level: Level | torch.Tensor) -> torch.Tensor:
    """A call at a point of the grid: x0_hat = denoise(x, gamma)."""
    return denoise(x, batch_gamma(level, x))


def call_off_grid(denoise: DenoiseFn, x: torch.Tensor, level: Level) -> torch.Tensor:
    """A call between grid points (Heun's second call, DPM-Solver's midpoint).

    Denoisers that carry state between calls (RIN's latents) may treat it differently: they expose
    `off_grid(x, gamma)`; a plain function is just called.
    """
    off_grid = getattr(denoise, "off_grid", None)
    if off_grid is None:
        return denoise(x, batch_gamma(level, x))
    return off_grid(x, batch_gamma(level, x))


def first_order_step(x: torch.Tensor, x0: torch.Tensor, now: Level, to: Level) -> torch.Tensor:
    """x at level `to` on the straight DDIM / Euler / DPM-Solver-1 path from (x, x0_hat) at `now`:
    x_to = (sigma_to / sigma_now) x + (alpha_to - sigma_to alpha_now / sigma_now) x0_hat."""
    ratio = to.sigma / now.sigma
    return ratio * x + (to.alpha - ratio * now.alpha) * x0
