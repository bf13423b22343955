"""Bilinear resizes to a feature network's input size, in the two conventions FID and FVD codes use.

`torch`: torch's `F.interpolate(mode="bilinear", align_corners=False)`, half-pixel centres
(destination pixel i reads source (i + 0.5) * in/out - 0.5), as pytorch-fid resizes.

`tf`: TF1's `tf.image.resize_bilinear(align_corners=False)`, which predates half-pixel centres:
destination pixel i reads source i * in/out, the two neighbours floor(s) and floor(s) + 1
(clamped to the last pixel) blended by s - floor(s). The TF graphs behind the original FID
code (Heusel et al. 2017), ADM's evaluator and the original FVD code resize this way, and so
does torch-fidelity. Upsampling 32 -> 299, it samples 0.5 - 0.5 * 32/299 = 0.45 source pixels
further along than the torch convention, and its last 9 rows and columns copy the last source
row and column (sources 31.0 to 31.9 blend pixel 31 with itself).
Our own implementation of the semantics of TF's `resize_bilinear_op.cc`: float32 coordinates,
each output blended along the width first, then along the height, as TF computes it.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

__all__ = ["RESIZES", "Resize", "resize_bilinear", "tf1_resize_bilinear"]

Resize = Literal["torch", "tf"]
RESIZES: tuple[Resize, ...] = ("torch", "tf")


def _tf1_along(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """TF1 bilinear resize of one axis `dim` of x to `size` samples."""
    length = x.shape[dim]
    # TF1 computes the scale and each source coordinate in float32
    source = torch.arange(size, dtype=torch.float32) * torch.tensor(length / size, dtype=torch.float32)
    low = source.floor().long().clamp(max=length - 1)  # (size,)
    high = (low + 1).clamp(max=length - 1)  # the last pixel blends with itself
    shape = [1] * x.dim()
    shape[dim] = size
    weight = (source - low).to(device=x.device, dtype=x.dtype).view(shape)
    below = x.index_select(dim, low.to(x.device))
    above = x.index_select(dim, high.to(x.device))
    return above.sub_(below).mul_(weight).add_(below)  # below + (above - below) * weight, in place


def tf1_resize_bilinear(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """TF1 `resize_bilinear(align_corners=False)`: float images (B, C, H, W) -> (B, C, size, size).

    `size` is an int (square) or (height, width); the result has the input's dtype.
    """
    if images.dim() != 4 or not images.is_floating_point():
        raise ValueError(f"expected float images (B, C, H, W), got {images.dtype} {tuple(images.shape)}")
    height, width = (size, size) if isinstance(size, int) else size
    return _tf1_along(_tf1_along(images, width, 3), height, 2)  # width first, then height, as TF


def resize_bilinear(images: torch.Tensor, size: int, resize: Resize = "torch") -> torch.Tensor:
    """Float images (B, C, H, W) -> (B, C, size, size), bilinear in the `resize` convention."""
    if resize == "torch":
        return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    if resize == "tf":
        return tf1_resize_bilinear(images, size)
    raise ValueError(f"resize must be one of {', '.join(RESIZES)}, got {resize!r}")
