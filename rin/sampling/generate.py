"""`generate`: images from a RIN model with the settings of an `ExperimentConfig`;
`generate_continuation`: the rest of video clips whose first frames are given."""

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
    image_shape: tuple[int, ...],
    num: int,
    diffusion: DiffusionConfig,
    sampling: SamplingConfig,
    labels: torch.Tensor | None = None,
    generator: Noise = None,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
    context: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sample `num` images; returns float images in [0, 1] of shape (num, C, H, W).

    Video: `image_shape` is (F-k, C, H, W), the frames to generate, and `context` the given
    frames (num, k, C, H, W) already in [-b, b]; returns the generated frames only.

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
        context=None if context is None else context.to(device),
        carry=sampling.carry,
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
        grid=sampling.grid,
    )
    model.train(was_training)
    return (x0 / b / 2.0 + 0.5).clamp(0.0, 1.0)  # [-b, b] -> [0, 1]


def generate_continuation(
    model: nn.Module,
    context: torch.Tensor,
    generated_frames: int,
    diffusion: DiffusionConfig,
    sampling: SamplingConfig,
    generator: Noise = None,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Clips (B, k + F_gen, C, H, W) in [0, 1]: the given frames `context` (B, k, C, H, W) in [0, 1],
    returned unchanged, followed by `generated_frames` sampled frames conditioned on them."""
    if context.dim() != 5:
        raise ValueError(f"context must be (B, k, C, H, W) frames in [0, 1], got {tuple(context.shape)}")
    batch, _, channels, height, width = context.shape
    given = (context.float() * 2.0 - 1.0) * diffusion.input_scale  # [0, 1] -> [-b, b]
    shape = (generated_frames, channels, height, width)
    frames = generate(model, shape, batch, diffusion, sampling, None, generator, device,
                      autocast_dtype, progress, context=given)  # fmt: skip
    return torch.cat([context.to(frames.device, frames.dtype), frames], dim=1)  # (B, F, C, H, W)
