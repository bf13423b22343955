"""Within-class variety: how different a model's images of one class are from each other.

A class-conditional model can score high accuracy and a fair Frechet distance while drawing
near-copies of a few images per class. The mean pairwise pixel distance within each class,
divided by the same figure for real images, shows that: 1.0 is as varied as the real data,
lower means samples of a class look alike. The mean over pairs is an unbiased estimate whatever
the number of images per class, so sets of different sizes compare.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["relative_variety", "within_class_distance"]


def _unit_pixels(images: torch.Tensor) -> torch.Tensor:
    """(N, ...) uint8 or float in [0, 1] -> float64 (N, D) in [0, 1]."""
    pixels = images.double() / 255.0 if images.dtype == torch.uint8 else images.double()
    return pixels.flatten(1)


def within_class_distance(images: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over classes of the mean RMS pixel distance between two images of that class.

    Args:
        images: (N, C, H, W) uint8, or float in [0, 1].
        labels: (N,) class of each image; classes with fewer than 2 images are left out.
    """
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    pixels = _unit_pixels(images.cpu())
    scale = math.sqrt(pixels.shape[1])  # RMS per pixel, so image size does not change the scale
    per_class = []
    for label in torch.unique(labels.cpu()).tolist():
        group = pixels[labels.cpu() == label]
        if group.shape[0] >= 2:
            per_class.append(float(F.pdist(group).mean()) / scale)  # pdist: each pair i < j once
    if not per_class:
        raise ValueError("within-class distance needs a class with at least 2 images")
    return sum(per_class) / len(per_class)


def relative_variety(
    images: torch.Tensor, labels: torch.Tensor, real_images: torch.Tensor, real_labels: torch.Tensor
) -> float:
    """`within_class_distance` of `images` over that of real images (1.0 = as varied as real)."""
    return within_class_distance(images, labels) / within_class_distance(real_images, real_labels)
