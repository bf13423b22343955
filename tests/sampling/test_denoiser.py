"""Tests of RINDenoiser: latent carry, labels, guidance, and generate() on a real model."""

from __future__ import annotations

import pytest
import torch

from rin.diffusion.parameterization import to_x0
from rin.model import RIN
from rin.sampling import RINDenoiser, generate


class Recorder(torch.nn.Module):
    """A fake model that records the previous latents it receives and returns new ones."""

    def __init__(self) -> None:
        super().__init__()
        self.prev: list[torch.Tensor | None] = []
        self.count = 0

    def forward(self, x_t, gamma, labels, prev):
        self.prev.append(prev)
        self.count += 1
        return torch.zeros_like(x_t), torch.full((x_t.shape[0], 2, 2), float(self.count))


def test_previous_latents_are_carried_between_steps():
    """Call k receives the latents of call k-1; the first call gets None (zeros)."""
    model = Recorder()
    denoise = RINDenoiser(model)
    x, g = torch.randn(3, 1, 4, 4), torch.full((3,), 0.5)
    for _ in range(3):
        denoise(x, g)
    assert model.prev[0] is None
    assert model.prev[1].unique().tolist() == [1.0] and model.prev[2].unique().tolist() == [2.0]
    denoise.reset()
    denoise(x, g)
    assert model.prev[3] is None


def test_generate_is_reproducible_and_in_range(tiny_config):
    """generate() with the same seed gives identical images of the model's shape."""
    model = RIN(tiny_config.model)
    shape = (1, 32, 32)
    labels = torch.tensor([0, 5])

    def run():
        gen = torch.Generator().manual_seed(3)
        return generate(model, shape, 2, tiny_config.diffusion, tiny_config.sampling, labels, gen)

    a, b = run(), run()
    assert a.shape == (2, 1, 32, 32)
    assert torch.equal(a, b)


def test_guidance_mixes_conditional_and_unconditional_passes(tiny_config):
    """With w > 0 the x0 is (1+w) cond - w uncond, both from the same carried latents; the
    conditional pass's latents are carried on, and w = 0 is the plain conditional denoiser."""
    torch.manual_seed(0)
    model = RIN(tiny_config.model).eval()
    labels = torch.tensor([1, 7])
    x, g = torch.randn(2, 1, 32, 32), torch.tensor([0.4, 0.6])
    prev = torch.randn(model.latent_shape(2))
    w = 1.5
    guided = RINDenoiser(model, "eps", labels=labels, guidance=w)
    guided.latents = prev
    x0 = guided(x, g)
    with torch.no_grad():
        cond, cond_latents = model(x, g, labels, prev)
        uncond, _ = model(x, g, torch.tensor([-1, -1]), prev)
    expected = to_x0((1 + w) * cond - w * uncond, x, g, "eps")
    torch.testing.assert_close(x0, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(guided.latents, cond_latents, rtol=1e-4, atol=1e-4)
    plain = RINDenoiser(model, "eps", labels=labels, guidance=0.0)
    plain.latents = prev
    torch.testing.assert_close(plain(x, g), to_x0(cond, x, g, "eps"))


def test_guidance_needs_labels():
    """Guidance without labels, or a negative scale, is refused at construction."""
    with pytest.raises(ValueError, match="needs class labels"):
        RINDenoiser(Recorder(), guidance=1.0)
    with pytest.raises(ValueError, match=">= 0"):
        RINDenoiser(Recorder(), labels=torch.tensor([0]), guidance=-1.0)
