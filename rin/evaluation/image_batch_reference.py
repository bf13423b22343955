"""Reference statistics from an image batch `.npz`, such as the reference batches of ADM's evaluation suite.

ADM (Dhariwal & Nichol 2021, `guided-diffusion/evaluations`) publishes each reference set as an
`.npz` whose `arr_0` holds uint8 (N, H, W, 3) images (its `mu`/`sigma` come from the TensorFlow
Inception graph, which rin does not run, so they are ignored). `reference_for` accepts such a
file directly: it extracts features of `arr_0` with the chosen extractor once and caches the
statistics beside it as `NAME.<extractor>-<weights>.stats.npz` (`...-resize-tf.stats.npz` for
`--resize tf`), keyed by the batch file's sha256.
A rin statistics file (from `rin evaluate stats`) is loaded as it is.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from rin.errors import EvaluationError
from rin.evaluation.extractors import Extractor
from rin.evaluation.reference import ReferenceStats, compute_reference, load_reference, save_reference
from rin.hashing import file_sha256


def _keys(path: Path) -> list[str]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return list(data.files)
    except FileNotFoundError:
        raise EvaluationError(f"reference {path} not found") from None
    except (OSError, ValueError) as error:
        raise EvaluationError(f"cannot read reference {path}: {error}") from None


def read_image_batch(path: Path) -> np.ndarray:
    """uint8 (N, C, H, W) images from `arr_0` (N, H, W, C), C in {1, 3}."""
    with np.load(path, allow_pickle=False) as data:
        images = data["arr_0"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) < 2:
        raise EvaluationError(
            f"{path}: arr_0 must hold at least 2 uint8 (N, H, W, C) images, got {images.dtype} {images.shape}"
        )
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def cache_path(path: Path, extractor: Extractor) -> Path:
    """Where the statistics of image batch `path` are cached for `extractor` (each resize its own)."""
    resize = f"-resize-{extractor.resize}" if extractor.resize not in ("", "torch") else ""
    return path.with_name(f"{path.stem}.{extractor.name}-{extractor.weights_id[:12]}{resize}.stats.npz")


def reference_for(ref: str | Path, extractor: Extractor, batch_size: int = 500) -> ReferenceStats:
    """Reference statistics for `--ref`: a rin statistics file, or an image batch (computed, cached)."""
    path = Path(ref).expanduser()
    keys = _keys(path)
    if "format_version" in keys or "arr_0" not in keys:  # a rin statistics file, or a foreign one
        return load_reference(
            path, extractor.name, expected_weights=extractor.weights_id, expected_resize=extractor.resize
        )
    if extractor.video:
        raise EvaluationError(f"{path} holds images; --extractor {extractor.name} scores clips")
    file_hash = file_sha256(path)
    cached = cache_path(path, extractor)
    if cached.is_file():
        stats = load_reference(
            cached, extractor.name, expected_weights=extractor.weights_id, expected_resize=extractor.resize
        )
        if stats.source.endswith(f"sha256 {file_hash}"):
            return stats
    images = read_image_batch(path)
    source = f"image batch {path.name} ({len(images)} images, arr_0), sha256 {file_hash}"
    stats = compute_reference(
        images, extractor.name, lambda batch: extractor.features(batch)[0], source, extractor.weights_id,
        batch_size=batch_size, resize=extractor.resize,
    )  # fmt: skip
    try:
        save_reference(cached, stats)
    except OSError as error:  # a read-only folder: score anyway, recompute next time
        warnings.warn(f"could not cache the statistics of {path} in {cached}: {error.strerror}", stacklevel=2)
    return stats
