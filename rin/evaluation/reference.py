"""Reference statistics of real images, cached in an .npz that says what it was computed from.

FID, KID and precision/recall compare generated images against features of real ones;
extracting those once and caching them is standard, and so is the silent error of reusing a
cache made with another network or other images. Each file therefore records the extractor
name, its weights id (e.g. the sha256 of the weight file), the number of images and a
fingerprint of the images (sha256 over their shape and uint8 bytes, in order), and
`load_reference` refuses a mismatch with a one-line `EvaluationError`. The resolution of the
images is recorded too, and `check_resolution` refuses samples of another one (64x64 samples
scored against 32x32 statistics give a number, but a meaningless one), and so is the
Inception's input resize (`--resize torch` or `tf`: the same images give other features, so a
reference of one is refused when scoring with the other). Features are kept
(float32) for KID and precision/recall; mu and sigma (float64) for FID. Files are read with
`np.load(allow_pickle=False)`: a file holding pickled objects is refused, never unpickled.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rin.errors import EvaluationError, first_line

__all__ = [
    "FORMAT_VERSION",
    "ReferenceStats",
    "compute_reference",
    "image_fingerprint",
    "load_reference",
    "save_reference",
]

FORMAT_VERSION = 1
_TEXT_FIELDS = ("extractor", "weights_id", "source", "fingerprint")
_KEYS = ("mu", "sigma", "features", "num_images", "format_version", *_TEXT_FIELDS)
# added later, so optional when reading: files written before them have no resolution (not
# checked) and no resize (they resized as torch does, the only resize then, or not at all)
_OPTIONAL_TEXT_FIELDS = ("resolution", "resize")

Images = np.ndarray | torch.Tensor | Iterable[np.ndarray | torch.Tensor]


@dataclass(frozen=True, eq=False)
class ReferenceStats:
    """Features and Gaussian statistics of a reference image set, with where they came from."""

    mu: np.ndarray  # (D,) float64 feature mean
    sigma: np.ndarray  # (D, D) float64 feature covariance (rows as observations, N - 1 normalised)
    features: np.ndarray  # (N, D) float32, for KID and precision/recall
    extractor: str  # extractor name, e.g. rin.evaluation.networks.inception.EXTRACTOR_NAME
    weights_id: str  # the extractor's weights, e.g. the sha256 of the weight file
    source: str  # human description of the images (data set, split, path)
    fingerprint: str  # image_fingerprint of the images, in order
    num_images: int
    format_version: int = FORMAT_VERSION
    resolution: str = ""  # "HxW" of the images (of each frame for clips); "" in files that predate it
    resize: str = ""  # the Inception's input resize, "torch" or "tf"; "" means torch's or none (see above)

    def check_resize(self, resize: str) -> None:
        """Refuse statistics whose Inception resize is not `resize` (EvaluationError, one line)."""
        _refuse_other_resize(self.resize, resize, f"of {self.source}")

    def check_resolution(self, height: int, width: int, what: str = "the samples") -> None:
        """Refuse images of another resolution than the reference's (EvaluationError, one line)."""
        if self.resolution and self.resolution != f"{height}x{width}":
            raise EvaluationError(
                f"{what} are {height}x{width} but the reference statistics are of {self.resolution} "
                f"images ({self.source}): recompute them with `rin evaluate stats --image-size {height}`"
            )


def _refuse_other_resize(recorded: str, expected: str, where: str) -> None:
    """EvaluationError (one line) unless statistics made with `recorded` fit an extractor's `expected`."""
    recorded, expected = recorded or "torch", expected or "torch"  # "": torch's resize, or none at all
    if recorded != expected:
        raise EvaluationError(
            f"reference statistics {where} were computed with --resize {recorded}, not --resize {expected}: "
            f"score with --resize {recorded} or recompute them with `rin evaluate stats --resize {expected}`"
        )


def _uint8_batches(images: Images, batch_size: int) -> Iterator[np.ndarray]:
    """uint8 numpy batches (B, C, H, W), or clips (B, F, C, H, W), from one array/tensor or an iterable."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(images, np.ndarray | torch.Tensor):
        parts: Iterable[np.ndarray | torch.Tensor] = (
            images[start : start + batch_size] for start in range(0, len(images), batch_size)
        )
    else:
        parts = images
    for part in parts:
        batch = part.detach().cpu().numpy() if isinstance(part, torch.Tensor) else np.asarray(part)
        if batch.dtype != np.uint8 or batch.ndim not in (4, 5):
            raise ValueError(
                "expected uint8 (B, C, H, W) image or (B, F, C, H, W) clip batches, "
                f"got {batch.dtype} {batch.shape}"
            )
        yield batch


class _Fingerprint:
    """sha256 over 'CxHxW;' (clips: 'FxCxHxW;') and the bytes in order, however they are batched."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.image_shape: tuple[int, ...] | None = None
        self.count = 0

    def update(self, batch: np.ndarray) -> None:
        if self.image_shape is None:
            self.image_shape = batch.shape[1:]
            self.digest.update("x".join(map(str, self.image_shape)).encode() + b";")
        elif batch.shape[1:] != self.image_shape:
            raise ValueError(f"image shape changed from {self.image_shape} to {batch.shape[1:]}")
        self.digest.update(np.ascontiguousarray(batch).tobytes())
        self.count += len(batch)


def image_fingerprint(images: Images, batch_size: int = 1000) -> str:
    """sha256 hex digest identifying uint8 images (N, C, H, W) in order, however they are batched."""
    fingerprint = _Fingerprint()
    for batch in _uint8_batches(images, batch_size):
        fingerprint.update(batch)
    return fingerprint.digest.hexdigest()


def _statistics(features: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) in float64, two passes over row chunks (no (N, D) float64 copy)."""
    count = features.shape[0]
    total = np.zeros(features.shape[1])
    for i in range(0, count, chunk):
        total += features[i : i + chunk].sum(axis=0, dtype=np.float64)
    mu = total / count
    scatter = np.zeros((features.shape[1], features.shape[1]))
    for i in range(0, count, chunk):
        centred = features[i : i + chunk].astype(np.float64) - mu  # (chunk, D)
        scatter += centred.T @ centred
    return mu, scatter / (count - 1)


def compute_reference(
    images: Images,
    extractor_name: str,
    extractor_fn: Callable[[np.ndarray], np.ndarray],
    source: str,
    weights_id: str = "",
    batch_size: int = 500,
    resize: str = "",
) -> ReferenceStats:
    """Extract features of uint8 images and summarise them as ReferenceStats.

    Args:
        images: uint8 (N, C, H, W) array or tensor, or an iterable of (B, C, H, W) uint8 batches;
            video clips (N, F, C, H, W) likewise, for a video extractor such as I3D.
        extractor_name: recorded, and checked again by `load_reference`.
        extractor_fn: maps a uint8 batch (B, C, H, W) or (B, F, C, H, W) to features (B, D).
        source: a description of the images (data set, split, path), for people.
        weights_id: the extractor's weights (e.g. `FIDInceptionV3.weights_sha256`).
        batch_size: rows per extractor call when `images` is one array.
        resize: the extractor's input resize (`Extractor.resize`), recorded and checked on loading.
    """
    fingerprint = _Fingerprint()
    chunks: list[np.ndarray] = []
    for batch in _uint8_batches(images, batch_size):
        fingerprint.update(batch)
        features = np.asarray(extractor_fn(batch))
        if features.ndim != 2 or features.shape[0] != len(batch):
            raise ValueError(f"extractor_fn must return ({len(batch)}, D) features, got {features.shape}")
        if chunks and features.shape[1] != chunks[0].shape[1]:
            raise ValueError(f"feature size changed from {chunks[0].shape[1]} to {features.shape[1]}")
        if not np.all(np.isfinite(features)):
            raise ValueError(f"extractor_fn gave NaN or infinite features (images up to {fingerprint.count})")
        chunks.append(features.astype(np.float32))
    if fingerprint.count < 2:
        raise ValueError(f"reference statistics need at least 2 images, got {fingerprint.count}")
    all_features = np.concatenate(chunks)
    mu, sigma = _statistics(all_features)
    return ReferenceStats(
        mu=mu,
        sigma=sigma,
        features=all_features,
        extractor=extractor_name,
        weights_id=weights_id,
        source=source,
        fingerprint=fingerprint.digest.hexdigest(),
        num_images=fingerprint.count,
        resolution="x".join(map(str, fingerprint.image_shape[-2:])) if fingerprint.image_shape else "",
        resize=resize,
    )


def save_reference(path: str | os.PathLike[str], stats: ReferenceStats) -> None:
    """Write `stats` to `path` (.npz, no pickles) atomically: a temporary file, then os.replace."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "mu": np.asarray(stats.mu, dtype=np.float64),
        "sigma": np.asarray(stats.sigma, dtype=np.float64),
        "features": np.asarray(stats.features, dtype=np.float32),
        "num_images": np.asarray(stats.num_images, dtype=np.int64),
        "format_version": np.asarray(stats.format_version, dtype=np.int64),
    }
    text_fields = (*_TEXT_FIELDS, *_OPTIONAL_TEXT_FIELDS)
    arrays.update({name: np.asarray(str(getattr(stats, name))) for name in text_fields})  # 0-d unicode
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    try:
        with tmp.open("wb") as file:  # a file object: np.savez appends no ".npz" to the name
            np.savez(file, **arrays)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _read_arrays(file: Path) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise EvaluationError(f"reference statistics {file} not found")
    try:
        data = np.load(file, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array
            raise ValueError("not an .npz archive")
        with data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        reason = first_line(error)
        raise EvaluationError(f"cannot read reference statistics {file}: {reason}") from None
    missing = [key for key in _KEYS if key not in arrays]
    if missing:
        raise EvaluationError(f"{file} is not a rin reference statistics file: no {missing[0]!r} array")
    return arrays


def _read_text(file: Path, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """The metadata strings (0-d unicode arrays); optional ones only where the file has them."""
    if any(arrays[name].ndim != 0 or arrays[name].dtype.kind != "U" for name in _TEXT_FIELDS):
        raise EvaluationError(f"{file} is not a rin reference statistics file: malformed metadata")
    text = {name: str(arrays[name][()]) for name in _TEXT_FIELDS}
    for name in _OPTIONAL_TEXT_FIELDS:
        if name in arrays:
            if arrays[name].ndim != 0 or arrays[name].dtype.kind != "U":
                raise EvaluationError(f"{file} is not a rin reference statistics file: malformed {name}")
            text[name] = str(arrays[name][()])
    return text


def load_reference(
    path: str | os.PathLike[str],
    expected_extractor: str,
    fingerprint: str | None = None,
    expected_weights: str | None = None,
    expected_resize: str | None = None,
) -> ReferenceStats:
    """Read statistics written by `save_reference`, refusing (EvaluationError) any that do not fit.

    Refused: an unreadable or pickle-holding file, another format version, another extractor,
    other extractor weights (if `expected_weights` is given), another input resize (if
    `expected_resize` is given; "" and "torch" are one), other images (if `fingerprint`, from
    `image_fingerprint`, is given) and inconsistent or non-finite arrays.
    """
    file = Path(path).expanduser()
    arrays = _read_arrays(file)
    text = _read_text(file, arrays)
    version = int(arrays["format_version"])
    if version != FORMAT_VERSION:
        raise EvaluationError(f"{file} has format version {version}, not {FORMAT_VERSION}: recompute it")
    if text["extractor"] != expected_extractor:
        raise EvaluationError(
            f"{file} was made with extractor {text['extractor']!r}, not {expected_extractor!r}: recompute it"
        )
    if expected_weights is not None and text["weights_id"] != expected_weights:
        raise EvaluationError(
            f"{file} was computed with extractor weights {text['weights_id'][:16]!r}, "
            f"not {expected_weights[:16]!r}: recompute it"
        )
    if expected_resize is not None:
        _refuse_other_resize(text.get("resize", ""), expected_resize, str(file))
    if fingerprint is not None and text["fingerprint"] != fingerprint:
        raise EvaluationError(
            f"{file} was computed from other images ({text['source']!r}, fingerprint "
            f"{text['fingerprint'][:12]}, expected {fingerprint[:12]}): recompute it"
        )
    mu, sigma, features = arrays["mu"], arrays["sigma"], arrays["features"]
    num_images = int(arrays["num_images"])
    dim = mu.shape[0] if mu.ndim == 1 else -1
    if sigma.shape != (dim, dim) or features.shape != (num_images, dim):
        raise EvaluationError(
            f"{file} is inconsistent: mu {mu.shape}, sigma {sigma.shape}, features {features.shape} "
            f"for {num_images} images"
        )
    if not all(np.all(np.isfinite(array)) for array in (mu, sigma, features)):
        raise EvaluationError(f"{file} is corrupt: it holds NaN or infinite statistics")
    return ReferenceStats(
        mu=mu.astype(np.float64),
        sigma=sigma.astype(np.float64),
        features=features.astype(np.float32),
        num_images=num_images,
        format_version=version,
        **text,
    )
