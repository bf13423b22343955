"""Prediction targets and conversions between eps, x0 and v.

With alpha = sqrt(gamma) and sigma = sqrt(1 - gamma):
    x_t = alpha x0 + sigma eps,   v = alpha eps - sigma x0 (Salimans & Ho 2022).
All functions broadcast a per-example gamma of shape (B,) over (B, ...).
"""

from __future__ import annotations

from typing import Literal

import torch

Prediction = Literal["eps", "x0", "v"]


def _alpha_sigma(gamma: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gamma = gamma.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)  # (B, 1, ...)
    return gamma.sqrt(), (1.0 - gamma).clamp_min(0.0).sqrt()


def add_noise(x0: torch.Tensor, gamma: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(gamma) x0 + sqrt(1 - gamma) eps."""
    alpha, sigma = _alpha_sigma(gamma, x0)
    return alpha * x0 + sigma * eps


def training_target(
    x0: torch.Tensor, eps: torch.Tensor, gamma: torch.Tensor, prediction: Prediction
) -> torch.Tensor:
    """What the network should output for a given prediction type."""
    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    alpha, sigma = _alpha_sigma(gamma, x0)
    return alpha * eps - sigma * x0


def to_x0(
    output: torch.Tensor, x_t: torch.Tensor, gamma: torch.Tensor, prediction: Prediction
) -> torch.Tensor:
    """Recover x0 from the network output (official `get_x0_eps`)."""
    alpha, sigma = _alpha_sigma(gamma, x_t)
    if prediction == "eps":
        return (x_t - sigma * output) / alpha
    if prediction == "x0":
        return output
    return alpha * x_t - sigma * output


def convert(
    output: torch.Tensor, x_t: torch.Tensor, gamma: torch.Tensor, source: Prediction, space: Prediction
) -> torch.Tensor:
    """The network output of kind `source` expressed in `space` (eps, x0 or v), given x_t."""
    if space == source:
        return output
    if space == "x0":
        return to_x0(output, x_t, gamma, source)
    if space == "eps":
        return to_eps(output, x_t, gamma, source)
    alpha, sigma = _alpha_sigma(gamma, x_t)  # v = alpha eps - sigma x0
    return alpha * to_eps(output, x_t, gamma, source) - sigma * to_x0(output, x_t, gamma, source)


def eps_from_x0(x0: torch.Tensor, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """eps implied by x0 and x_t; used to re-derive eps after clipping x0."""
    alpha, sigma = _alpha_sigma(gamma, x_t)
    return (x_t - alpha * x0) / sigma.clamp_min(1e-12)


def to_eps(
    output: torch.Tensor, x_t: torch.Tensor, gamma: torch.Tensor, prediction: Prediction
) -> torch.Tensor:
    """Recover eps from the network output."""
    if prediction == "eps":
        return output
    alpha, sigma = _alpha_sigma(gamma, x_t)
    if prediction == "v":
        return sigma * x_t + alpha * output
    return eps_from_x0(output, x_t, gamma)
