"""A numbered set of samples (e.g. 50k for FID) drawn in resumable shards, independent of batch size.

Sample i uses its own generator seeded from (seed, i) and the label `labels[i]`, so the set is
the same whatever the batch size, and an interrupted run picks up at the first missing shard.
Shards are `.npz` files written atomically (temporary name, then rename) holding uint8 NHWC
images under `arr_0` and labels under `arr_1`, the layout the ADM evaluation suite reads; the
merged file has the same layout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rin.errors import RinError
from rin.sampling.noise import per_sample_generators

# draws images in [0, 1] (B, C, H, W) for the given labels (B,) or None, with per-sample generators
DrawFn = Callable[[int, torch.Tensor | None, list[torch.Generator]], torch.Tensor]


def to_uint8_nhwc(images: torch.Tensor) -> np.ndarray:
    """[0, 1] float (B, C, H, W) -> uint8 (B, H, W, C), rounding to the nearest level."""
    return (images * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _save_npz(path: Path, images: np.ndarray, labels: np.ndarray | None) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    arrays = {"arr_0": images} if labels is None else {"arr_0": images, "arr_1": labels}
    with tmp.open("wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _check_settings(shard_dir: Path, settings: dict[str, object]) -> None:
    shard_dir.mkdir(parents=True, exist_ok=True)
    record = shard_dir / "settings.json"
    text = json.dumps(settings, sort_keys=True, default=str)
    if record.exists():
        if record.read_text() != text:
            raise RinError(
                f"the shards in {shard_dir} were drawn with other settings ({record}); "
                "delete that folder or write to another --npz"
            )
    else:  # atomic, so concurrent ranks never read a half-written record
        tmp = record.with_name(f".settings.json.tmp-{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, record)


def _load_shard(path: Path, expected: int) -> np.ndarray | None:
    """The images of a finished shard, or None if it is missing, torn or of the wrong size."""
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["arr_0"]
    except (OSError, ValueError, KeyError):
        return None
    return images if images.shape[0] == expected and images.dtype == np.uint8 else None


def draw_sample_set(
    draw: DrawFn,
    num: int,
    seed: int,
    labels: torch.Tensor | None,
    shard_dir: Path | None = None,
    shard_size: int = 1000,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    on_batch: Callable[[int], None] | None = None,
    settings: dict[str, object] | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> np.ndarray | None:
    """Samples 0..num-1 as uint8 (num, H, W, C); with `shard_dir`, finished shards are reused.

    `settings` (checkpoint, sampler, seed, ...) are recorded in `shard_dir/settings.json`; shards
    made under other settings are refused rather than mixed in. The CLI names the checkpoint by
    the SHA-256 of its manifest, so a checkpoint replaced at the same path counts as another one.

    With `world_size` > 1 (distributed sampling) this rank draws only shards
    rank, rank + world_size, ... into `shard_dir` and returns None; a later call with
    world_size 1 (on one rank, after a barrier) merges them into the same set a single process draws.
    """
    if world_size > 1 and shard_dir is None:
        raise RinError("distributed sampling writes shards: give an output .npz (--npz)")
    if num < 1 or shard_size < 1 or batch_size < 1:
        raise RinError(f"num, shard size and batch size must be >= 1, got {num}, {shard_size}, {batch_size}")
    if labels is not None and labels.shape != (num,):
        raise RinError(f"need one label per sample ({num}), got shape {tuple(labels.shape)}")
    if shard_dir is not None:
        _check_settings(shard_dir, {**(settings or {}), "seed": seed, "shard_size": shard_size})
    shards: list[np.ndarray] = []
    for first in range(0, num, shard_size):
        if (first // shard_size) % world_size != rank:
            continue  # another rank's shard
        count = min(shard_size, num - first)
        path = shard_dir / f"shard_{first // shard_size:05d}.npz" if shard_dir is not None else None
        done = _load_shard(path, count) if path is not None else None
        if done is None:
            parts = []
            for start in range(first, first + count, batch_size):
                stop = min(start + batch_size, first + count)
                generators = per_sample_generators(seed, range(start, stop), device)
                batch_labels = labels[start:stop] if labels is not None else None
                parts.append(to_uint8_nhwc(draw(stop - start, batch_labels, generators)))
                if on_batch is not None:
                    on_batch(stop - start)
            done = np.concatenate(parts)
            if path is not None:
                shard_labels = labels[first : first + count].numpy() if labels is not None else None
                _save_npz(path, done, shard_labels)
        elif on_batch is not None:
            on_batch(count)
        shards.append(done)
    return np.concatenate(shards) if world_size == 1 else None


def save_sample_set(path: Path, images: np.ndarray, labels: torch.Tensor | None) -> None:
    """Write the merged set atomically as `.npz` (arr_0 images, arr_1 labels if any)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_npz(path, images, labels.numpy() if labels is not None else None)
