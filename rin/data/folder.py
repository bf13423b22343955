"""An image folder in the torchvision `ImageFolder` layout: `root/CLASS/**/IMAGE`.

Class labels are the sorted subfolder names (subfolders without images are ignored); images
directly under a root with no class subfolders form a single class. Every image is centre
cropped to a square and resized with bicubic filtering, so any photo collection can be used.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from PIL import Image

from rin.data.imageset import ImageSet
from rin.errors import DataError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _class_files(root: Path) -> tuple[list[str], list[list[Path]]]:
    """(class names, image files of each class), both in sorted order."""
    names: list[str] = []
    files: list[list[Path]] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in folder.rglob("*") if _is_image(p))
        if images:
            names.append(folder.name)
            files.append(images)
    loose = sorted(p for p in root.iterdir() if _is_image(p))
    if not names and loose:
        return [root.resolve().name or "images"], [loose]
    if names and loose:
        warnings.warn(
            f"ignoring {len(loose)} images directly under {root}: it has class subfolders", stacklevel=3
        )
    return names, files


def _load_one(path: Path, image_size: int, channels: int) -> np.ndarray:
    """uint8 (C, S, S): converted, centre-cropped to a square, bicubic-resized."""
    with Image.open(path) as image:
        image.load()  # decode fully now, so a truncated file fails here and is skipped
        converted = image.convert("RGB" if channels == 3 else "L")
    width, height = converted.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = converted.crop((left, top, left + side, top + side))
    if side != image_size:
        square = square.resize((image_size, image_size), Image.Resampling.BICUBIC)
    pixels = np.asarray(square, dtype=np.uint8)
    if channels == 1:
        return pixels[None]
    return rearrange(pixels, "h w c -> c h w")


def load_image_folder(root: str, image_size: int, channels: int) -> ImageSet:
    """Every image under `root` as uint8 (N, channels, image_size, image_size), labelled by subfolder."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    if not root:
        raise DataError("data.path is empty: pass --data PATH (a folder of class subfolders of images)")
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a directory: pass --data DIR")
    class_names, class_files = _class_files(base)
    if not class_names:
        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        raise DataError(f"no images ({suffixes}) in {root} or its subfolders: check --data")
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped = 0
    for label, files in enumerate(class_files):
        for path in files:
            try:
                images.append(_load_one(path, image_size, channels))
            except (OSError, ValueError, Image.DecompressionBombError) as error:
                skipped += 1
                warnings.warn(f"skipping unreadable image {path}: {error}", stacklevel=2)
                continue
            labels.append(label)
    if not images:
        raise DataError(f"none of the {skipped} images in {root} could be read: check the files")
    return ImageSet(
        torch.from_numpy(np.stack(images)),
        torch.tensor(labels, dtype=torch.int64),
        class_names,
        skipped=skipped,
    )
