"""`generate`: images from a RIN model with the settings of an `ExperimentConfig`."""

from __future__ import annotations

import torch
from torch import nn

from rin.configs.experiment import DiffusionConfig, SamplingConfig
from rin.diffusion.schedules import get_schedule
from rin.sampling.denoiser import RINDenoiser
from rin.sampling.noise import Noise, randn
from rin.sampling.samplers import sample


def generate(
    model: nn.Module,
    image_shape: tuple[int, int, int],
    num: int,
    diffusion: DiffusionConfig,
    sampling: SamplingConfig,
    labels: torch.Tensor | None = None,
    generator: Noise = None,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Sample `num` images; returns float images in [0, 1] of shape (num, C, H, W).

    `generator` is one generator for the batch or one per sample (`noise.per_sample_generators`);
    with one per sample each image depends only on its own seed, whatever the batch.
    """
    was_training = model.training
    model.eval()
    x_T = randn((num, *image_shape), generator, device)
    if labels is not None:
        labels = labels.to(device)
    denoise = RINDenoiser(
        model,
        diffusion.prediction,
        diffusion.normalize_input,
        labels,
        autocast_dtype,
        guidance=sampling.guidance,
    )
    b = diffusion.input_scale
    x0 = sample(
        denoise,
        x_T,
        get_schedule(sampling.schedule),
        sampling.steps,
        sampling.sampler,
        generator=generator,
        clip=b if sampling.clip_x0 else None,
        time_difference=sampling.time_difference,
        progress=progress,
    )
    model.train(was_training)
    return (x0 / b / 2.0 + 0.5).clamp(0.0, 1.0)  # [-b, b] -> [0, 1]
