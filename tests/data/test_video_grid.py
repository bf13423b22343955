"""Tests of the animated GIF grid of clips."""

from __future__ import annotations

import torch
from PIL import Image

from rin.data.video_grid import (
    CONTEXT_COLOUR,
    GENERATED_COLOUR,
    TRUTH_COLOUR,
    save_video_grid,
    video_grid_frames,
)


def _corner(picture: Image.Image, x: int, y: int) -> tuple[int, ...]:
    return picture.convert("RGB").getpixel((x, y))


def test_gif_has_one_picture_per_frame(tmp_path):
    """An F-frame clip grid becomes an F-picture looping GIF."""
    clips = torch.rand(3, 5, 1, 8, 8)
    path = save_video_grid(clips, tmp_path / "grid.gif", context_frames=2)
    with Image.open(path) as gif:
        assert gif.n_frames == 5 and gif.info.get("loop") == 0


def test_borders_mark_given_generated_and_true_frames():
    """Given frames get the blue border, generated ones orange, true-continuation ones green."""
    clips = torch.zeros(2, 3, 1, 4, 4)
    pictures = video_grid_frames(clips, context_frames=1, nrow=2, truth=[True, False])
    colour = [tuple(round(255 * c) for c in rgb) for rgb in (CONTEXT_COLOUR, TRUTH_COLOUR, GENERATED_COLOUR)]
    first_tile, second_tile = (1, 1), (1 + 6 + 1, 1)  # padding 1, tiles 4 + 2 border wide
    assert _corner(pictures[0], *first_tile) == colour[0] == _corner(pictures[0], *second_tile)
    assert _corner(pictures[2], *first_tile) == colour[1]
    assert _corner(pictures[2], *second_tile) == colour[2]
