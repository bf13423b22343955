"""WebDataset shards streamed from disk or URLs, split over ranks and loader workers, resumable.

For data sets too large to hold in memory (`data.dataset=webdataset`; clip shards,
`video_webdataset`, go through the same classes with a clip decoder, `rin.data.clip_shards`). Each rank runs a
`DataLoader` with `data.workers` worker processes; rank r's worker w is slot s = r * W + w of
S = world_size * W slots. Every epoch the shard list is shuffled with a seed of (seed, epoch)
and the shard at position i goes to slot i mod S, so within an epoch every shard, hence every
sample, is read by exactly one slot: none twice, none skipped. (`webdataset`'s
`split_by_node` + `split_by_worker`, with the assignment made explicit so it can be resumed.)

Resume: every sample carries its slot's position (epoch, shard index within the slot's list,
samples read from that shard). The main process records the position of the last sample it
*consumed* per slot; batches prefetched but not consumed are read again after a resume. A
checkpoint stores the positions of all slots, so a resumed run with the same world size and
workers neither repeats nor skips a sample. Shards should be written shuffled (as WebDataset
advises): samples of one shard are read in order.

Shard specs: a directory (its `train-*.tar`, else every `*.tar`), a file, a glob, a brace pattern
`train-{000000..000099}.tar` (needs `braceexpand`) or URLs that `webdataset.gopen` reads
(`https://...`, `pipe:CMD`, ...; needs the optional `webdataset` package), several separated by `::`.
"""

from __future__ import annotations

import glob
import io
import warnings
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from einops import rearrange
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from rin.data.bit_depth import to_8_bit
from rin.data.cifar import read_tar_samples
from rin.errors import DataError

_IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
_SHARD_ORDER_STREAM = 0x5A4D  # separates shard-order seeds from every other (seed, ...) stream

Position = tuple[int, int, int]  # (epoch, shard index in the slot's list, samples read from it)


def _is_url(spec: str) -> bool:
    return "://" in spec or spec.startswith("pipe:")


IMAGE_SHARDS_HINT = "make shards from an image folder with: rin data folder --src DIR --size S --out SHARDS"


def expand_shards(spec: str, hint: str = IMAGE_SHARDS_HINT) -> list[str]:
    """The shard list a spec names (see the module docstring), in a fixed order.

    `hint` (how to make the shards) ends the errors for an empty spec or a folder without shards."""
    if not spec:
        raise DataError(
            f"data.path is empty: pass --data SHARDS (a directory, glob, brace pattern or URLs); {hint}"
        )
    shards: list[str] = []
    for part in spec.split("::"):
        if "{" in part:
            try:
                from braceexpand import braceexpand
            except ImportError:
                raise DataError(
                    f"brace pattern {part} needs the braceexpand package: pip install 'rin[scale]'"
                ) from None
            names = list(braceexpand(part))
        else:
            names = [part]
        for name in names:
            shards.extend(_local(name, hint) if not _is_url(name) else [name])
    return shards


def _local(name: str, hint: str) -> list[str]:
    path = Path(name).expanduser()
    if path.is_dir():
        # `rin data ... --split test` may write held-out shards beside the training ones: a folder
        # with train-*.tar trains on those only, any other folder on all its shards
        found = sorted(str(p) for p in path.glob("train-*.tar")) or sorted(str(p) for p in path.glob("*.tar"))
        if not found:
            raise DataError(f"no .tar shards in {path}: expected WebDataset shards; {hint}")
        return found
    if path.is_file():
        return [str(path)]
    if glob.has_magic(name):
        found = sorted(m for m in glob.glob(str(path)) if Path(m).is_file())
        if found:
            return found
        raise DataError(f"no files match {name}: check the shard pattern passed as --data")
    raise DataError(f"shard {name} does not exist: pass --data with existing shards or URLs")


def _open(shard: str) -> IO[bytes]:
    if not _is_url(shard):
        return open(shard, "rb")  # noqa: SIM115 - closed by the caller's `with`
    try:
        from webdataset.gopen import gopen
    except ImportError:
        raise DataError(
            f"reading shard URL {shard} needs the webdataset package: pip install 'rin[scale]'"
        ) from None
    return gopen(shard, "rb")


def read_shard(shard: str) -> Generator[tuple[str, dict[str, bytes]], None, None]:
    """(key, {extension: bytes}) per sample of one tar shard (a path or a URL), in order."""
    try:
        stream = _open(shard)
    except OSError as error:
        raise DataError(f"{shard} is not a readable tar shard ({error}): re-download or remove it") from None
    yield from read_tar_samples(shard, stream)


def slot_shards(shards: list[str], epoch: int, seed: int, slot: int, num_slots: int) -> list[str]:
    """The shards slot `slot` of `num_slots` reads in `epoch`: every num_slots-th of a shuffled list."""
    state = np.random.SeedSequence((seed, epoch, _SHARD_ORDER_STREAM)).generate_state(1, dtype=np.uint64)
    order = torch.randperm(len(shards), generator=torch.Generator().manual_seed(int(state[0])))
    return [shards[i] for i in order[slot::num_slots].tolist()]


class ShardStream(IterableDataset):
    """Samples (image uint8 (C, S, S), label, key, slot, epoch, shard, read) of this rank's slots."""

    def __init__(self, shards: list[str], seed: int, rank: int, world_size: int, workers: int,
                 channels: int, image_size: int, num_classes: int,
                 positions: dict[int, Position] | None = None) -> None:  # fmt: skip
        self.slots_per_rank = max(workers, 1)
        self.num_slots = world_size * self.slots_per_rank
        if len(shards) < self.num_slots:
            raise DataError(
                f"{len(shards)} shards cannot feed {world_size} processes x {self.slots_per_rank} loader "
                f"workers (each needs at least one shard): lower data.workers or write more shards"
            )
        self.shards, self.seed, self.rank = shards, seed, rank
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes
        self.positions = dict(positions or {})
        # which of this rank's slots the loader's worker 0 serves: a DataLoader hands out batches
        # from workers 0, 1, ... in turn, so after a resume worker 0 takes the slot that was due
        self.turn = 0

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        info = get_worker_info()
        worker = (info.id if info is not None else 0) + self.turn
        return self.samples(self.rank * self.slots_per_rank + worker % self.slots_per_rank)

    def samples(self, slot: int) -> Iterator[tuple[Any, ...]]:
        """The endless sample stream of one slot, from its recorded position on."""
        epoch, first_shard, already_read = self.positions.get(slot, (0, 0, 0))
        while True:
            mine = slot_shards(self.shards, epoch, self.seed, slot, self.num_slots)
            for index in range(first_shard, len(mine)):
                for read, (key, parts) in enumerate(read_shard(mine[index]), start=1):
                    if index == first_shard and read <= already_read:
                        continue  # consumed before the checkpoint
                    try:
                        image, label = self._decode(key, parts)
                    except (OSError, ValueError, UnicodeDecodeError) as error:
                        warnings.warn(
                            f"skipping corrupt sample {key} in {mine[index]}: {error}", stacklevel=2
                        )
                        continue
                    yield image, label, key, slot, epoch, index, read
            epoch, first_shard, already_read = epoch + 1, 0, 0

    def _label(self, key: str, parts: dict[str, bytes]) -> int:
        """The `.cls` class index (0 without one), checked against the model's classes."""
        label = int(parts["cls"].decode("ascii").strip()) if "cls" in parts else 0
        if self.num_classes > 0 and not 0 <= label < self.num_classes:
            raise ValueError(f"sample {key} has class {label}, outside 0..{self.num_classes - 1}")
        return label

    def _decode(self, key: str, parts: dict[str, bytes]) -> tuple[torch.Tensor, int]:
        """(uint8 image (C, S, S), label); raises ValueError/OSError for a corrupt sample."""
        image_bytes = next((parts[ext] for ext in _IMAGE_EXTS if ext in parts), None)
        if image_bytes is None:
            raise ValueError(f"sample {key} has no image member (has {sorted(parts)})")
        label = self._label(key, parts)
        with Image.open(io.BytesIO(image_bytes)) as opened:
            image = to_8_bit(opened).convert("RGB" if self.channels == 3 else "L")  # scale 16-bit
        if image.size != (self.image_size, self.image_size):
            raise ValueError(
                f"sample {key} is {image.size[0]}x{image.size[1]}, the model needs {self.image_size}"
            )
        pixels = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy())
        chw = pixels[None] if self.channels == 1 else rearrange(pixels, "h w c -> c h w")  # (C, S, S)
        return chw, label


class ShardBatches:
    """This rank's batches from a `ShardStream` through a `DataLoader`, remembering what was consumed."""

    def __init__(self, stream: ShardStream, batch_size: int, workers: int) -> None:
        self.stream = stream
        self.positions: dict[int, Position] = dict(stream.positions)
        self.last_keys: list[str] = []
        self.consumed = 0  # batches taken since this loader started
        loader = DataLoader(stream, batch_size=batch_size, num_workers=workers, collate_fn=_collate,
                            persistent_workers=workers > 0)  # fmt: skip
        self._batches = iter(loader)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(uint8 images (b, C, S, S), int64 labels (b,)); a batch comes from one worker (one slot)."""
        images, labels, keys, slot, epoch, shard, read = next(self._batches)
        self.positions[slot] = (epoch, shard, read)  # the last sample of the batch is the newest
        self.last_keys = keys
        self.consumed += 1
        return images, labels

    def state(self) -> dict[str, Any]:
        """What a checkpoint needs to resume this rank's slots exactly."""
        turn = (self.stream.turn + self.consumed) % self.stream.slots_per_rank
        return {"num_slots": self.stream.num_slots, "rank": self.stream.rank, "turn": turn,
                "positions": {s: list(p) for s, p in self.positions.items()}}  # fmt: skip


def _collate(samples: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    images, labels, keys, slots, epochs, shards, reads = zip(*samples, strict=True)
    assert len(set(slots)) == 1, "a DataLoader batch comes from one worker"
    return (torch.stack(images), torch.tensor(labels, dtype=torch.int64), list(keys), slots[-1],
            epochs[-1], shards[-1], reads[-1])  # fmt: skip


def restore(stream: ShardStream, states: list[dict[str, Any]]) -> None:
    """Set `stream` to continue where the ranks' saved loader states left off."""
    stream.positions = positions_from_state(states, stream.num_slots)
    same_layout = all(int(state["num_slots"]) == stream.num_slots for state in states)
    turns = [int(state.get("turn", 0)) for state in states if int(state.get("rank", -1)) == stream.rank]
    stream.turn = turns[0] if same_layout and turns else 0


def positions_from_state(states: list[dict[str, Any]], num_slots: int) -> dict[int, Position]:
    """Merge the ranks' saved states into slot -> position; a different layout restarts its epoch."""
    merged: dict[int, Position] = {}
    for state in states:
        if int(state["num_slots"]) != num_slots:
            epoch = min((int(p[0]) for s in states for p in s["positions"].values()), default=0)
            warnings.warn(
                f"the checkpoint's data position is for {state['num_slots']} loader slots, this run has "
                f"{num_slots}: restarting epoch {epoch} (some samples of it are seen again)",
                stacklevel=2,
            )
            return {slot: (epoch, 0, 0) for slot in range(num_slots)}
        merged.update({int(s): (int(p[0]), int(p[1]), int(p[2])) for s, p in state["positions"].items()})
    return merged
