"""Tests of DDPM and DDIM with oracle denoisers."""

from __future__ import annotations

import pytest
import torch

from rin.diffusion import get_schedule
from rin.sampling import ddim_step, sample, sampling_times


class Oracle:
    """A perfect denoiser: always returns the true x0; counts its calls."""

    def __init__(self, x0: torch.Tensor) -> None:
        self.x0 = x0
        self.calls = 0
        self.seen: list[torch.Tensor] = []

    def __call__(self, x_t: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.seen.append(x_t)
        return self.x0


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_perfect_denoiser_returns_x0(sampler):
    """With an oracle x0 denoiser, both samplers return x0, in exactly `steps` calls."""
    x0 = torch.rand(4, 3, 8, 8) * 2 - 1
    oracle = Oracle(x0)
    out = sample(
        oracle, torch.randn_like(x0), get_schedule("cosine"), 25, sampler, torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(out, x0)
    assert oracle.calls == 25


def test_ddim_with_oracle_stays_on_the_noise_trajectory():
    """DDIM with a perfect denoiser keeps x_t = sqrt(g) x0 + sqrt(1-g) eps for the initial eps."""
    x0 = (torch.rand(2, 1, 4, 4, dtype=torch.float64) * 2 - 1) * 0.9
    eps = torch.randn_like(x0)
    schedule = get_schedule("cosine")
    t_now, _ = sampling_times(10)
    g0 = schedule(t_now[:1])
    x_T = g0.sqrt() * x0 + (1 - g0).sqrt() * eps
    oracle = Oracle(x0)
    sample(oracle, x_T, schedule, 10, "ddim", clip=None)
    for i, x_t in enumerate(oracle.seen):
        g = schedule(t_now[i : i + 1]).to(torch.float64)
        torch.testing.assert_close(x_t, g.sqrt() * x0 + (1 - g).sqrt() * eps, rtol=1e-6, atol=1e-6)


def test_output_is_the_last_x0_prediction_not_x():
    """The sampler returns the last step's (clipped) x0 prediction, not the last updated x."""
    x_T = torch.randn(2, 1, 4, 4)
    predictions = iter([torch.full_like(x_T, 0.5), torch.full_like(x_T, 3.0)])
    out = sample(lambda x, g: next(predictions), x_T, get_schedule("cosine"), 2, "ddim", clip=1.0)
    torch.testing.assert_close(out, torch.ones_like(x_T))  # 3.0 clipped to b = 1


def test_same_generator_same_samples_and_different_seed_differs():
    """DDPM is reproducible given the generator's seed, and depends on it."""
    x0 = torch.zeros(2, 1, 4, 4)
    denoise = lambda x, g: 0.5 * x  # noqa: E731 - a deterministic non-oracle denoiser

    def run(seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return sample(denoise, torch.randn(x0.shape, generator=gen), get_schedule("cosine"), 5, "ddpm", gen)

    torch.testing.assert_close(run(1), run(1), rtol=0, atol=0)
    assert not torch.equal(run(1), run(2))


def test_time_grid_with_time_difference():
    """t_i = 1 - i/T and t_next = max(1 - (i+1+td)/T, 0)."""
    t_now, t_next = sampling_times(4, time_difference=0.5)
    torch.testing.assert_close(t_now, torch.tensor([1.0, 0.75, 0.5, 0.25], dtype=torch.float64))
    torch.testing.assert_close(t_next, torch.tensor([0.625, 0.375, 0.125, 0.0], dtype=torch.float64))


def test_ddim_step_formula():
    """x_next = sqrt(g_next) x0 + sqrt(1 - g_next) eps."""
    x0, eps = torch.ones(1, 1), torch.full((1, 1), 2.0)
    out = ddim_step(torch.zeros(1, 1), x0, eps, torch.tensor([0.36]))
    assert out.item() == pytest.approx(0.6 + 0.8 * 2)
