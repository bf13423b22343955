"""Write WebDataset tar shards (`KEY.png` or `KEY.jpg` + `KEY.cls`), the format rin's loaders read.

`write_members` writes any other members (clip shards: `KEY.npy` + `KEY.cls`, `rin.data.clip_shards`).

Shards are named `{prefix}-000000.tar`, `{prefix}-000001.tar`, ... with `shard_size` samples each.
Each is written as `.tmp` and renamed when complete, so an interrupted run leaves only whole
shards (and a `.tmp` to delete); a folder that already holds `{prefix}-*.tar` is refused rather
than mixed with or overwritten.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from types import TracebackType

import numpy as np
from PIL import Image

from rin.errors import DataError

FORMATS = ("png", "jpg")


def encode_image(pixels: np.ndarray, fmt: str) -> bytes:
    """uint8 (H, W, C) or (H, W) -> PNG (lossless, the default) or JPEG (quality 95) bytes."""
    image = Image.fromarray(pixels[..., 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels)
    buffer = io.BytesIO()
    if fmt == "jpg":
        image.save(buffer, format="JPEG", quality=95)
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


class ShardWriter:
    """`write(key, pixels, label)` appends one sample; shards roll over every `shard_size` samples."""

    def __init__(self, out: Path, prefix: str, shard_size: int, fmt: str = "png") -> None:
        if shard_size < 1:
            raise DataError(f"shard size must be >= 1, got {shard_size}")
        if fmt not in FORMATS:
            raise DataError(f"image format must be png or jpg, got {fmt!r}")
        if out.exists() and any(out.glob(f"{prefix}-*.tar")):
            raise DataError(f"{out} already holds {prefix}-*.tar shards: choose an empty --out folder")
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.prefix, self.shard_size, self.fmt = out, prefix, shard_size, fmt
        self.count = 0
        self.shards: list[Path] = []
        self._tar: tarfile.TarFile | None = None
        self._tmp: Path | None = None

    def write(self, key: str, pixels: np.ndarray, label: int) -> None:
        """One image sample: uint8 (H, W, C) or (H, W) pixels in the writer's format, and its class."""
        self.write_members(
            key, {self.fmt: encode_image(pixels, self.fmt), "cls": str(int(label)).encode("ascii")}
        )

    def write_members(self, key: str, members: dict[str, bytes]) -> None:
        """One sample of members `KEY.EXT` holding the given bytes, in the order given."""
        if "." in key:  # readers split a member name at its first dot: KEY.EXT
            raise ValueError(f"a WebDataset key holds no dot, got {key!r}")
        if self._tar is None or self.count % self.shard_size == 0:
            self._finish_shard()
            index = len(self.shards)
            self._tmp = self.out / f"{self.prefix}-{index:06d}.tar.tmp"
            self._tar = tarfile.open(self._tmp, "w")
            self.shards.append(self.out / f"{self.prefix}-{index:06d}.tar")
        for ext, data in members.items():
            self._add(f"{key}.{ext}", data)
        self.count += 1

    def _add(self, name: str, data: bytes) -> None:
        assert self._tar is not None
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0  # mtime 0: same input, same bytes
        self._tar.addfile(info, io.BytesIO(data))

    def _finish_shard(self) -> None:
        if self._tar is None or self._tmp is None:
            return
        self._tar.close()
        os.replace(self._tmp, self.shards[-1])
        self._tar, self._tmp = None, None

    def close(self) -> list[Path]:
        """Finish the last shard; returns every shard written."""
        self._finish_shard()
        return self.shards

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        elif self._tar is not None:  # a failed conversion keeps its whole shards, drops the partial one
            self._tar.close()
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
                self.shards.pop()
