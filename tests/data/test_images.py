from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rin.data import save_grid


def test_grid_size_layout_and_mode(tmp_path: Path) -> None:
    """5 images of 4x6 with the default 3 per row give a 26x14 PNG with each image in its cell."""
    images = torch.linspace(0.2, 1.0, 5).view(5, 1, 1, 1).expand(5, 1, 4, 6)
    path = save_grid(images, tmp_path / "deep" / "dir" / "grid.png")
    assert path == tmp_path / "deep" / "dir" / "grid.png"
    with Image.open(path) as picture:
        assert picture.size == (26, 14) and picture.mode == "L"
        pixels = np.asarray(picture)
    assert pixels[2:6, 2:8].min() == pixels[2:6, 2:8].max() == 51  # image 0 in row 0, column 0
    assert pixels[8:12, 10:16].min() == 255  # image 4 in row 1, column 1
    assert pixels[:2].max() == 0 and pixels[:, 8:10].max() == 0  # black padding
    assert pixels[8:12, 18:24].max() == 0  # the missing sixth cell is blank
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_rgb_grid_with_nrow_and_clamping(tmp_path: Path) -> None:
    """RGB images give an RGB PNG; nrow sets columns; out-of-range values are clamped."""
    images = torch.zeros(4, 3, 2, 2)
    images[:, 0] = 2.0  # red beyond 1 -> 255
    images[:, 2] = -1.0  # blue below 0 -> 0
    path = save_grid(images, tmp_path / "rgb.png", nrow=4, padding=1)
    with Image.open(path) as picture:
        assert picture.size == (13, 4) and picture.mode == "RGB"
        assert picture.getpixel((1, 1)) == (255, 0, 0)


def test_overwrites_atomically(tmp_path: Path) -> None:
    """Saving twice to one path replaces the file."""
    target = tmp_path / "g.png"
    save_grid(torch.zeros(1, 1, 3, 3), target, padding=0)
    save_grid(torch.ones(1, 1, 3, 3), target, padding=0)
    with Image.open(target) as picture:
        assert np.asarray(picture).min() == 255


def test_bad_shape_raises(tmp_path: Path) -> None:
    """A 3-D tensor or a 2-channel batch is refused."""
    with pytest.raises(ValueError):
        save_grid(torch.zeros(3, 4, 4), tmp_path / "x.png")
    with pytest.raises(ValueError):
        save_grid(torch.zeros(1, 2, 4, 4), tmp_path / "x.png")
