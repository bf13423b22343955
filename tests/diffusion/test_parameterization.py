"""Tests of the eps / x0 / v conversions and the training targets."""

from __future__ import annotations

import pytest
import torch

from rin.diffusion import add_noise, to_eps, to_x0, training_target


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
