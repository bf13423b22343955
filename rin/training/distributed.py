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
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rin.errors import TrainingError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched_world() -> World:
    """The rank layout torchrun put in the environment (world size 1 without a launcher)."""
    return World(
        rank=int(os.environ.get("RANK", "0")),
        size=int(os.environ.get("WORLD_SIZE", "1")),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def init_world(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group if launched with several processes; returns the world and this rank's device."""
    world = launched_world()
    if not world.distributed:
        return world, device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return world, device


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


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def broadcast_flag(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank if any rank's flag is set (e.g. a stop signal reached one process)."""
    if not world.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process: allocated GPU memory on CUDA, max resident set size on CPU."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    import resource  # POSIX only; CPU runs here are Linux

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def shutdown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
