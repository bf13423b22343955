"""Read the official CIFAR-10 python archive (`cifar-10-python.tar.gz`) without trusting its pickles.

The archive holds `cifar-10-batches-py/data_batch_1` ... `data_batch_5` and `test_batch`, each a
Python pickle of a dict: `data` (uint8 (10000, 3072), rows of R, G, B planes of 32x32) and
`labels` (10000 ints). A pickle can name any importable callable, so a bare `pickle.load` of a
downloaded file can run code. `SafeUnpickler` resolves only the few globals these files need
(numpy's array reconstruction, `numpy.dtype` for non-object dtypes, and `_codecs.encode`, which
Python 3 pickles use for bytes); any other global is refused before anything is called.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from einops import rearrange

from rin.errors import DataError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)


def _safe_dtype(*args: Any) -> np.dtype:
    """numpy.dtype, refusing object dtypes (they would let the pickle place objects in an array)."""
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError("object dtypes are not allowed")
    return dtype


def _reconstruct(cls: Any, *args: Any) -> np.ndarray:
    """numpy's ndarray reconstruction, only for ndarray itself."""
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("only numpy.ndarray may be reconstructed")
    return np.ndarray.__new__(np.ndarray, *args)


def _encode(text: str, encoding: str = "latin1") -> bytes:
    return text.encode(encoding)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # pickles written by numpy 1.x (and py2)
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # pickles written by numpy 2.x
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _encode,
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain containers, bytes, numbers and numpy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")
        return allowed


def _parse_batch(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (uint8 (N, 32, 32, 3) images, int64 (N,) labels)."""
    try:
        # encoding="bytes": the official files come from Python 2, whose str keys load as bytes
        batch = SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise DataError(f"{name} is not a CIFAR-10 python batch: {error}") from None
    if not isinstance(batch, dict):
        raise DataError(f"{name} is not a CIFAR-10 python batch: it holds a {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{name}: 'data' must be a uint8 (N, 3072) array")
    if not isinstance(labels, list) or len(labels) != len(data):
        raise DataError(f"{name}: 'labels' must be a list of {len(data)} class indices")
    label_array = np.asarray(labels, dtype=np.int64)
    if label_array.size and (label_array.min() < 0 or label_array.max() > 9):
        raise DataError(f"{name}: labels must lie in 0..9")
    images = rearrange(data, "n (c h w) -> n h w c", c=3, h=32, w=32)
    return np.ascontiguousarray(images), label_array


def read_cifar10_archive(archive: str | Path, split: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images (N, 32, 32, 3) uint8, labels (N,)) of each batch of `split` ("train" or "test")."""
    names = TRAIN_BATCHES if split == "train" else TEST_BATCHES
    path = Path(archive).expanduser()
    if not path.is_file():
        raise DataError(f"CIFAR-10 archive {archive} does not exist: download cifar-10-python.tar.gz first")
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [n for n in names if n not in members]
            if missing:
                raise DataError(
                    f"{archive} has no {missing[0]}: expected the CIFAR-10 python version "
                    "(cifar-10-python.tar.gz, cifar-10-batches-py/data_batch_1 ...)"
                )
            for name in names:
                handle = tar.extractfile(members[name])
                assert handle is not None  # a regular file
                yield _parse_batch(handle.read(), name)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{archive} is not a readable .tar.gz archive ({error})") from None
