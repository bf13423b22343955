"""CIFAR-10 from WebDataset tar shards (`KEY.jpg` + `KEY.cls` per sample), read with `tarfile`.

Shards are streamed (`r|*`), so `limit` stops reading early: tests load 64 images from the
first shard without touching the other 120 MB. A corrupt image is skipped with a warning
rather than ending a long run; a shard that is not a tar file is an error.
"""

from __future__ import annotations

import glob
import io
import tarfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import torch
from einops import rearrange
from PIL import Image

from rin.data.imageset import ImageSet
from rin.errors import DataError

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
_IMAGE_EXTS = ("jpg", "jpeg", "png")
CIFAR10_HINT = (
    "make the shards from your download of cifar-10-python.tar.gz with: "
    "rin data cifar10 --archive cifar-10-python.tar.gz --out DIR"
)


def find_shards(path: str, split: str = "train") -> list[Path]:
    """The shards `path` names: a directory (`{split}-*.tar`, else every `*.tar`), a .tar file or a glob."""
    if not path:
        raise DataError(
            f"data.path is empty: pass --data PATH (a directory of CIFAR-10 .tar shards); {CIFAR10_HINT}"
        )
    target = Path(path).expanduser()
    if target.is_dir():
        shards = sorted(target.glob(f"{split}-*.tar")) or sorted(target.glob("*.tar"))
        if not shards:
            raise DataError(
                f"no .tar shards in {target}: expected {split}-000000.tar ... (WebDataset layout)"
            )
        return shards
    if target.is_file():
        return [target]
    if glob.has_magic(path):
        shards = sorted(Path(match) for match in glob.glob(str(target)) if Path(match).is_file())
        if not shards:
            raise DataError(f"no files match {path}: check the shard pattern passed as --data")
        return shards
    raise DataError(f"CIFAR-10 shard path {path} does not exist: pass --data DIR holding train-*.tar shards")


def _split_name(name: str) -> tuple[str, str]:
    """WebDataset convention: the key is the path up to the first dot of the file name."""
    directory, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{directory}/{stem}" if directory else stem), ext.lower()


def read_tar_samples(
    shard: str | Path, stream: IO[bytes] | None = None
) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) per sample, in shard order; members of a sample are adjacent.

    Reads `stream` if given (e.g. a URL opened by webdataset), else the file `shard`."""
    key: str | None = None
    parts: dict[str, bytes] = {}
    try:
        with (
            stream if stream is not None else open(shard, "rb") as source,
            tarfile.open(fileobj=source, mode="r|*") as archive,
        ):
            for member in archive:
                if not member.isfile():
                    continue
                member_key, ext = _split_name(member.name)
                if member_key != key:
                    if key is not None:
                        yield key, parts
                    key, parts = member_key, {}
                handle = archive.extractfile(member)
                if handle is not None:
                    parts[ext] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{shard} is not a readable tar shard ({error}): re-download or remove it") from None
    if key is not None:
        yield key, parts


def _decode(key: str, parts: dict[str, bytes], num_classes: int) -> tuple[np.ndarray, int]:
    """(uint8 HWC RGB image, class index); raises ValueError/OSError for a corrupt sample."""
    image_bytes = next((parts[ext] for ext in _IMAGE_EXTS if ext in parts), None)
    if image_bytes is None or "cls" not in parts:
        raise ValueError(f"sample {key} lacks an image or a .cls member (has {sorted(parts)})")
    label = int(parts["cls"].decode("ascii").strip())
    if not 0 <= label < num_classes:
        raise ValueError(f"sample {key} has class {label}, outside 0..{num_classes - 1}")
    with Image.open(io.BytesIO(image_bytes)) as image:
        rgb = image if image.mode == "RGB" else image.convert("RGB")  # skipping a copy saves ~15%
        pixels = np.asarray(rgb, dtype=np.uint8)
    return pixels, label


def load_cifar10_shards(path: str, split: str = "train", limit: int | None = None) -> ImageSet:
    """CIFAR-10 as uint8 (N, 3, 32, 32) from WebDataset shards; the first `limit` samples if given."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of samples, got {limit}")
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    for shard in find_shards(path, split):
        for key, parts in read_tar_samples(shard):
            try:
                pixels, label = _decode(key, parts, len(CIFAR10_CLASSES))
            except (OSError, ValueError, UnicodeDecodeError) as error:
                skipped.append(f"{shard}:{key}: {error}")
                warnings.warn(f"skipping corrupt sample {key} in {shard}: {error}", stacklevel=2)
                continue
            if images and pixels.shape != images[0].shape:
                raise DataError(
                    f"sample {key} in {shard} is {pixels.shape[1]}x{pixels.shape[0]} but earlier images are "
                    f"{images[0].shape[1]}x{images[0].shape[0]}: shards must hold images of one size"
                )
            images.append(pixels)
            labels.append(label)
            if limit is not None and len(images) >= limit:
                break
        if limit is not None and len(images) >= limit:
            break
    if not images:
        raise DataError(
            f"no readable samples in {path} (split {split!r}, {len(skipped)} corrupt): check the shards"
        )
    stacked = torch.from_numpy(np.stack(images))
    return ImageSet(
        rearrange(stacked, "n h w c -> n c h w").contiguous(),
        torch.tensor(labels, dtype=torch.int64),
        list(CIFAR10_CLASSES),
        skipped=len(skipped),
        skipped_items=skipped,
    )
