"""Tests of the training loss for video frame prediction: noise and loss only on generated frames."""

from __future__ import annotations

import dataclasses

import torch

from rin.configs import DiffusionConfig, TrainConfig
from rin.diffusion import add_noise, diffusion_loss, get_schedule
from rin.model import RIN
from rin.training import build_optimizer


class ContextRecorder:
    """Records what each pass receives; outputs the true x0 (x0 target), so the loss must be zero."""

    def __init__(self, x0: torch.Tensor) -> None:
        self.x0 = x0
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __call__(self, x_t, gamma, labels, prev, context=None):
        self.seen.append((x_t, context))
        return self.x0, torch.ones(x_t.shape[0], 2, 3)


def test_context_reaches_both_passes_clean_and_only_generated_frames_are_noised():
    """Both passes get the given frames unchanged; x_t has the generated frames' shape; oracle loss is 0."""
    config = DiffusionConfig(prediction="x0", self_cond_rate=1.0)
    x0, context = torch.rand(4, 3, 1, 8, 8) * 2 - 1, torch.rand(4, 2, 1, 8, 8) * 2 - 1
    t, eps = torch.rand(4), torch.randn(4, 3, 1, 8, 8)
    oracle = ContextRecorder(x0)
    out = diffusion_loss(oracle, x0, None, config, t=t, eps=eps, context=context)
    assert out.loss.item() == 0.0
    gamma = get_schedule(config.schedule)(t)
    assert len(oracle.seen) == 2
    for x_t, seen_context in oracle.seen:
        assert seen_context is context
        torch.testing.assert_close(x_t, add_noise(x0, gamma, eps))


def test_video_loss_backpropagates_to_every_parameter(video_config):
    """The self-conditioned video loss (both passes, mask scheme) gives every parameter a gradient."""
    config = video_config("mask", 6, 3)
    model = RIN(config)
    x0, context = torch.rand(4, 3, 1, 8, 8) * 2 - 1, torch.rand(4, 3, 1, 8, 8) * 2 - 1
    diffusion = DiffusionConfig(prediction="eps", self_cond_rate=0.9)
    generator = torch.Generator().manual_seed(0)
    diffusion_loss(model, x0, None, diffusion, generator=generator, context=context).loss.backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []


def test_tiny_video_model_overfits_one_clip(video_config):
    """With t and eps fixed, a tiny video RIN drives the loss on one clip down by more than half."""
    config = dataclasses.replace(video_config("mask", 6, 3), attention_init="torch")
    model = RIN(config)
    diffusion = DiffusionConfig(prediction="x0", self_cond_rate=0.0)
    opt = build_optimizer(model, TrainConfig(optimizer="adamw", lr=1e-2, weight_decay=0.0))
    clip = torch.rand(1, 6, 1, 8, 8) * 2 - 1
    context, x0 = clip[:, :3], clip[:, 3:]
    t, eps = torch.tensor([0.5]), torch.randn_like(x0)
    losses = []
    for _ in range(60):
        out = diffusion_loss(model, x0, None, diffusion, t=t, eps=eps, context=context)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.5 * losses[0]
