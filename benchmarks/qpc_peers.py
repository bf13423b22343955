"""The peers of `quality_per_compute.py`: a diffusers U-Net and a DiT on rin's continuous-time maths.

Both peers see the noise level the way their own papers do, as a timestep in [0, 1000): the
time t of the cosine schedule (Nichol & Dhariwal 2021) whose signal variance is gamma. They are
trained on that schedule, and `PeerNet` maps gamma back to t by inverting it, so rin's samplers,
which step through gamma on the same cosine schedule, drive them without any change.

Class conditioning: label index `num_classes` is the "no label" entry that label dropout trains
and classifier-free guidance uses; rin's NULL_LABEL (-1) is mapped to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from rin.diffusion.parameterization import Prediction, add_noise, to_x0, training_target
from rin.diffusion.schedules import simple_cosine_gamma
from rin.model.embeddings import NULL_LABEL
from rin.sampling import classifier_free_guidance

TIMESTEPS = 1000.0  # the peers' time embedding sees 1000 t, as in DDPM and DiT


class PeerMissing(RuntimeError):
    """diffusers is not installed (the benchmark skips the peer)."""


def cosine_time(gamma: torch.Tensor) -> torch.Tensor:
    """Inverse of `simple_cosine_gamma`: the t in [0, 1] at which the cosine schedule reaches gamma."""
    angle = torch.arccos(gamma.clamp(0.0, 1.0).sqrt())  # = (t + 0.0002) / 1.00025 * pi / 2
    return (angle * 2.0 / math.pi * (1 + 0.00025) - 0.0002).clamp(0.0, 1.0)


class PeerNet(nn.Module):
    """A peer as rin's samplers need it: (x_t, gamma (B,), labels (B,) or NULL_LABEL) -> output."""

    def __init__(self, net: nn.Module, num_classes: int, call: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.net = net
        self.num_classes = num_classes
        self.call = call  # (net, x_t, timestep, class index) -> output tensor

    def forward(self, x_t: torch.Tensor, gamma: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        timestep = cosine_time(gamma.float()) * TIMESTEPS  # (B,)
        index = torch.where(labels == NULL_LABEL, torch.full_like(labels, self.num_classes), labels)
        return self.call(self.net, x_t, timestep, index)


@dataclass(frozen=True)
class PeerRecipe:
    """How a peer trains: target, label dropout (same as rin's), optimiser settings."""

    prediction: Prediction = "eps"  # DDPM and DiT train on eps
    cond_dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 0.0  # ADM and DiT use AdamW without weight decay


def peer_loss(net: PeerNet, x0: torch.Tensor, labels: torch.Tensor, recipe: PeerRecipe) -> torch.Tensor:
    """MSE to the recipe's target at t ~ U(0, 1) on the cosine schedule, labels dropped at the same rate."""
    batch = x0.shape[0]
    gamma = simple_cosine_gamma(torch.rand(batch, device=x0.device))  # (B,)
    eps = torch.randn_like(x0)
    drop = torch.rand(batch, device=x0.device) < recipe.cond_dropout
    labels = torch.where(drop, torch.full_like(labels, NULL_LABEL), labels)
    output = net(add_noise(x0, gamma, eps), gamma, labels)
    target = training_target(x0, eps, gamma, recipe.prediction)
    return (output.float() - target).pow(2).mean()


class PeerDenoiser:
    """`denoise(x_t, gamma) -> x0_hat` for rin's samplers; guidance mixes outputs as `RINDenoiser` does."""

    def __init__(self, net: PeerNet, prediction: Prediction, labels: torch.Tensor, guidance: float) -> None:
        self.net, self.prediction, self.labels, self.guidance = net, prediction, labels, guidance

    @torch.no_grad()
    def __call__(self, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        if self.guidance > 0:
            batch = x_t.shape[0]
            null = torch.full_like(self.labels, NULL_LABEL)
            both = self.net(torch.cat([x_t, x_t]), torch.cat([gamma, gamma]), torch.cat([self.labels, null]))
            output = classifier_free_guidance(both[:batch].float(), both[batch:].float(), self.guidance)
        else:
            output = self.net(x_t, gamma, self.labels).float()
        return to_x0(output, x_t, gamma, self.prediction)
