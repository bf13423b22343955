"""Sample grids written during and after training: PNG for images, animated GIF for video."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from rin.configs.experiment import ExperimentConfig
from rin.data import load_video_dataset, save_grid, save_video_grid
from rin.sampling.generate import generate, generate_continuation


def grid_labels(num: int, num_classes: int) -> torch.Tensor | None:
    """Labels 0, 1, ..., K-1, 0, 1, ... so each grid column shows one class."""
    return torch.arange(num) % num_classes if num_classes > 0 else None


def write_video_samples(
    config: ExperimentConfig, ema: nn.Module, path: Path, device: torch.device, save: bool = True
) -> Path:
    """A GIF grid: held-out clips (top of each pair) and EMA continuations of their first k frames."""
    sampling = dataclasses.replace(config.sampling, steps=config.train.sample_steps)
    num = config.train.num_samples
    held_out = load_video_dataset(dataclasses.replace(config.data, num_clips=num), config.model, "test")
    truth = held_out.clips.float() / 255.0  # (N, F, C, H, W)
    generator = torch.Generator(device).manual_seed(config.train.seed)
    k = config.model.context_frames
    clips = generate_continuation(
        ema, truth[:, :k], config.model.generated_frames, config.diffusion, sampling, generator, device
    ).cpu()  # (N, F, C, H, W)
    pairs = torch.stack([truth, clips], dim=1).flatten(0, 1)  # (2N, F, C, H, W): truth, sample, ...
    columns = 2 * max(1, min(4, num))
    if not save:
        return path.with_suffix(".gif")
    return save_video_grid(pairs, path.with_suffix(".gif"), k, nrow=columns, truth=[True, False] * num)


def write_sample_grid(
    config: ExperimentConfig, ema: nn.Module, path: Path, device: torch.device, save: bool = True
) -> Path:
    """A PNG grid of EMA samples with the training config's sampler and `train.sample_steps`.

    Under FSDP every rank runs the sampler (each forward gathers shards); only one saves."""
    if config.model.is_video:
        return write_video_samples(config, ema, path, device, save)
    sampling = dataclasses.replace(config.sampling, steps=config.train.sample_steps)
    num = config.train.num_samples
    labels = grid_labels(num, config.model.num_classes)
    generator = torch.Generator(device).manual_seed(config.train.seed)
    shape = (config.model.channels, config.model.image_size, config.model.image_size)
    images = generate(ema, shape, num, config.diffusion, sampling, labels, generator, device)
    nrow = (
        config.model.num_classes
        if config.model.num_classes > 0 and num % config.model.num_classes == 0
        else None
    )
    return save_grid(images.cpu(), path, nrow=nrow) if save else path
