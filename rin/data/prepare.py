"""Turn a user's own download into the WebDataset shards rin trains on (`rin data ...`).

- `cifar10_to_shards`: the official `cifar-10-python.tar.gz` -> `train-*.tar` + `test-*.tar`, the
  layout the `cifar10` preset reads (`--data DIR`).
- `folder_to_shards`: an ImageFolder tree (`root/CLASS/*.jpg`, ImageNet's train layout) ->
  `train-*.tar` of centre-cropped, resized images, for `data.dataset=webdataset` (streamed) or
  `cifar10`-style loading. Files are read one at a time, so the set need not fit in memory.
Samples are shuffled with a fixed seed before they are written (WebDataset reads a shard in order).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from einops import rearrange
from PIL import Image

from rin.data.cifar import CIFAR10_CLASSES
from rin.data.cifar_archive import read_cifar10_archive
from rin.data.folder import _class_files, _load_one
from rin.data.shard_writer import ShardWriter
from rin.errors import DataError

Progress = Callable[[int], None]  # called with the number of samples just written


def cifar10_to_shards(
    archive: str | Path,
    out: str | Path,
    shard_size: int = 10_000,
    seed: int = 0,
    fmt: str = "png",
    on_written: Progress | None = None,
) -> dict[str, list[Path]]:
    """Write both splits of the CIFAR-10 python archive as shards; returns {split: shard paths}."""
    out = Path(out)
    written: dict[str, list[Path]] = {}
    for split in ("train", "test"):
        batches = list(read_cifar10_archive(archive, split))
        images = np.concatenate([b[0] for b in batches])  # (N, 32, 32, 3) uint8
        labels = np.concatenate([b[1] for b in batches])
        order = np.random.default_rng([seed, 0 if split == "train" else 1]).permutation(len(images))
        with ShardWriter(out, split, shard_size, fmt) as writer:
            for index in order:  # keys keep the position in the official order: unique and traceable
                label = int(labels[index])
                writer.write(f"{split}_{CIFAR10_CLASSES[label]}_{index:05d}", images[index], label)
                if on_written is not None:
                    on_written(1)
        written[split] = writer.shards
    _write_classes(out, list(CIFAR10_CLASSES))
    return written


def folder_to_shards(
    root: str | Path,
    out: str | Path,
    image_size: int,
    channels: int = 3,
    shard_size: int = 5000,
    seed: int = 0,
    fmt: str = "png",
    split: str = "train",
    on_written: Progress | None = None,
) -> list[Path]:
    """Centre-crop and resize every image under `root` (class subfolders) into shuffled shards.

    Unreadable files are skipped with a warning, as `rin.data.folder` does."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a directory")
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels}")
    if image_size < 1:
        raise DataError(f"image size must be >= 1, got {image_size}")
    names, files = _class_files(base)
    items = [(path, label) for label, paths in enumerate(files) for path in paths]
    if not items:
        raise DataError(f"no images in {root} or its class subfolders")
    order = np.random.default_rng(seed).permutation(len(items))
    with ShardWriter(Path(out), split, shard_size, fmt) as writer:
        for index in order:
            path, label = items[index]
            try:
                pixels, _ = _load_one(path, image_size, channels, "convert")  # (C, S, S) uint8
            except (OSError, ValueError, Image.DecompressionBombError) as error:
                warnings.warn(f"skipping unreadable image {path}: {error}", stacklevel=2)
                continue
            key = f"{split}_{index:08d}"  # index into the sorted file list: unique, no dots
            writer.write(key, rearrange(pixels, "c h w -> h w c"), label)
            if on_written is not None:
                on_written(1)
    if writer.count == 0:
        raise DataError(f"none of the {len(items)} images in {root} could be read")
    _write_classes(Path(out), names)
    return writer.shards


def _write_classes(out: Path, names: list[str]) -> None:
    """classes.json: class index -> folder name (the .cls members hold only the index)."""
    (out / "classes.json").write_text(json.dumps(dict(enumerate(names)), indent=1))
