"""One network call per step: DDPM and DDIM (the official sampler), and Euler ancestral.

Every sampler here and in the other method files has one signature,
`sampler(denoise, x_T, grid, generator) -> x0`, and returns the x0 prediction of its last call:
the official sampler's output, which is also a final Euler step to sigma = 0.
"""

from __future__ import annotations

import math

import torch

from rin.diffusion.parameterization import eps_from_x0
from rin.sampling.grid import Grid
from rin.sampling.levels import DenoiseFn, batch_gamma, call, grid_steps
from rin.sampling.noise import Noise, randn


def _bcast(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return value.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)


def ddim_step(
    x_t: torch.Tensor, x0: torch.Tensor, eps: torch.Tensor, gamma_next: torch.Tensor
) -> torch.Tensor:
    """Deterministic DDIM: x_next = sqrt(gamma_next) x0 + sqrt(1 - gamma_next) eps."""
    g = _bcast(gamma_next, x_t)
    return g.sqrt() * x0 + (1.0 - g).sqrt() * eps


def ddpm_step(
    x_t: torch.Tensor,
    eps: torch.Tensor,
    gamma_now: torch.Tensor,
    gamma_next: torch.Tensor,
    generator: Noise,
) -> torch.Tensor:
    """Ancestral DDPM with the "large" variance: alpha = gamma_now / gamma_next,
    x_next = (x_t - (1 - alpha) / sqrt(1 - gamma_now) eps) / sqrt(alpha) + sqrt(1 - alpha) z."""
    g_now, g_next = _bcast(gamma_now, x_t), _bcast(gamma_next, x_t)
    alpha = g_now / g_next
    noise = randn(tuple(x_t.shape), generator, x_t.device, x_t.dtype)
    mean = (x_t - (1.0 - alpha) / (1.0 - g_now).sqrt() * eps) / alpha.sqrt()
    return mean + (1.0 - alpha).clamp_min(0.0).sqrt() * noise


def _official(
    denoise: DenoiseFn, x_T: torch.Tensor, grid: Grid, generator: Noise, ddpm: bool
) -> torch.Tensor:
    """pix2seq `Scheduler.generate`: eps re-derived from the (clipped) x0_hat, then the update."""
    x_t, x0 = x_T, x_T
    for i in range(len(grid)):
        gamma_now = batch_gamma(grid.gamma_now[i], x_T)
        gamma_next = batch_gamma(grid.gamma_next[i], x_T)
        x0 = denoise(x_t, gamma_now)
        eps = eps_from_x0(x0, x_t, gamma_now)
        if ddpm:
            x_t = ddpm_step(x_t, eps, gamma_now, gamma_next, generator)
        else:
            x_t = ddim_step(x_t, x0, eps, gamma_next)
    return x0


def ddpm(denoise: DenoiseFn, x_T: torch.Tensor, grid: Grid, generator: Noise = None) -> torch.Tensor:
    """Ancestral sampling with the "large" (beta) variance, the official RIN sampler (Ho et al. 2020)."""
    return _official(denoise, x_T, grid, generator, ddpm=True)


def ddim(denoise: DenoiseFn, x_T: torch.Tensor, grid: Grid, generator: Noise = None) -> torch.Tensor:
    """Deterministic DDIM (Song et al. 2021), the official sampler's "ddim"; equal to EDM's Euler step."""
    return _official(denoise, x_T, grid, generator, ddpm=False)


def euler_ancestral(
    denoise: DenoiseFn, x_T: torch.Tensor, grid: Grid, generator: Noise = None, eta: float = 1.0
) -> torch.Tensor:
    """Euler ancestral in EDM's sigma (k-diffusion's `euler_ancestral`): an Euler step down to
    sigma_down, then fresh noise of std sigma_up, with sigma_down^2 + sigma_up^2 = sigma_next^2.
    With eta = 1 this is DDPM with the posterior ("small") variance; eta = 0 is DDIM."""
    x = x_T
    for now, to, last in grid_steps(grid):
        x0 = call(denoise, x, now)
        if last:
            return x0
        s, s_next = now.sigma_edm, to.sigma_edm
        s_up = min(s_next, eta * math.sqrt(max(s_next**2 * (s**2 - s_next**2), 0.0)) / s)
        s_down = math.sqrt(s_next**2 - s_up**2)
        # x / alpha lives in EDM's sigma space; step there, then scale back to the VP level `to`
        x = to.alpha * ((s_down / s) * x / now.alpha + (1.0 - s_down / s) * x0)
        x = x + to.alpha * s_up * randn(tuple(x.shape), generator, x.device, x.dtype)
    return x
