"""Writing image grids (training samples, generated images) as PNG files."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from PIL import Image


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """uint8 (H', W', C) grid of float [0, 1] images (N, C, H, W): `nrow` images per row, black gaps."""
    if images.dim() != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(
            f"save_grid needs images (N, C, H, W) with N >= 1, C in 1 or 3, got {tuple(images.shape)}"
        )
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    count = images.shape[0]
    columns = nrow if nrow is not None else math.ceil(math.sqrt(count))
    if columns < 1:
        raise ValueError(f"nrow must be >= 1, got {nrow}")
    rows = math.ceil(count / columns)
    pixels = (images.detach().to("cpu", torch.float32).clamp(0, 1) * 255).round().to(torch.uint8)
    # Every cell carries its right/bottom gap; blank cells fill the last row; then the top/left border.
    cells = F.pad(pixels, (0, padding, 0, padding))
    blank = cells.new_zeros((rows * columns - count, *cells.shape[1:]))
    grid = rearrange(torch.cat([cells, blank]), "(r q) c h w -> c (r h) (q w)", r=rows, q=columns)
    grid = F.pad(grid, (padding, 0, padding, 0))
    return rearrange(grid, "c h w -> h w c")


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, padding: int = 2) -> Path:
    """Write images (N, C, H, W) in [0, 1] as one PNG grid; atomic, so a reader never sees half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    grid = make_grid(images, nrow=nrow, padding=padding).numpy()
    picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)  # 2-D -> "L", HxWx3 -> "RGB"
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            picture.save(file, format="PNG")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
