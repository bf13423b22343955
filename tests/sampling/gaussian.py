"""Gaussian data x0 ~ N(mu, s^2) per pixel: the exact denoiser and the exact probability-flow ODE."""

from __future__ import annotations

import torch

MU, STD = 0.3, 0.5


def variance(gamma: torch.Tensor) -> torch.Tensor:
    """Var(x_t) = gamma s^2 + 1 - gamma."""
    return gamma * STD**2 + 1.0 - gamma


def exact_denoiser(x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """E[x0 | x_t] = mu + sqrt(g) s^2 / Var(x_t) (x_t - sqrt(g) mu), in float64."""
    g = gamma.double().reshape(-1, *([1] * (x_t.dim() - 1)))
    return MU + g.sqrt() * STD**2 / variance(g) * (x_t - g.sqrt() * MU)


def exact_ode_output(x_T: torch.Tensor, gamma_start: float, gamma_end: float) -> torch.Tensor:
    """The ODE keeps (x - sqrt(g) mu) / sqrt(Var(x_t)) fixed: x at gamma_end, then its exact x0_hat."""
    g0, g1 = torch.tensor(gamma_start, dtype=torch.float64), torch.tensor(gamma_end, dtype=torch.float64)
    z = (x_T - g0.sqrt() * MU) / variance(g0).sqrt()
    x_end = g1.sqrt() * MU + variance(g1).sqrt() * z
    return exact_denoiser(x_end, g1.expand(x_T.shape[0]))
