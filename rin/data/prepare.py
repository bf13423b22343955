"""Turn a user's own download into the WebDataset shards rin trains on (`rin data ...`).

- `cifar10_to_shards`: the official `cifar-10-python.tar.gz` -> `train-*.tar` + `test-*.tar`, the
  layout the `cifar10` preset reads (`--data DIR`).
- `folder_to_shards`: an ImageFolder tree (`root/CLASS/*.jpg`, ImageNet's train layout) ->
  `train-*.tar` of centre-cropped, resized images, for `data.dataset=webdataset` (streamed) or
  `cifar10`-style loading. Files are read one at a time, so the set need not fit in memory.
- `video_folder_to_shards`: a Kinetics-style folder (`root/CLASS/VIDEO`, each video a file or a
  folder of frames) -> `train-*.tar` of fixed-length clips (`KEY.npy` + `KEY.cls`,
  `rin.data.clip_shards`), for `data.dataset=video_webdataset`. One video is decoded at a time.
Samples are shuffled with a fixed seed before they are written (WebDataset reads a shard in order;
the clips of one video stay together, and each video gives `clips_per_video` of them).
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
from rin.data.clip_shards import CLIP_EXT, encode_clip
from rin.data.folder import _class_files, _load_one
from rin.data.shard_writer import ShardWriter
from rin.data.video_folder import ClipSpec, iter_video_clips, video_entries
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


def video_folder_to_shards(
    root: str | Path,
    out: str | Path,
    spec: ClipSpec,
    shard_size: int = 1000,
    split: str = "train",
    max_videos: int | None = None,
    on_written: Progress | None = None,
) -> list[Path]:
    """Cut `spec`'s clips from every video under `root` into shuffled clip shards.

    The clips equal `load_video_clips(root, ...)`'s with the same settings (they depend on the seed
    and the video's place in the sorted list, not on the writing order). Videos that cannot be
    decoded or are too short are skipped with a warning, as `load_video_clips` does."""
    if not Path(root).expanduser().is_dir():
        raise DataError(f"video folder {root} does not exist or is not a directory")
    names, entries = video_entries(root, max_videos)
    order = np.random.default_rng(spec.seed).permutation(len(entries)).tolist()
    skipped: list[str] = []
    with ShardWriter(Path(out), split, shard_size) as writer:
        for index, label, _, taken in iter_video_clips(entries, spec, order, skipped):
            for number, (_, clip) in enumerate(taken):
                key = f"{split}_{index:08d}_{number:03d}"  # the video's index in the sorted list, the clip's
                writer.write_members(key, {CLIP_EXT: encode_clip(clip), "cls": str(label).encode("ascii")})
                if on_written is not None:
                    on_written(1)
    if writer.count == 0:
        raise DataError(
            f"none of the {len(entries)} videos in {root} gave a clip of {spec.span} frames (fewer "
            f"frames or a smaller stride?); first problem: {skipped[0] if skipped else '?'}"
        )
    _write_classes(Path(out), names)
    return writer.shards


def _write_classes(out: Path, names: list[str]) -> None:
    """classes.json: class index -> folder name (the .cls members hold only the index)."""
    (out / "classes.json").write_text(json.dumps(dict(enumerate(names)), indent=1))
