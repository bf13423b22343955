"""Reverse-process loops. Samplers take a `denoise(x_t, gamma) -> x0_hat` function, not a model.

Every sampler has the signature `sampler(denoise, x_T, grid, generator) -> x0` and is registered
by name in `SAMPLERS`; `sample` runs one by name over a time grid (`make_grid`).
"""

from rin.sampling.denoiser import RINDenoiser
from rin.sampling.generate import generate, generate_continuation
from rin.sampling.grid import GRID_NAMES, Grid, make_grid
from rin.sampling.guidance import classifier_free_guidance
from rin.sampling.noise import per_sample_generators, sample_seed
from rin.sampling.registry import SAMPLERS, SamplerInfo, get_sampler
from rin.sampling.samplers import DenoiseFn, ddim_step, ddpm_step, sample
from rin.sampling.time_grid import sampling_times

__all__ = [
    "GRID_NAMES",
    "SAMPLERS",
    "DenoiseFn",
    "Grid",
    "SamplerInfo",
    "get_sampler",
    "make_grid",
    "RINDenoiser",
    "classifier_free_guidance",
    "ddim_step",
    "ddpm_step",
    "generate",
    "generate_continuation",
    "per_sample_generators",
    "sample",
    "sample_seed",
    "sampling_times",
]
