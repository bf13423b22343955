"""Time grids: the official uniform grid, log-SNR and Karras spacing, and the time difference."""

from __future__ import annotations

import math

import pytest
import torch

from rin.diffusion import get_schedule
from rin.sampling import make_grid, sampling_times
from rin.sampling.grid import KARRAS_RHO
from rin.sampling.levels import Level

COSINE = get_schedule("cosine")


@pytest.mark.parametrize("td", [0.0, 1.0, 3.0])
def test_uniform_grid_is_the_official_grid_bit_for_bit(td):
    """uniform: gamma(1 - i/N) to gamma(max(1 - (i+1+td)/N, 0)), the same float32 values as before."""
    t_now, t_next = sampling_times(10, td)
    grid = make_grid("uniform", COSINE, 10, td)
    assert torch.equal(grid.gamma_now, COSINE(t_now).float())
    assert torch.equal(grid.gamma_next, COSINE(t_next).float())


def test_logsnr_grid_is_evenly_spaced_in_log_snr():
    """logsnr: equal steps in lambda = log(alpha / sigma), noisy to clean."""
    grid = make_grid("logsnr", COSINE, 12)
    lams = torch.tensor([Level(float(g)).lam for g in grid.gamma_now], dtype=torch.float64)
    steps = lams.diff()
    assert (steps > 0).all()
    torch.testing.assert_close(steps, steps.mean().expand_as(steps), rtol=1e-3, atol=1e-4)


def test_karras_grid_is_evenly_spaced_in_sigma_to_the_one_over_rho():
    """karras: sigma_edm^(1/rho) falls by equal steps, starting at EDM's sigma_max = 80."""
    grid = make_grid("karras", COSINE, 9)
    roots = torch.tensor([Level(float(g)).sigma_edm ** (1 / KARRAS_RHO) for g in grid.gamma_now])
    assert Level(float(grid.gamma_now[0])).sigma_edm == pytest.approx(80.0, rel=1e-4)
    steps = roots.diff()
    assert (steps < 0).all()
    torch.testing.assert_close(steps, steps.mean().expand_as(steps), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("name", ["uniform", "logsnr", "karras"])
def test_next_level_is_the_next_call_without_time_difference(name):
    """Without td the update goes exactly where the next call is made; with td it goes further."""
    grid = make_grid(name, COSINE, 6)
    assert torch.equal(grid.gamma_next[:-1], grid.gamma_now[1:])
    ahead = make_grid(name, COSINE, 6, time_difference=2.0)
    assert (ahead.gamma_next[:-1] > grid.gamma_next[:-1]).all()
    assert math.isclose(float(ahead.gamma_next[-1]), float(grid.gamma_next[-1]))


def test_unknown_grid_is_refused_with_the_names():
    """An unknown grid name raises a one-line error that lists the known ones."""
    with pytest.raises(ValueError, match="uniform, logsnr, karras"):
        make_grid("spiral", COSINE, 4)
