"""DDPM and DDIM over a continuous gamma schedule; they take a `denoise` function, not a model.

`denoise(x_t, gamma) -> x0_hat` with x_t (B, ...) and gamma (B,). Each step (official
`Scheduler.generate`): x0_hat is clipped to [-b, b], eps is re-derived from the clipped x0_hat
("truncate noise"), then the update. The result is the x0_hat of the *last* step, not x after
the last update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from tqdm.auto import tqdm

from rin.diffusion.parameterization import eps_from_x0
from rin.diffusion.schedules import Schedule
from rin.sampling.noise import Noise, randn
from rin.sampling.time_grid import sampling_times

DenoiseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Sampler = Literal["ddpm", "ddim"]


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


def sample(
    denoise: DenoiseFn,
    x_T: torch.Tensor,
    schedule: Schedule,
    steps: int,
    sampler: Sampler = "ddpm",
    generator: Noise = None,
    clip: float | None = 1.0,
    time_difference: float = 0.0,
    progress: bool = False,
) -> torch.Tensor:
    """Run the reverse process from x_T (B, ...) and return the last step's x0 prediction.

    Args:
        denoise: x_t, gamma (B,) -> x0_hat; may carry state between calls (self-conditioning).
        schedule: t -> gamma, the *inference* schedule (cosine in the reference).
        clip: clip x0_hat to [-clip, clip] (the data range b); None disables clipping.
    """
    if sampler not in ("ddpm", "ddim"):
        raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")
    batch = x_T.shape[0]
    t_now, t_next = sampling_times(steps, time_difference)
    gammas_now = schedule(t_now).float()
    gammas_next = schedule(t_next).float()
    x_t, x0 = x_T, x_T
    for i in tqdm(range(steps), desc=f"{sampler} sampling", disable=not progress, leave=False):
        gamma_now = gammas_now[i].expand(batch).to(x_T.device)
        gamma_next = gammas_next[i].expand(batch).to(x_T.device)
        x0 = denoise(x_t, gamma_now)
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
        eps = eps_from_x0(x0, x_t, gamma_now)
        if sampler == "ddim":
            x_t = ddim_step(x_t, x0, eps, gamma_next)
        else:
            x_t = ddpm_step(x_t, eps, gamma_now, gamma_next, generator)
    return x0
