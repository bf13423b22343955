"""Reverse-process loops. Samplers take a `denoise(x_t, gamma) -> x0_hat` function, not a model."""

from rin.sampling.denoiser import RINDenoiser
from rin.sampling.generate import generate
from rin.sampling.samplers import DenoiseFn, ddim_step, ddpm_step, sample
from rin.sampling.time_grid import sampling_times

__all__ = ["DenoiseFn", "RINDenoiser", "ddim_step", "ddpm_step", "generate", "sample", "sampling_times"]
