"""The RIN training objective with latent self-conditioning (paper Sec. 2.3, Alg. 1;
official `image_diffusion_model.noise_denoise` and `add_self_cond_hidden`).

    t ~ U(0, 1), gamma = schedule(t), x_t = sqrt(gamma) x0 + sqrt(1 - gamma) eps
    y: each label replaced by "no label" with probability `cond_dropout` (0 in RIN), drawn
       independently for each pass as in the official `get_cond_denoise`
    pass 1 (no gradient, training mode, whole batch): Z~ = f(x_t, gamma, y, 0)
    keep Z~ for each example with probability `self_cond_rate`, zeros otherwise
    pass 2: out = f(x_t, gamma, y, stop_gradient(Z~ * mask));  loss = mean((target - out)^2)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from rin.configs.experiment import DiffusionConfig
from rin.diffusion.parameterization import add_noise, training_target
from rin.diffusion.scaling import network_input
from rin.diffusion.schedules import get_schedule
from rin.model.embeddings import NULL_LABEL

# f(x_t, gamma, labels, prev_latents) -> (output, latents): the RIN model or anything shaped like it.
Denoiser = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor]
]


@dataclass
class LossOutput:
    loss: torch.Tensor  # scalar, float32
    per_example: torch.Tensor  # (B,) mean squared error of each example, detached
    t: torch.Tensor  # (B,) the sampled times


def drop_labels(
    labels: torch.Tensor | None, rate: float, generator: torch.Generator | None = None
) -> torch.Tensor | None:
    """Replace each label by NULL_LABEL with probability `rate` (classifier-free guidance training)."""
    if labels is None or rate <= 0.0:
        return labels
    drop = torch.rand(labels.shape[0], device=labels.device, generator=generator) < rate  # (B,)
    return torch.where(drop, torch.full_like(labels, NULL_LABEL), labels)


def self_conditioning_latents(
    model: Denoiser,
    net_in: torch.Tensor,
    gamma: torch.Tensor,
    labels: torch.Tensor | None,
    rate: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor | None:
    """Pass 1 without gradient; per-example keep mask at `rate`. None (= zeros) when rate is 0."""
    if rate <= 0.0:
        return None
    with torch.no_grad():
        _, latents = model(net_in, gamma, labels, None)  # (B, L, Dz)
    keep = torch.rand(net_in.shape[0], device=net_in.device, generator=generator) < rate  # (B,)
    return (latents * keep[:, None, None].to(latents.dtype)).detach()


def diffusion_loss(
    model: Denoiser,
    x0: torch.Tensor,
    labels: torch.Tensor | None,
    config: DiffusionConfig,
    generator: torch.Generator | None = None,
    t: torch.Tensor | None = None,
    eps: torch.Tensor | None = None,
) -> LossOutput:
    """One self-conditioned training loss on data x0 (B, C, H, W) already in [-b, b].

    `t` and `eps` may be given to make the loss deterministic (tests); otherwise drawn here.
    """
    batch = x0.shape[0]
    if t is None:
        t = torch.rand(batch, device=x0.device, generator=generator)
    if eps is None:
        eps = torch.randn(x0.shape, device=x0.device, generator=generator, dtype=x0.dtype)
    gamma = get_schedule(config.schedule)(t)  # (B,)
    x_t = add_noise(x0, gamma, eps)
    net_in = network_input(x_t, config.normalize_input)
    labels_1 = drop_labels(labels, config.cond_dropout, generator)
    prev = self_conditioning_latents(model, net_in, gamma, labels_1, config.self_cond_rate, generator)
    output, _ = model(net_in, gamma, drop_labels(labels, config.cond_dropout, generator), prev)
    target = training_target(x0, eps, gamma, config.prediction)
    # plain, unweighted MSE over all elements, in float32 even under bf16 autocast
    per_example = (output.float() - target.float()).pow(2).flatten(1).mean(dim=1)  # (B,)
    return LossOutput(loss=per_example.mean(), per_example=per_example.detach(), t=t)
