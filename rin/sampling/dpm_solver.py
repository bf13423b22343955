"""DPM-Solver++ (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling"), data prediction.

The exponential integrator in the half log-SNR lambda = log(alpha / sigma): from level s to t with
h = lambda_t - lambda_s, x_t = (sigma_t / sigma_s) x_s + alpha_t (1 - e^-h) D, where D is x0_hat
(first order, equal to DDIM) or a second-order combination of two x0_hat values:
- 2M (multistep, Algorithm 2): D from this step's and the previous step's x0_hat; one call a step.
- 2S (singlestep, r = 1/2): D = x0_hat at the lambda-midpoint of the step; two calls a step.
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
    level_from_log_snr,
)
from rin.sampling.noise import Noise


def dpmpp_2m(denoise: DenoiseFn, x_T: torch.Tensor, grid: Grid, generator: Noise = None) -> torch.Tensor:
    """DPM-Solver++(2M): second order from the last two x0_hat, first order on the first step."""
    x = x_T
    previous: tuple[Level, torch.Tensor] | None = None
    for now, to, last in grid_steps(grid):
        x0 = call(denoise, x, now)
        if last:
            return x0
        d = x0
        if previous is not None and math.isfinite(to.lam):
            # D = (1 + 1/(2r)) x0_now - 1/(2r) x0_prev with r = h_prev / h
            before, x0_prev = previous
            r = (now.lam - before.lam) / (to.lam - now.lam)
            d = (1.0 + 0.5 / r) * x0 - (0.5 / r) * x0_prev
        x = first_order_step(x, d, now, to)
        previous = (now, x0)
    return x


def dpmpp_2s(denoise: DenoiseFn, x_T: torch.Tensor, grid: Grid, generator: Noise = None) -> torch.Tensor:
    """DPM-Solver++(2S) with the midpoint in lambda (r = 1/2)."""
    x = x_T
    for now, to, last in grid_steps(grid):
        x0 = call(denoise, x, now)
        if last:
            return x0
        if not math.isfinite(to.lam):
            x = first_order_step(x, x0, now, to)
            continue
        mid = level_from_log_snr(0.5 * (now.lam + to.lam))
        x0_mid = call_off_grid(denoise, first_order_step(x, x0, now, mid), mid)
        x = first_order_step(x, x0_mid, now, to)
    return x
