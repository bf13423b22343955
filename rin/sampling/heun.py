"""EDM's second-order Heun sampler (Karras et al. 2022, Algorithm 2), optionally with churn.

Worked in EDM's sigma space (x / alpha has noise level sigma_edm = sigma / alpha), where the
probability-flow ODE is dx/dsigma = (x - x0_hat) / sigma: an Euler step (DDIM), a second call at
its end point, and the average of the two slopes. The last step is a plain call (2N - 1 calls).
"""

from __future__ import annotations

import math

import torch

from rin.sampling.grid import Grid
from rin.sampling.levels import (
    DenoiseFn,
    Level,
    call,
    call_off_grid,
    first_order_step,
    grid_steps,
    level_from_sigma_edm,
)
from rin.sampling.noise import Noise, randn


def _churn(
    x: torch.Tensor, now: Level, churn: float, steps: int, generator: Noise
) -> tuple[torch.Tensor, Level]:
    """EDM's stochastic churn: raise sigma_edm by the factor 1 + min(churn / N, sqrt(2) - 1) with fresh
    noise, so the ODE steps from a slightly noisier, re-randomised point."""
    boost = min(churn / steps, math.sqrt(2.0) - 1.0)
    hat = level_from_sigma_edm(now.sigma_edm * (1.0 + boost))
    noise = randn(tuple(x.shape), generator, x.device, x.dtype)
    extra = math.sqrt(max(hat.sigma_edm**2 - now.sigma_edm**2, 0.0))
    return hat.alpha * (x / now.alpha + extra * noise), hat


def heun(
    denoise: DenoiseFn, x_T: torch.Tensor, grid: Grid, generator: Noise = None, churn: float = 0.0
) -> torch.Tensor:
    """Heun's method on the probability-flow ODE; `churn` > 0 adds EDM's stochastic churn."""
    x = x_T
    for now, to, last in grid_steps(grid):
        if churn > 0:
            x, now = _churn(x, now, churn, len(grid), generator)
        x0 = call(denoise, x, now)
        if last:
            return x0
        x_euler = first_order_step(x, x0, now, to)
        if to.sigma == 0.0:  # the end of the schedule: Euler lands on x0_hat exactly
            x = x_euler
            continue
        x0_end = call_off_grid(denoise, x_euler, to)
        # average of the slopes (x/alpha - x0_hat) / sigma_edm at both ends, scaled back to level `to`
        ds = to.sigma_edm - now.sigma_edm
        slope_now = (x / now.alpha - x0) / now.sigma_edm
        slope_end = (x_euler / to.alpha - x0_end) / to.sigma_edm
        x = to.alpha * (x / now.alpha + 0.5 * ds * (slope_now + slope_end))
    return x
