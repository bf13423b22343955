"""Every sampler by name. A new sampler is one function of the one signature
`sampler(denoise, x_T, grid, generator) -> x0` and one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from rin.sampling.dpm_solver import dpmpp_2m, dpmpp_2s
from rin.sampling.first_order import ddim, ddpm, euler_ancestral
from rin.sampling.grid import Grid
from rin.sampling.heun import heun
from rin.sampling.levels import DenoiseFn
from rin.sampling.noise import Noise
from rin.sampling.unipc import unipc

SamplerFn = Callable[[DenoiseFn, torch.Tensor, Grid, Noise], torch.Tensor]


@dataclass(frozen=True)
class SamplerInfo:
    fn: SamplerFn
    calls_per_step: int  # network calls per step; every sampler's last step makes one
    stochastic: bool
    order: int  # of the deterministic solver (stochastic ones: of their mean update)
    summary: str

    def calls(self, steps: int) -> int:
        """Network calls for `steps` steps (guidance batches its two passes into one call)."""
        return self.calls_per_step * (steps - 1) + 1

    def steps_for(self, calls: int) -> int:
        """The most steps that fit in `calls` network calls (at least 1)."""
        return max(1, (calls - 1) // self.calls_per_step + 1)


SAMPLERS: dict[str, SamplerInfo] = {
    "ddpm": SamplerInfo(ddpm, 1, True, 1, "ancestral, large variance (the official RIN sampler)"),
    "ddim": SamplerInfo(ddim, 1, False, 1, "deterministic DDIM (= Euler on the probability-flow ODE)"),
    "euler_a": SamplerInfo(euler_ancestral, 1, True, 1, "Euler ancestral (k-diffusion), posterior variance"),
    "heun": SamplerInfo(heun, 2, False, 2, "EDM's Heun, second order (2 calls a step)"),
    "dpmpp_2m": SamplerInfo(dpmpp_2m, 1, False, 2, "DPM-Solver++(2M), multistep second order"),
    "dpmpp_2s": SamplerInfo(dpmpp_2s, 2, False, 2, "DPM-Solver++(2S), midpoint (2 calls a step)"),
    "unipc": SamplerInfo(unipc, 1, False, 3, "UniPC-2 bh2 predictor-corrector (order 3 with UniC)"),
}


def get_sampler(name: str) -> SamplerInfo:
    """The sampler called `name`, or a one-line error listing the known names."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; known samplers: {', '.join(SAMPLERS)}")
    return SAMPLERS[name]
