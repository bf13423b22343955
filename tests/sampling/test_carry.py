"""The latent carry through samplers: which call's latents each network call starts from."""

from __future__ import annotations

import pytest
import torch

from rin.diffusion import get_schedule
from rin.model import RIN
from rin.sampling import SAMPLERS, RINDenoiser, generate, sample
from tests.sampling.test_denoiser import Recorder


def _starts(sampler: str, steps: int, carry: str) -> list[float | None]:
    """For each network call, the number of the call whose latents it received (None: zeros)."""
    model = Recorder()
    denoise = RINDenoiser(model, prediction="x0", carry=carry)  # type: ignore[arg-type]
    sample(denoise, torch.randn(2, 1, 4, 4), get_schedule("cosine"), steps, sampler, clip=None)
    return [None if p is None else p.unique().item() for p in model.prev]


@pytest.mark.parametrize("name", [n for n, info in SAMPLERS.items() if info.calls_per_step == 1])
def test_one_call_samplers_carry_from_every_call(name):
    """Call k starts from the latents of call k-1, whatever the carry setting."""
    for carry in ("every", "grid"):
        assert _starts(name, 4, carry) == [None, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("name", ["heun", "dpmpp_2s"])
def test_two_call_steps_carry_as_documented(name):
    """every: the off-grid call's latents go on; grid: the next grid call starts from the last grid call."""
    # calls: 1 grid, 2 off-grid, 3 grid, 4 off-grid, 5 grid (the last step makes one call)
    assert _starts(name, 3, "every") == [None, 1.0, 2.0, 3.0, 4.0]
    assert _starts(name, 3, "grid") == [None, 1.0, 1.0, 3.0, 3.0]


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_guidance_works_with_every_sampler(name, tiny_config):
    """Classifier-free guidance runs with every sampler and changes its samples (w = 0 vs w = 2)."""
    import dataclasses

    torch.manual_seed(0)
    model = RIN(tiny_config.model)
    labels = torch.tensor([1, 7])

    def run(w: float) -> torch.Tensor:
        sampling = dataclasses.replace(tiny_config.sampling, sampler=name, steps=3, guidance=w)
        gen = torch.Generator().manual_seed(4)
        return generate(model, (1, 32, 32), 2, tiny_config.diffusion, sampling, labels, gen)

    plain, guided = run(0.0), run(2.0)
    assert torch.isfinite(guided).all()
    assert (plain - guided).abs().max() > 1e-4
