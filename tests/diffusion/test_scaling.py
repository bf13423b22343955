"""Tests of input scaling with per-example normalisation (Chen 2023)."""

from __future__ import annotations

import torch

from rin.diffusion import network_input, normalize_per_example


def test_normalized_input_has_unit_std_per_example():
    """Each example of the normalised input has std 1, whatever its scale."""
    x = torch.randn(3, 2, 8, 8) * torch.tensor([0.1, 1.0, 10.0])[:, None, None, None]
    std = normalize_per_example(x).flatten(1).std(dim=1, unbiased=False)
    torch.testing.assert_close(std, torch.ones(3), atol=1e-4, rtol=0)


def test_network_input_is_identity_without_normalization():
    """normalize_input=False passes x_t through untouched."""
    x = torch.randn(2, 1, 4, 4)
    assert network_input(x, False) is x
