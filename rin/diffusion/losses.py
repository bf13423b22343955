"""The RIN training objective with latent self-conditioning (paper Sec. 2.3, Alg. 1;
official `image_diffusion_model.noise_denoise` and `add_self_cond_hidden`).

    t ~ U(0, 1), gamma = schedule(t), x_t = sqrt(gamma) x0 + sqrt(1 - gamma) eps
    y: each label replaced by "no label" with probability `cond_dropout` (0 in RIN), drawn
       independently for each pass as in the official `get_cond_denoise`
    pass 1 (no gradient, training mode, whole batch): Z~ = f(x_t, gamma, y, 0)
    keep Z~ for each example with probability `self_cond_rate`, zeros otherwise
    pass 2: out = f(x_t, gamma, y, stop_gradient(Z~ * mask));  loss = mean((target - out)^2)

Video frame prediction: x0 holds only the frames to generate; the given frames go to the model
clean, as `context`, in both passes, and get neither noise nor loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch

from rin.configs.experiment import DiffusionConfig
from rin.diffusion.parameterization import add_noise, convert, training_target
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


@dataclass
class StepNoise:
    """All randomness of one training loss, drawn for the whole (global) batch at once.

    Slicing it (`select`) gives each data-parallel rank and gradient-accumulation micro-batch
    exactly the draws its examples would get in a single process with the whole batch, so the
    data-parallel result equals the single-process one.
    """

    t: torch.Tensor  # (B,) times in [0, 1)
    eps: torch.Tensor  # (B, C, H, W) standard normal noise
    keep: torch.Tensor  # (B,) bool: example sees its pass-1 latents (self-conditioning)
    drop_first: torch.Tensor  # (B,) bool: label dropped in pass 1
    drop_second: torch.Tensor  # (B,) bool: label dropped in pass 2

    def select(self, start: int, stop: int) -> StepNoise:
        return StepNoise(*(v[start:stop] for v in dataclasses.astuple(self, tuple_factory=list)))


def draw_step_noise(
    shape: tuple[int, ...], config: DiffusionConfig, device: torch.device | str = "cpu",
    generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
) -> StepNoise:  # fmt: skip
    """Draw t, eps and the self-conditioning / label-dropout masks for a batch of `shape`."""
    batch = shape[0]
    t = torch.rand(batch, device=device, generator=generator)
    eps = torch.randn(shape, device=device, generator=generator, dtype=dtype)
    keep = torch.rand(batch, device=device, generator=generator) < config.self_cond_rate
    drops = torch.rand(2, batch, device=device, generator=generator) < config.cond_dropout
    return StepNoise(t, eps, keep, drops[0], drops[1])


def drop_labels(labels: torch.Tensor | None, drop: torch.Tensor) -> torch.Tensor | None:
    """Replace the labels where `drop` (B,) is set by NULL_LABEL (classifier-free guidance training)."""
    if labels is None:
        return None
    return torch.where(drop, torch.full_like(labels, NULL_LABEL), labels)


def with_context(model: Denoiser, context: torch.Tensor | None) -> Denoiser:
    """The model with the video context frames bound (the model itself when there are none)."""
    if context is None:
        return model

    def bound(
        x_t: torch.Tensor, gamma: torch.Tensor, labels: torch.Tensor | None, prev: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return model(x_t, gamma, labels, prev, context=context)  # type: ignore[call-arg]

    return bound


def self_conditioning_latents(
    model: Denoiser,
    net_in: torch.Tensor,
    gamma: torch.Tensor,
    labels: torch.Tensor | None,
    rate: float,
    keep: torch.Tensor,
) -> torch.Tensor | None:
    """Pass 1 without gradient; zeroed where `keep` (B,) is False. None (= zeros) when rate is 0."""
    if rate <= 0.0:
        return None
    with torch.no_grad():
        _, latents = model(net_in, gamma, labels, None)  # (B, L, Dz)
    return (latents * keep[:, None, None].to(latents.dtype)).detach()


def diffusion_loss(
    model: Denoiser,
    x0: torch.Tensor,
    labels: torch.Tensor | None,
    config: DiffusionConfig,
    generator: torch.Generator | None = None,
    t: torch.Tensor | None = None,
    eps: torch.Tensor | None = None,
    noise: StepNoise | None = None,
    context: torch.Tensor | None = None,
) -> LossOutput:
    """One self-conditioned training loss on data x0 (B, C, H, W) already in [-b, b].

    `noise` (from `draw_step_noise`, possibly a slice of a larger batch's) fixes every random
    choice; otherwise it is drawn here. `t` and `eps` override it (deterministic tests).
    Video: x0 (B, F-k, C, H, W) are the frames to generate and `context` (B, k, C, H, W) the
    given frames in [-b, b], passed to the model unchanged.
    """
    model = with_context(model, context)
    if noise is None:
        noise = draw_step_noise(tuple(x0.shape), config, x0.device, generator, x0.dtype)
    t = noise.t if t is None else t
    eps = noise.eps if eps is None else eps
    gamma = get_schedule(config.schedule)(t)  # (B,)
    x_t = add_noise(x0, gamma, eps)
    net_in = network_input(x_t, config.normalize_input)
    labels_1 = drop_labels(labels, noise.drop_first)
    prev = self_conditioning_latents(model, net_in, gamma, labels_1, config.self_cond_rate, noise.keep)
    output, _ = model(net_in, gamma, drop_labels(labels, noise.drop_second), prev)
    space = config.prediction if config.loss == "prediction" else config.loss
    target = training_target(x0, eps, gamma, space)
    output = convert(output.float(), x_t.float(), gamma, config.prediction, space)
    # plain, unweighted MSE over all elements, in float32 even under bf16 autocast
    per_example = (output.float() - target.float()).pow(2).flatten(1).mean(dim=1)  # (B,)
    return LossOutput(loss=per_example.mean(), per_example=per_example.detach(), t=t)
