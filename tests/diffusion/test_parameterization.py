"""Tests of the eps / x0 / v conversions and the training targets."""

from __future__ import annotations

import pytest
import torch

from rin.diffusion import add_noise, to_eps, to_x0, training_target
from rin.diffusion.parameterization import convert


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_conversions_round_trip(prediction):
    """For the exact target of each type, to_x0 and to_eps recover x0 and eps."""
    x0 = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    eps = torch.randn_like(x0)
    gamma = torch.tensor([0.01, 0.2, 0.5, 0.8, 0.99], dtype=torch.float64)
    x_t = add_noise(x0, gamma, eps)
    target = training_target(x0, eps, gamma, prediction)
    torch.testing.assert_close(to_x0(target, x_t, gamma, prediction), x0)
    torch.testing.assert_close(to_eps(target, x_t, gamma, prediction), eps)


def test_v_definition():
    """v = sqrt(gamma) eps - sqrt(1-gamma) x0 (Salimans & Ho 2022)."""
    x0, eps = torch.ones(1, 1), torch.full((1, 1), 2.0)
    gamma = torch.tensor([0.64])
    assert training_target(x0, eps, gamma, "v").item() == pytest.approx(0.8 * 2 - 0.6 * 1)


@pytest.mark.parametrize("source", ["eps", "x0", "v"])
@pytest.mark.parametrize("space", ["eps", "x0", "v"])
def test_convert_maps_each_exact_target_onto_the_others(source, space):
    """convert(target of `source`) equals the target of `space`, for every pair of kinds."""
    x0 = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    eps = torch.randn_like(x0)
    gamma = torch.tensor([0.01, 0.2, 0.5, 0.8, 0.99], dtype=torch.float64)
    x_t = add_noise(x0, gamma, eps)
    converted = convert(training_target(x0, eps, gamma, source), x_t, gamma, source, space)
    torch.testing.assert_close(converted, training_target(x0, eps, gamma, space))
