"""Animated GIF grids of clips: given (context) frames and generated frames told apart by a border.

Border colours: blue for a given context frame, orange for a generated frame, green for a frame
of the true continuation (when a reference clip is shown beside a sample).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from rin.data.images import make_grid

CONTEXT_COLOUR = (0.25, 0.5, 1.0)  # blue
GENERATED_COLOUR = (1.0, 0.55, 0.0)  # orange
TRUTH_COLOUR = (0.2, 0.8, 0.2)  # green


def _bordered(frames: torch.Tensor, colour: tuple[float, float, float], width: int) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> RGB (N, 3, H + 2w, W + 2w) with a coloured frame."""
    rgb = frames.expand(-1, 3, -1, -1) if frames.shape[1] == 1 else frames
    padded = F.pad(rgb, (width, width, width, width), value=0.0)  # (N, 3, H+2w, W+2w)
    border = torch.ones_like(padded, dtype=torch.bool)
    border[:, :, width:-width, width:-width] = False
    fill = torch.tensor(colour, dtype=padded.dtype).view(1, 3, 1, 1).expand_as(padded)
    return torch.where(border, fill, padded)


def video_grid_frames(
    clips: torch.Tensor,
    context_frames: int,
    nrow: int | None = None,
    truth: Sequence[bool] | None = None,
    border: int = 1,
) -> list[Image.Image]:
    """One RGB picture per time step of clips (N, F, C, H, W) in [0, 1]; clip i is cell i of the grid."""
    if clips.dim() != 5 or clips.shape[2] not in (1, 3) or clips.shape[0] == 0:
        raise ValueError(
            f"clips must be (N, F, C, H, W) with N >= 1 and C in 1 or 3, got {tuple(clips.shape)}"
        )
    if truth is not None and len(truth) != clips.shape[0]:
        raise ValueError(f"truth needs one flag per clip ({clips.shape[0]}), got {len(truth)}")
    clips = clips.detach().to("cpu", torch.float32).clamp(0, 1)
    is_truth = torch.tensor(list(truth) if truth is not None else [False] * clips.shape[0])
    pictures = []
    for f in range(clips.shape[1]):
        if f < context_frames:
            tiles = _bordered(clips[:, f], CONTEXT_COLOUR, border)
        else:
            generated = _bordered(clips[:, f], GENERATED_COLOUR, border)
            real = _bordered(clips[:, f], TRUTH_COLOUR, border)
            tiles = torch.where(is_truth.view(-1, 1, 1, 1), real, generated)
        pictures.append(Image.fromarray(make_grid(tiles, nrow=nrow, padding=1).numpy()))
    return pictures


def save_video_grid(
    clips: torch.Tensor,
    path: str | Path,
    context_frames: int,
    nrow: int | None = None,
    truth: Sequence[bool] | None = None,
    fps: float = 4.0,
) -> Path:
    """Write clips (N, F, C, H, W) in [0, 1] as one looping animated GIF grid; atomic."""
    pictures = video_grid_frames(clips, context_frames, nrow, truth)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            pictures[0].save(
                file, format="GIF", save_all=True, append_images=pictures[1:],
                duration=round(1000 / fps), loop=0,
            )  # fmt: skip
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
