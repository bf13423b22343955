"""Clip shards: WebDataset samples of one fixed-length video clip each, streamed like image shards.

A sample is `KEY.npy`, one clip as uint8 (F, H, W, C) in NumPy's `.npy` format (a short header,
then the raw frames: lossless, and read without pickle), and `KEY.cls`, the class index as text.
`rin data video` writes them (`rin.data.prepare.video_folder_to_shards`); `data.dataset=
video_webdataset` streams them with `ClipShardStream`, which is `rin.data.stream.ShardStream`
with another decoder: the same split of shards over ranks x loader workers, the same positions
in checkpoints, so a resumed run neither repeats nor skips a clip. `ClipShardReader` reads every
clip once, in shard order, in batches, for reference statistics (`rin evaluate stats`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import torch
from einops import rearrange

from rin.data.clipset import ClipSet
from rin.data.stream import Position, ShardStream, expand_shards, read_shard
from rin.errors import DataError

CLIP_EXT = "npy"
CLIP_SHARDS_HINT = "make clip shards from a folder of videos with: rin data video --src DIR --out SHARDS"


def encode_clip(clip: np.ndarray) -> bytes:
    """uint8 (F, H, W, C) -> `.npy` bytes (format 1.0, no pickle)."""
    if clip.dtype != np.uint8 or clip.ndim != 4:
        raise ValueError(f"a clip must be uint8 (F, H, W, C), got {clip.dtype} {clip.shape}")
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(clip), allow_pickle=False)
    return buffer.getvalue()


def read_clip(data: bytes, key: str) -> np.ndarray:
    """`.npy` bytes -> uint8 (F, H, W, C); ValueError for anything else (object arrays included)."""
    clip = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    if clip.dtype != np.uint8 or clip.ndim != 4:
        raise ValueError(f"sample {key} is {clip.dtype} {clip.shape}, not a uint8 (F, H, W, C) clip")
    return clip


def _shape_error(key: str, shard: str, got: tuple[int, ...], want: tuple[int, ...]) -> DataError:
    return DataError(
        f"sample {key} in {shard} is a clip of {'x'.join(map(str, got))} (frames x height x width x "
        f"channels) but the model needs {'x'.join(map(str, want))}: write the shards again with "
        f"rin data video --frames {want[0]} --size {want[1]} --channels {want[3]}, or change model.*"
    )


class ClipShardStream(ShardStream):
    """Samples (clip uint8 (F, C, S, S), label, key, slot, epoch, shard, read) of this rank's slots."""

    def __init__(self, shards: list[str], seed: int, rank: int, world_size: int, workers: int,
                 channels: int, image_size: int, num_classes: int, frames: int,
                 positions: dict[int, Position] | None = None) -> None:  # fmt: skip
        super().__init__(shards, seed, rank, world_size, workers, channels, image_size, num_classes,
                         positions)  # fmt: skip
        self.frames = frames
        self._check_first_clip()

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        """(F, H, W, C) of the clips the model takes."""
        return (self.frames, self.image_size, self.image_size, self.channels)

    def _check_first_clip(self) -> None:
        """A model/shard mismatch is one line here, not a warning per sample in every loader worker."""
        samples = read_shard(self.shards[0])
        first = next(samples, None)
        samples.close()
        if first is None:
            return  # an empty shard holds nothing to check
        key, parts = first
        if CLIP_EXT not in parts:
            raise DataError(
                f"sample {key} in {self.shards[0]} has no .{CLIP_EXT} clip (has {sorted(parts)}): "
                f"data.dataset=video_webdataset reads clip shards; {CLIP_SHARDS_HINT}"
            )
        try:
            got = tuple(read_clip(parts[CLIP_EXT], key).shape)
        except ValueError:
            return  # a corrupt first sample is skipped with a warning when it is read, like any other
        if got != self.clip_shape:
            raise _shape_error(key, self.shards[0], got, self.clip_shape)

    def _decode(self, key: str, parts: dict[str, bytes]) -> tuple[torch.Tensor, int]:
        """(uint8 clip (F, C, S, S), label); raises ValueError for a corrupt or misshapen sample."""
        if CLIP_EXT not in parts:
            raise ValueError(f"sample {key} has no .{CLIP_EXT} clip (has {sorted(parts)})")
        label = self._label(key, parts)
        clip = read_clip(parts[CLIP_EXT], key)
        if clip.shape != self.clip_shape:
            raise ValueError(f"sample {key} is a clip of {clip.shape}, the model needs {self.clip_shape}")
        return rearrange(torch.from_numpy(clip.copy()), "f h w c -> f c h w"), label


def load_clip_shards(
    spec: str, frames: int, image_size: int, channels: int, limit: int, num_classes: int = 0
) -> ClipSet:
    """The first `limit` readable clips of the shards `spec` names, in shard order, in memory.

    For sample grids and `rin sample` (the clips whose first frames are continued); training streams."""
    stream = ClipShardStream(expand_shards(spec, CLIP_SHARDS_HINT), 0, 0, 1, 0, channels, image_size,
                             num_classes, frames)  # fmt: skip
    clips: list[torch.Tensor] = []
    labels: list[int] = []
    skipped: list[str] = []
    for shard in stream.shards:
        for key, parts in read_shard(shard):
            try:
                clip, label = stream._decode(key, parts)
            except (OSError, ValueError, UnicodeDecodeError) as error:
                skipped.append(f"{shard}:{key}: {error}")
                continue
            clips.append(clip)
            labels.append(label)
            if len(clips) == limit:
                return _clip_set(clips, labels, skipped)
    if not clips:
        first = skipped[0] if skipped else "no samples"
        raise DataError(f"no readable clips in {spec}; first problem: {first}")
    return _clip_set(clips, labels, skipped)


def _clip_set(clips: list[torch.Tensor], labels: list[int], skipped: list[str]) -> ClipSet:
    stacked = torch.stack(clips)  # (N, F, C, S, S)
    return ClipSet(
        stacked, torch.tensor(labels, dtype=torch.int64), skipped=len(skipped), skipped_items=skipped
    )


class ClipShardReader:
    """uint8 clip batches (B, F, C, H, W) of the shards `spec` names: every readable clip once, in order.

    Streamed, one batch in memory at a time (a Kinetics-size set does not fit in memory; only the
    features are kept), for `rin evaluate stats`. The shards set the clip shape, so clips of another
    shape than the first, or samples without a `.npy` clip (image shards, say), are a DataError:
    statistics of a silently narrowed set would look fine and mean something else. A `.npy` that
    does not decode is skipped and listed in `skipped`, as the training stream skips it.
    """

    def __init__(self, spec: str, batch_size: int, limit: int | None = None) -> None:
        if batch_size < 1 or (limit is not None and limit < 1):
            raise ValueError(f"batch_size and limit must be positive, got {batch_size} and {limit}")
        self.spec, self.batch_size, self.limit = spec, batch_size, limit
        self.shards = expand_shards(spec, CLIP_SHARDS_HINT)  # before any reading: a bad spec fails fast
        self.count = 0  # clips yielded by the last iteration
        self.skipped: list[str] = []  # "shard:key: reason" of each undecodable clip
        self.clip_shape: tuple[int, ...] | None = None  # (F, H, W, C) of the first clip

    def __iter__(self) -> Iterator[np.ndarray]:
        self.count, self.skipped, self.clip_shape = 0, [], None
        batch: list[np.ndarray] = []
        for clip in self._clips():
            batch.append(clip)
            if len(batch) == self.batch_size:
                yield np.stack(batch)
                batch = []
        if batch:
            yield np.stack(batch)
        if self.count == 0:
            first = self.skipped[0] if self.skipped else "the shards hold no samples"
            raise DataError(f"no readable clips in {self.spec}; first problem: {first}")

    def _clips(self) -> Iterator[np.ndarray]:
        """(F, C, H, W) views of the readable clips, up to `limit` of them."""
        for shard in self.shards:
            for key, parts in read_shard(shard):
                clip = self._read(shard, key, parts)
                if clip is None:
                    continue
                self.count += 1
                yield clip.transpose(0, 3, 1, 2)  # (F, H, W, C) -> (F, C, H, W); np.stack copies
                if self.count == self.limit:
                    return

    def _read(self, shard: str, key: str, parts: dict[str, bytes]) -> np.ndarray | None:
        """The clip of one sample, None if it does not decode; DataError for the wrong content."""
        if CLIP_EXT not in parts:
            raise DataError(
                f"sample {key} in {shard} has no .{CLIP_EXT} clip (has {sorted(parts)}): "
                f"expected clip shards; {CLIP_SHARDS_HINT}"
            )
        try:
            clip = read_clip(parts[CLIP_EXT], key)
        except (OSError, ValueError) as error:
            self.skipped.append(f"{shard}:{key}: {error}")
            return None
        if self.clip_shape is None:
            self.clip_shape = clip.shape
        elif clip.shape != self.clip_shape:
            shapes = ["x".join(map(str, shape)) for shape in (clip.shape, self.clip_shape)]
            raise DataError(
                f"sample {key} in {shard} is a clip of {shapes[0]} (frames x height x width x channels) "
                f"but earlier clips are {shapes[1]}: pass shards of one clip shape"
            )
        return clip
