"""Tests of the gamma(t) schedules."""

from __future__ import annotations

import math

import pytest
import torch

from rin.configs import ConfigError
from rin.diffusion import get_schedule

NAMES = ["linear", "cosine", "cosine@0,1,1", "cosine@0.2,1,1", "sigmoid@-3,3,0.9", "sigmoid@0,3,0.3"]


@pytest.mark.parametrize("name", NAMES)
def test_schedule_end_points_and_monotone(name):
    """gamma(0) ~ 1, gamma(1) ~ 0 and gamma decreases in t."""
    schedule = get_schedule(name)
    t = torch.linspace(0, 1, 1001, dtype=torch.float64)
    gamma = schedule(t)
    assert gamma[0] == pytest.approx(1.0, abs=1e-6)
    assert gamma[-1] == pytest.approx(0.0, abs=1e-6)
    assert (gamma[1:] <= gamma[:-1]).all()


def test_closed_forms():
    """Pinned closed forms: linear is 1-t; simple cosine at t=0.5; sigmoid@-3,3,1 at t=0.5 is 1/2."""
    t = torch.tensor([0.25, 0.5], dtype=torch.float64)
    torch.testing.assert_close(get_schedule("linear")(t), 1 - t)
    expected = math.cos((0.5 + 0.0002) / 1.00025 * math.pi / 2) ** 2
    assert get_schedule("cosine")(t)[1].item() == pytest.approx(expected)
    assert get_schedule("sigmoid@-3,3,1")(t)[1].item() == pytest.approx(0.5)
    # cosine@0,1,1 is exactly cos(pi t / 2)^2
    assert get_schedule("cosine@0,1,1")(t)[0].item() == pytest.approx(math.cos(math.pi / 8) ** 2)


@pytest.mark.parametrize("name", ["cos", "sigmoid@1,2", "sigmoid@3,-3,1", "cosine@0,2,1", "sigmoid@-3,3,0"])
def test_bad_schedule_names_are_refused(name):
    """Unknown or malformed schedules raise a ConfigError."""
    with pytest.raises(ConfigError):
        get_schedule(name)
