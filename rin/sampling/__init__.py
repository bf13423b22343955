"""Reverse-process loops. Samplers take a `denoise(x_t, gamma) -> x0_hat` function, not a model."""

from rin.sampling.denoiser import RINDenoiser
from rin.sampling.generate import generate, generate_continuation
from rin.sampling.guidance import classifier_free_guidance
from rin.sampling.noise import per_sample_generators, sample_seed
from rin.sampling.samplers import DenoiseFn, ddim_step, ddpm_step, sample
from rin.sampling.time_grid import sampling_times

__all__ = [
    "DenoiseFn",
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
