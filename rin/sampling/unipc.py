"""UniPC (Zhao et al. 2023): a predictor-corrector of order 2 in data prediction, B(h) = e^h - 1 ("bh2").

Each step predicts x at the next level from the last two x0_hat (UniP-2, the DPM-Solver++(2M)
form), the next call's x0_hat then corrects that prediction (UniC) before the following step, so
the corrector costs no extra call. The first step is first order; the last step is a plain call.

With hh = -h (h the step in half log-SNR) and phi_k the exponential-integrator functions, the
coefficients b_k = hh phi_{k+1}(hh) k! / B(h); the corrector solves R rho = b with R's rows
(1, 1) and (r, 1), r = (lambda_prev - lambda_now) / h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rin.sampling.grid import Grid
from rin.sampling.levels import DenoiseFn, Level, call, first_order_step, grid_steps
from rin.sampling.noise import Noise


@dataclass
class _Step:
    """What the corrector needs of the predictor step it corrects."""

    x_start: torch.Tensor  # x at `now`, the start of the step
    x0_start: torch.Tensor  # x0_hat at `now`
    now: Level
    to: Level
    back: tuple[float, torch.Tensor] | None  # (r, D1) from the previous x0_hat, if any


def _coefficients(now: Level, to: Level) -> tuple[float, float, float]:
    """B(h), b_1 and b_2 for a step from `now` to `to`."""
    hh = -(to.lam - now.lam)
    h_phi_1 = math.expm1(hh)
    h_phi_2 = h_phi_1 / hh - 1.0
    h_phi_3 = h_phi_2 / hh - 0.5
    b_h = h_phi_1
    return b_h, h_phi_2 / b_h, 2.0 * h_phi_3 / b_h


def _update(step: _Step, x0_end: torch.Tensor | None) -> torch.Tensor:
    """The predictor (x0_end None) or the corrector (x0_end = x0_hat at the predicted point)."""
    base = first_order_step(step.x_start, step.x0_start, step.now, step.to)
    b_h, b1, b2 = _coefficients(step.now, step.to)
    scale = step.to.alpha * b_h
    if x0_end is None:  # UniP: rho = 1/2 on the backward difference, none without history
        return base if step.back is None else base - scale * 0.5 * step.back[1]
    d1_end = x0_end - step.x0_start
    if step.back is None:  # UniC-1
        return base - scale * 0.5 * d1_end
    r, d1_back = step.back
    # UniC-2: solve [[1, 1], [r, 1]] (rho_back, rho_end) = (b1, b2)
    rho_back = (b1 - b2) / (1.0 - r)
    rho_end = b1 - rho_back
    return base - scale * (rho_back * d1_back + rho_end * d1_end)


def unipc(denoise: DenoiseFn, x_T: torch.Tensor, grid: Grid, generator: Noise = None) -> torch.Tensor:
    """UniPC-2 (bh2) with the corrector on every step but the last."""
    x = x_T
    pending: _Step | None = None
    previous: tuple[Level, torch.Tensor] | None = None
    for now, to, last in grid_steps(grid):
        x0 = call(denoise, x, now)
        if pending is not None:
            x = _update(pending, x0)  # UniC, reusing this call
        if last:
            return x0
        if not math.isfinite(to.lam):
            x, pending = first_order_step(x, x0, now, to), None
        else:
            back = None
            if previous is not None:
                r = (previous[0].lam - now.lam) / (to.lam - now.lam)
                back = (r, (previous[1] - x0) / r)
            pending = _Step(x, x0, now, to, back)
            x = _update(pending, None)
        previous = (now, x0)
    return x
