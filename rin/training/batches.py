"""This rank's rows of every global batch, from an in-memory set or from streamed shards.

In memory (mnist, cifar10, folder): every rank holds the whole set and draws the global batch of
`BatchStream` (a pure function of (seed, step)); rank r keeps rows [r B/W, (r+1) B/W). Over an
epoch the ranks' rows are disjoint and cover the set: a deterministic distributed sampler with
no state to save, and 2 ranks see exactly the data 1 process sees.

Streamed (webdataset, and video_webdataset for clips): each rank reads its own shards
(`rin.data.stream`, `rin.data.clip_shards`) and takes grad_accum micro-batches from its loader
per step; the checkpoint stores every rank's loader position so that a resumed run neither
repeats nor skips a sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from rin.configs.experiment import ExperimentConfig
from rin.data import BatchStream, ClipSet, ImageSet, random_flip
from rin.data.clip_shards import CLIP_SHARDS_HINT, ClipShardStream
from rin.data.stream import IMAGE_SHARDS_HINT, ShardBatches, ShardStream, expand_shards, restore
from rin.training.distributed import World, micro_batch_rows

_FLIP_STREAM = 0x0F12  # per-rank flip seeds of streamed batches, apart from BatchStream's


class MemoryBatches:
    """Rank `world.rank`'s rows of `BatchStream.batch(step)`."""

    def __init__(self, data: ImageSet | ClipSet, config: ExperimentConfig, world: World) -> None:
        tc = config.train
        self.stream = BatchStream(data, tc.batch_size, tc.seed, config.data.random_flip)
        self.rows = micro_batch_rows(world, 1, 0, tc.batch_size // world.size)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.stream.batch(step)  # (B, C, H, W) global
        return images[self.rows], labels[self.rows]  # (B / W, C, H, W)

    def state(self) -> dict[str, Any] | None:
        return None  # the position is the step

    def describe(self) -> dict[str, Any]:
        """Fields of the log's "data" event."""
        data = self.stream.data
        return {"examples": len(data), "skipped": data.skipped, "converted": data.converted,
                "skipped_items": data.skipped_items[:100]}  # fmt: skip


class StreamedBatches:
    """grad_accum micro-batches per step from this rank's `ShardBatches`."""

    def __init__(
        self,
        stream: ShardStream,
        config: ExperimentConfig,
        world: World,
        micro: int,
        saved: list[dict] | None,
    ) -> None:
        dc = config.data
        self.shard_count = len(stream.shards)
        if saved:
            restore(stream, saved)
        self.loader = ShardBatches(stream, micro, dc.workers)
        self.accum, self.seed, self.rank, self.flip = (
            config.train.grad_accum,
            config.train.seed,
            world.rank,
            dc.random_flip,
        )
        self.world = world

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [self.loader.next() for _ in range(self.accum)]
        images = torch.cat([p[0] for p in parts])  # (B / W, C, H, W), clips (B / W, F, C, H, W)
        labels = torch.cat([p[1] for p in parts])
        if self.flip:
            state = np.random.SeedSequence((self.seed, step, self.rank, _FLIP_STREAM)).generate_state(
                1, np.uint64
            )
            images = random_flip(images, torch.Generator().manual_seed(int(state[0])))
        return images, labels

    def describe(self) -> dict[str, Any]:
        """Fields of the log's "data" event."""
        return {"shards": self.shard_count, "workers": self.loader.stream.slots_per_rank,
                "loader_slots": self.loader.stream.num_slots}  # fmt: skip

    def state(self) -> list[dict[str, Any]]:
        """Every rank's loader position (a collective call: all ranks must call it)."""
        mine = self.loader.state()
        if not self.world.distributed:
            return [mine]
        states: list[Any] = [None] * self.world.size
        dist.all_gather_object(states, mine)
        return states


def shard_stream(config: ExperimentConfig, world: World) -> ShardStream:
    """This rank's stream of image shards (webdataset) or clip shards (video_webdataset).

    Made before the model, so that missing shards, or clips of another shape, cost one line."""
    dc, mc = config.data, config.model
    clips = dc.dataset == "video_webdataset"
    shards = expand_shards(dc.path, CLIP_SHARDS_HINT if clips else IMAGE_SHARDS_HINT)
    common = (shards, config.train.seed, world.rank, world.size, dc.workers, mc.channels, mc.image_size,
              mc.num_classes)  # fmt: skip
    return ClipShardStream(*common, frames=mc.frames) if clips else ShardStream(*common)
