"""Processes on PyTorch's own engine: torchrun + a process group (gloo / NCCL), or one process.

Without torchrun's environment every command is world size 1 and takes the same code path. Under
`torchrun --nproc-per-node K -m rin ...` each process joins the process group (NCCL on GPUs, gloo
on CPU); rank 0 alone writes files. Training adds its batch arithmetic in `rin.training.distributed`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from rin.errors import RinError


def resolve_device(name: str | None = None) -> torch.device:
    """`--device`: None or "auto" is the GPU when there is one, else the CPU."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RinError(f"--device {name}: CUDA is not available on this machine")
    return device


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
