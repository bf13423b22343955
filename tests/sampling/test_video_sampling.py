"""Tests of video sampling: the denoiser closes over the context; the sample returns it unchanged."""

from __future__ import annotations

import torch

from rin.configs import DiffusionConfig, SamplingConfig
from rin.model import RIN
from rin.sampling import RINDenoiser, generate_continuation


class ContextOracle(torch.nn.Module):
    """x0-predicting fake: the generated frames are the last given frame; records what it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[torch.Tensor] = []

    def forward(self, x_t, gamma, labels, prev, context=None):
        self.contexts.append(context)
        out = context[:, -1:].expand_as(x_t)  # (B, F-k, C, H, W)
        return out, torch.zeros(x_t.shape[0], 2, 2)


def test_denoiser_passes_the_same_context_at_every_step():
    """Every call of the video denoiser gets the context it closes over, and nothing else changes it."""
    model = ContextOracle()
    context = torch.rand(2, 3, 1, 4, 4)
    denoise = RINDenoiser(model, prediction="x0", context=context)
    for _ in range(3):
        denoise(torch.randn(2, 2, 1, 4, 4), torch.full((2,), 0.5))
    assert all(seen is context for seen in model.contexts)


def test_continuation_returns_the_context_unchanged_and_follows_an_oracle():
    """The clip starts with the given frames bit for bit; with an oracle the rest is its x0 (to 1e-5)."""
    context = torch.rand(3, 2, 1, 4, 4)
    diffusion, sampling = DiffusionConfig(prediction="x0"), SamplingConfig(sampler="ddim", steps=5)
    model = ContextOracle()
    clips = generate_continuation(model, context, 3, diffusion, sampling, torch.Generator().manual_seed(0))
    assert clips.shape == (3, 5, 1, 4, 4)
    assert torch.equal(clips[:, :2], context)
    torch.testing.assert_close(clips[:, 2:], context[:, -1:].expand(-1, 3, -1, -1, -1), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.contexts[0], context * 2 - 1)  # the model sees [-1, 1]


def test_real_video_model_sample_keeps_context_and_is_seeded(video_config):
    """A real (untrained) video RIN: context frames come back unchanged, same seed gives the same clip."""
    model = RIN(video_config("append", 5, 2))
    context = torch.rand(2, 2, 1, 8, 8)
    diffusion, sampling = DiffusionConfig(), SamplingConfig(steps=3)
    a = generate_continuation(model, context, 3, diffusion, sampling, torch.Generator().manual_seed(1))
    b = generate_continuation(model, context, 3, diffusion, sampling, torch.Generator().manual_seed(1))
    assert a.shape == (2, 5, 1, 8, 8) and torch.equal(a[:, :2], context) and torch.equal(a, b)
