"""Pixel-range conversions and the random horizontal flip used in training.

The model works on x in [-b, b], b = `diffusion.input_scale` (input scaling, Chen 2023);
images are stored as uint8 and shown/saved in [0, 1].
"""

from __future__ import annotations

import torch


def to_model_range(images_uint8: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """uint8 [0, 255] -> float32 in [-scale, scale]."""
    return (images_uint8.to(torch.float32) * (2.0 / 255.0) - 1.0) * scale


def to_unit_range(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Model range [-scale, scale] -> [0, 1], clamped (samples overshoot slightly)."""
    return (x / scale / 2.0 + 0.5).clamp(0.0, 1.0)


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image of (N, C, H, W) left-right with probability 1/2, drawn from `generator`."""
    # The coin flips are drawn on the generator's device (CPU here) so the same seed gives
    # the same flips wherever the images live.
    coins = torch.rand(images.shape[0], generator=generator, device=generator.device) < 0.5
    flip = coins.to(images.device).view(-1, *([1] * (images.dim() - 1)))
    return torch.where(flip, images.flip(-1), images)
