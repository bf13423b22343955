"""Tests of the attention layers."""

from __future__ import annotations

import torch

from rin.model import RIN
from rin.model.attention import softmax_invariant_parameters


def test_key_biases_are_the_parameters_the_output_ignores(tiny_config):
    """softmax_invariant_parameters names every attention key bias, and changing them leaves the
    output unchanged (softmax ignores a per-query constant), so zeroing their gradient is exact."""
    model = RIN(tiny_config.model).eval()
    names = {id(p): n for n, p in model.named_parameters()}
    found = [names[id(p)] for p in softmax_invariant_parameters(model)]
    expected = [n for n, _ in model.named_parameters() if n.endswith("to_k.bias")]
    assert found == expected and len(found) >= 3  # latent self-attention, read and write
    x = torch.randn(2, tiny_config.model.channels, tiny_config.model.image_size, tiny_config.model.image_size)
    t, labels = torch.rand(2), torch.tensor([1, 2])
    before = model(x, t, labels)[0]
    with torch.no_grad():
        for bias in softmax_invariant_parameters(model):
            bias.normal_(std=3.0)
    torch.testing.assert_close(model(x, t, labels)[0], before, rtol=1e-5, atol=1e-5)
