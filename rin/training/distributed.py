"""Data parallelism on PyTorch's own engine: torchrun + DistributedDataParallel (gloo / NCCL).

`rin train` needs no launcher: without torchrun's environment it is world size 1 and takes the
same code path. Under `torchrun --nproc-per-node K -m rin train ...` each process joins the
process group (NCCL on GPUs, gloo on CPU), wraps the model in DDP, and trains on its slice of
every global batch; rank 0 alone writes checkpoints, grids and the metrics log.

Batch arithmetic: train.batch_size is the GLOBAL batch (the paper's number), split evenly over
world_size ranks and train.grad_accum micro-batches per rank:
    per-device micro-batch = batch_size / (world_size * grad_accum)
so the same config reproduces the paper's batch on any number of devices.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rin.errors import TrainingError
from rin.runtime.distributed import World, barrier, broadcast_flag, init_world, peak_memory_mb


def data_parallel(model: nn.Module, device: torch.device) -> DistributedDataParallel:
    """DDP without the buffer broadcast before every forward: the model's only buffer is a fixed
    sin-cos table, the same on every rank. torch 2.13 renamed `broadcast_buffers` to
    `forward_sync_buffers` and warns about the old name on every rank, so the new name is used
    where it exists."""
    names = inspect.signature(DistributedDataParallel.__init__).parameters
    option = "forward_sync_buffers" if "forward_sync_buffers" in names else "broadcast_buffers"
    options: dict[str, Any] = {option: False, "device_ids": [device] if device.type == "cuda" else None}
    return DistributedDataParallel(model, **options)


def micro_batch_size(batch_size: int, world: World, grad_accum: int) -> int:
    """Per-device micro-batch; the global batch must split evenly (a one-line error otherwise)."""
    parts = world.size * grad_accum
    if batch_size % parts != 0:
        raise TrainingError(
            f"train.batch_size={batch_size} does not split over {world.size} processes x "
            f"train.grad_accum={grad_accum}: make it a multiple of {parts}"
        )
    return batch_size // parts


def micro_batch_rows(world: World, grad_accum: int, index: int, micro: int) -> slice:
    """Rows of the global batch in micro-batch `index` of this rank: rank r owns the r-th
    contiguous block of batch_size / world_size rows, cut into grad_accum micro-batches."""
    first = (world.rank * grad_accum + index) * micro
    return slice(first, first + micro)


# the process helpers, with the batch arithmetic above, are what the training loop imports from here
__all__ = [
    "World",
    "barrier",
    "broadcast_flag",
    "data_parallel",
    "init_world",
    "micro_batch_rows",
    "micro_batch_size",
    "peak_memory_mb",
]
