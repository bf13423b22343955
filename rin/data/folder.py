"""An image folder in the torchvision `ImageFolder` layout: `root/CLASS/**/IMAGE`.

Class labels are the sorted subfolder names (subfolders without images are ignored); images
directly under a root with no class subfolders form a single class. An image whose mode or size
differs from the model's is handled as `on_mismatch` says: "convert" (centre crop to a square,
bicubic resize, convert to RGB or L; the default, so any photo collection can be used), "skip"
(dropped, named and counted like an unreadable file) or "error" (refused, naming the file).
Unreadable files (corrupt, truncated, empty) are always skipped, named and counted.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from einops import rearrange
from PIL import Image

from rin.data.bit_depth import to_8_bit
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


OnMismatch = Literal["convert", "skip", "error"]


class ImageMismatch(ValueError):
    """An image readable but of the wrong mode or size, with on_mismatch="skip"."""


def _load_one(
    path: Path, image_size: int, channels: int, on_mismatch: OnMismatch
) -> tuple[np.ndarray, list[str]]:
    """uint8 (C, S, S) and what had to be converted: "RGB -> L" (modes), "resized", or nothing."""
    mode = "RGB" if channels == 3 else "L"
    with Image.open(path) as image:
        image.load()  # decode fully now, so a truncated file fails here and is skipped
        problem = ""
        if image.mode != mode:
            problem = f"mode {image.mode}, the model needs {mode}"
        elif image.size != (image_size, image_size):
            problem = f"size {image.size[0]}x{image.size[1]}, the model needs {image_size}x{image_size}"
        if problem and on_mismatch == "error":
            raise DataError(f"{path} has {problem} (set data.on_mismatch=convert or skip)")
        if problem and on_mismatch == "skip":
            raise ImageMismatch(problem)
        changes = [f"{image.mode} -> {mode}"] if image.mode != mode else []
        if image.size != (image_size, image_size):
            changes.append(f"cropped or resized to {image_size}x{image_size}")
        converted = to_8_bit(image).convert(mode)  # 16-bit grey is scaled, not clipped
    width, height = converted.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = converted.crop((left, top, left + side, top + side))
    if side != image_size:
        square = square.resize((image_size, image_size), Image.Resampling.BICUBIC)
    pixels = np.asarray(square, dtype=np.uint8)
    if channels == 1:
        return pixels[None], changes
    return rearrange(pixels, "h w c -> c h w"), changes


def load_image_folder(
    root: str, image_size: int, channels: int, on_mismatch: OnMismatch = "convert"
) -> ImageSet:
    """Every image under `root` as uint8 (N, channels, image_size, image_size), labelled by subfolder."""
    if on_mismatch not in ("convert", "skip", "error"):
        raise ValueError(f"on_mismatch must be convert, skip or error, got {on_mismatch!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    if not root:
        raise DataError(
            "data.path is empty: pass --data PATH (a folder of class subfolders of images, or shards "
            "made from one by: rin data folder --src DIR --size S --out SHARDS)"
        )
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a directory: pass --data DIR")
    class_names, class_files = _class_files(base)
    if not class_names:
        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        raise DataError(f"no images ({suffixes}) in {root} or its subfolders: check --data")
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    changes: Counter[str] = Counter()  # "RGB -> L": images, for the one console line below
    converted = 0
    for label, files in enumerate(class_files):
        for path in files:
            try:
                pixels, image_changes = _load_one(path, image_size, channels, on_mismatch)
            except (OSError, ValueError, Image.DecompressionBombError) as error:
                reason = str(error) or type(error).__name__
                kind = "mismatched" if isinstance(error, ImageMismatch) else "unreadable"
                skipped.append(f"{path}: {reason}")
                warnings.warn(f"skipping {kind} image {path}: {reason}", stacklevel=2)
                continue
            images.append(pixels)
            labels.append(label)
            converted += bool(image_changes)
            changes.update(image_changes)
    if not images:
        raise DataError(f"none of the {len(skipped)} images in {root} could be used: check the files")
    if converted:  # once, on the console: a colour set trained as grey should not go unnoticed
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(changes.items()))
        warnings.warn(
            f"converted {converted} of {len(images)} images in {root} to what the model needs ({kinds}); "
            "set data.on_mismatch=skip or error to refuse them instead",
            stacklevel=2,
        )
    return ImageSet(
        torch.from_numpy(np.stack(images)),
        torch.tensor(labels, dtype=torch.int64),
        class_names,
        skipped=len(skipped),
        skipped_items=skipped,
        converted=converted,
    )
