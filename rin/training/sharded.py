"""FSDP2 (`fully_shard`) for the large presets, and sharded checkpoints with `torch.distributed.checkpoint`.

With `train.shard` (`rin train --shard`) and more than one process, every RIN block and then the
root module are wrapped with `fully_shard` (torchtitan's per-block recipe): parameters, gradients
and optimizer moments become DTensors sharded on dim 0 over all ranks, gathered block by block
for each forward. The EMA copy is sharded the same way, so `EMA.update` lerps local shards only.

A sharded checkpoint is a checkpoint directory (same name, manifest and verification as a full
one) whose weights live in `dcp/`, written by all ranks with `torch.distributed.checkpoint` (DCP):
    dcp/                DCP files: {"model", "ema", "optimizer"}, keyed by parameter name
    state.pt            step, RNG state, "layout": "sharded" (rank 0; weights_only loading)
    config.json         the resolved ExperimentConfig
    manifest.json       sizes and SHA-256 of every file above, written last by rank 0
All ranks write into one temporary directory (on a file system all ranks share), meet at a
barrier, then rank 0 writes the manifest and renames it into place. DCP reshards on load, so
such a checkpoint resumes on any number of processes, with or without `--shard`, and
`rin sample` reads its EMA weights directly.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from rin.checkpoints.files import FORMAT_VERSION, load_config
from rin.checkpoints.sharded import DCP_DIR, dcp_load, load_sharded_weights
from rin.configs.experiment import ExperimentConfig
from rin.configs.overrides import config_to_json
from rin.errors import CheckpointError
from rin.model import RIN
from rin.runtime.distributed import World, barrier
from rin.training.checkpoint import _fsync_dir, write_error_reason, write_manifest


def shard_model(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """`fully_shard` each RIN block, then the root (embeddings, latents, readout); in place."""
    mesh = init_device_mesh(device.type, (world.size,))
    for block in getattr(model, "blocks", []):
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def save_sharded_checkpoint(
    run_dir: Path,
    step: int,
    model: nn.Module,
    ema: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: ExperimentConfig,
    world: World,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `run_dir/checkpoints/step_XXXXXXXX` from all ranks, atomically; every rank calls this."""
    root = run_dir / "checkpoints"
    final = root / f"step_{step:08d}"
    owner = [os.getpid()]
    dist.broadcast_object_list(owner, src=0)  # one temporary name for all ranks: rank 0's pid
    tmp = root / f".tmp-step_{step:08d}-{owner[0]}"
    if world.is_main:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    barrier(world)
    model_state, optimizer_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "ema": get_model_state_dict(ema), "optimizer": optimizer_state}
    dcp.save(state, checkpoint_id=str(tmp / DCP_DIR))
    barrier(world)
    failure = [""]
    if world.is_main:
        try:
            _commit(tmp, final, root, step, config, extra or {})
        except (OSError, RuntimeError) as error:  # RuntimeError: torch.save on a full disk
            shutil.rmtree(tmp, ignore_errors=True)
            failure[0] = f"could not write checkpoint step {step} under {root}: {write_error_reason(error)}"
    dist.broadcast_object_list(failure, src=0)  # every rank stops on a failed write, not just rank 0
    if failure[0]:
        raise CheckpointError(failure[0])
    return final


def _commit(tmp: Path, final: Path, root: Path, step: int, config: ExperimentConfig, extra: dict) -> None:
    """Rank 0: training state, config and manifest into `tmp`, fsync, rename to `final`."""
    state = {"format_version": FORMAT_VERSION, "step": step, "layout": "sharded",
             "torch_rng": torch.get_rng_state(), "extra": extra}  # fmt: skip
    torch.save(state, tmp / "state.pt")
    (tmp / "config.json").write_text(config_to_json(config))
    files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
    write_manifest(tmp, files, step, layout="sharded")
    _fsync_dir(tmp / DCP_DIR)
    _fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)


def load_sharded_checkpoint(
    checkpoint: Path, model: nn.Module, ema: nn.Module, optimizer: torch.optim.Optimizer
) -> None:
    """Load model, EMA and optimizer from a DCP checkpoint into sharded or plain modules (DCP reshards)."""
    model_state, optimizer_state = get_state_dict(model, optimizer)
    state: dict[str, Any] = {
        "model": model_state,
        "ema": get_model_state_dict(ema),
        "optimizer": optimizer_state,
    }
    dcp_load(state, checkpoint)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
    set_model_state_dict(ema, state["ema"])


def load_full_into_sharded(
    model: nn.Module,
    ema: nn.Module,
    optimizer: torch.optim.Optimizer,
    plain_model: nn.Module,
    plain_ema: nn.Module,
    plain_optimizer: torch.optim.Optimizer,
) -> None:
    """Copy unsharded modules (loaded from a full checkpoint) into their sharded twins on every rank."""
    full = StateDictOptions(full_state_dict=True)
    model_state, optimizer_state = get_state_dict(plain_model, plain_optimizer)
    set_state_dict(
        model, optimizer, model_state_dict=model_state, optim_state_dict=optimizer_state, options=full
    )
    set_model_state_dict(ema, plain_ema.state_dict(), options=full)


def export_weights(checkpoint: Path, out_dir: Path) -> list[Path]:
    """Write a DCP checkpoint's weights as `model.safetensors` and `ema.safetensors` under `out_dir`."""
    from safetensors.torch import save_file

    config = load_config(checkpoint)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for which in ("model", "ema"):
        module = RIN(config.model)
        load_sharded_weights(module, checkpoint, which)
        tensors = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        save_file(tensors, str(out_dir / f"{which}.safetensors"), metadata={"format": "rin"})
        written.append(out_dir / f"{which}.safetensors")
    return written


__all__ = [
    "export_weights",
    "load_full_into_sharded",
    "load_sharded_checkpoint",
    "save_sharded_checkpoint",
    "shard_model",
]
