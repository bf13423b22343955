"""Every registered sampler against analytic denoisers: Gaussian data, point masses, call counts."""

from __future__ import annotations

import math

import pytest
import torch

from rin.diffusion import get_schedule
from rin.sampling import SAMPLERS, make_grid
from tests.sampling.gaussian import MU, STD, exact_denoiser, exact_ode_output, variance

DETERMINISTIC = [name for name, info in SAMPLERS.items() if not info.stochastic]
STOCHASTIC = [name for name, info in SAMPLERS.items() if info.stochastic]
COSINE = get_schedule("cosine")


def run(
    name: str, steps: int, x_T: torch.Tensor, grid: str = "logsnr", seed: int = 0, denoise=exact_denoiser
):
    time_grid = make_grid(grid, COSINE, steps)
    out = SAMPLERS[name].fn(denoise, x_T, time_grid, torch.Generator().manual_seed(seed))
    return out, time_grid


def ode_error(name: str, steps: int, grid: str = "logsnr") -> float:
    x_T = torch.randn(4, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out, time_grid = run(name, steps, x_T, grid)
    exact = exact_ode_output(x_T, float(time_grid.gamma_now[0]), float(time_grid.gamma_now[-1]))
    return (out - exact).abs().max().item()


@pytest.mark.parametrize("name", DETERMINISTIC)
@pytest.mark.parametrize("grid", ["uniform", "logsnr", "karras"])
def test_deterministic_samplers_converge_to_the_exact_ode_solution(name, grid):
    """On Gaussian data with its exact denoiser, each ODE sampler's error falls towards 0 as steps grow."""
    errors = [ode_error(name, steps, grid) for steps in (16, 64, 256)]
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < 0.03, errors


@pytest.mark.parametrize(
    ("name", "order"), [("ddim", 1), ("heun", 2), ("dpmpp_2m", 2), ("dpmpp_2s", 2), ("unipc", 3)]
)
def test_error_falls_at_the_method_order(name, order):
    """Halving the step in log-SNR divides the error by about 2^order (at least 2^order * 0.75)."""
    assert SAMPLERS[name].order == order
    coarse, fine = ode_error(name, 64), ode_error(name, 128)
    assert coarse / fine > 0.75 * 2**order, (coarse, fine)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("grid", ["uniform", "logsnr", "karras"])
def test_perfect_denoiser_on_a_point_mass_returns_it(name, grid):
    """With data a point mass, the exact denoiser is constant and every sampler returns the point."""
    point = torch.linspace(-0.9, 0.9, 24).reshape(2, 12)
    x_T = torch.randn(2, 12, generator=torch.Generator().manual_seed(3))
    out, _ = run(name, 7, x_T, grid, denoise=lambda x, g: point)
    torch.testing.assert_close(out, point)


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_samplers_match_the_target_mean_and_variance(name):
    """With the exact denoiser, the output has mean mu and variance g s^4 / Var(x_t) at the last level."""
    n = 40_000
    x_T = torch.randn(1, n, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    out, time_grid = run(name, 400, x_T, "uniform", seed=6)
    g = torch.tensor(float(time_grid.gamma_now[-1]), dtype=torch.float64)
    target_var = (g * STD**4 / variance(g)).item()
    assert abs(out.mean().item() - MU) < 4 * math.sqrt(target_var / n)
    assert out.var().item() == pytest.approx(target_var, rel=0.03)


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_samplers_depend_on_the_generator(name):
    """Same seed, same samples; another seed, other samples (the noise is really drawn)."""
    x_T = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))
    a, b, c = (run(name, 5, x_T, seed=s)[0] for s in (1, 1, 2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_network_calls_are_as_registered(name, steps):
    """Each sampler makes exactly `calls(steps)` denoiser calls (what the quality-vs-calls table counts)."""
    calls = []

    def counting(x, g):
        calls.append(g[0].item())
        return torch.zeros_like(x)

    run(name, steps, torch.randn(2, 4), denoise=counting)
    assert len(calls) == SAMPLERS[name].calls(steps)
    assert SAMPLERS[name].steps_for(SAMPLERS[name].calls(steps)) == steps
