"""The sampler registry: one signature, the same names as the config's choices, the old loop unchanged."""

from __future__ import annotations

from typing import get_args

import pytest
import torch

from rin.configs.experiment import ConfigError, SamplerName, SamplingConfig
from rin.diffusion import get_schedule
from rin.diffusion.parameterization import eps_from_x0
from rin.sampling import SAMPLERS, ddim_step, ddpm_step, get_sampler, sample, sampling_times


def test_registry_names_are_the_config_choices():
    """Every registered sampler can be chosen in a config, and every config choice is registered."""
    assert set(SAMPLERS) == set(get_args(SamplerName))


def test_config_refuses_an_unknown_sampler_with_the_names():
    """sampling.sampler outside the registry is a one-line ConfigError listing the choices."""
    with pytest.raises(ConfigError, match="dpmpp_2m"):
        SamplingConfig(sampler="plms")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="known samplers"):
        get_sampler("plms")


def _old_sample(denoise, x_T, schedule, steps, sampler, generator, clip, time_difference):
    """The DDPM / DDIM loop as it was before the registry, kept here as the reference."""
    batch = x_T.shape[0]
    t_now, t_next = sampling_times(steps, time_difference)
    gammas_now, gammas_next = schedule(t_now).float(), schedule(t_next).float()
    x_t, x0 = x_T, x_T
    for i in range(steps):
        gamma_now, gamma_next = gammas_now[i].expand(batch), gammas_next[i].expand(batch)
        x0 = denoise(x_t, gamma_now).clamp(-clip, clip)
        eps = eps_from_x0(x0, x_t, gamma_now)
        if sampler == "ddim":
            x_t = ddim_step(x_t, x0, eps, gamma_next)
        else:
            x_t = ddpm_step(x_t, eps, gamma_now, gamma_next, generator)
    return x0


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
@pytest.mark.parametrize("td", [0.0, 3.0])
def test_official_samplers_are_unchanged_bit_for_bit(sampler, td):
    """DDPM and DDIM through the registry give exactly the samples of the old loop."""
    x_T = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    denoise = lambda x, g: torch.tanh(2.0 * x) * g.reshape(-1, 1, 1, 1)  # noqa: E731
    schedule = get_schedule("cosine")
    new = sample(denoise, x_T, schedule, 12, sampler, torch.Generator().manual_seed(1), 1.0, td)
    old = _old_sample(denoise, x_T, schedule, 12, sampler, torch.Generator().manual_seed(1), 1.0, td)
    assert torch.equal(new, old)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_every_sampler_takes_the_one_signature(name):
    """sampler(denoise, x_T, grid, generator) positionally, returning x0 of x_T's shape."""
    from rin.sampling import make_grid

    grid = make_grid("uniform", get_schedule("cosine"), 3)
    out = SAMPLERS[name].fn(lambda x, g: 0.5 * x, torch.randn(2, 3), grid, torch.Generator().manual_seed(0))
    assert out.shape == (2, 3)
