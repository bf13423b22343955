"""Resume: model, EMA, optimizer and step from a full (safetensors) or sharded (DCP) checkpoint.

Either kind resumes on any number of processes, with or without `--shard`: full checkpoints hold
whole tensors, and DCP reshards a sharded one to the layout of the modules it is loaded into.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from rin.checkpoints.files import find_checkpoint, load_config, load_state, load_weights
from rin.checkpoints.sharded import is_sharded
from rin.configs.experiment import ExperimentConfig
from rin.errors import CheckpointError
from rin.model import RIN
from rin.training.ema import EMA
from rin.training.optim import build_optimizer
from rin.training.sharded import load_full_into_sharded, load_sharded_checkpoint


def resume_training(
    resume: str | Path,
    run_dir: Path,
    model: RIN,
    ema: EMA,
    optimizer: torch.optim.Optimizer,
    config: ExperimentConfig,
    sharded: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Load weights, EMA, optimizer and step; returns the step to continue from and the saved `extra`.

    `sharded`: `model`, `ema.model` and `optimizer` hold FSDP2 DTensors (every rank calls this).
    """
    if str(resume) == "auto":
        # nothing usable yet (a fresh run, or killed before its first checkpoint completed): start
        if not any((run_dir / "checkpoints").glob("step_*")):
            return 0, {}
        resume = run_dir
    checkpoint = find_checkpoint(resume, verify=True)
    _check_model(checkpoint, config)
    state = load_state(checkpoint)
    if is_sharded(checkpoint):
        load_sharded_checkpoint(checkpoint, model, ema.model, optimizer)
    elif sharded:  # a full checkpoint into sharded modules: load it unsharded, then scatter
        torch.manual_seed(config.train.seed)
        plain = RIN(config.model)
        plain_ema = EMA(plain, config.train.ema_decay)
        plain_optimizer = build_optimizer(plain, config.train)
        _load_full(checkpoint, plain, plain_ema, plain_optimizer, state)
        load_full_into_sharded(model, ema.model, optimizer, plain, plain_ema.model, plain_optimizer)
    else:
        _load_full(checkpoint, model, ema, optimizer, state)
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"]), dict(state.get("extra") or {})


def _check_model(checkpoint: Path, config: ExperimentConfig) -> None:
    saved = load_config(checkpoint).model
    if saved != config.model:
        name = next(
            f.name
            for f in dataclasses.fields(saved)
            if getattr(saved, f.name) != getattr(config.model, f.name)
        )
        raise CheckpointError(
            f"{checkpoint} was trained with model.{name}={getattr(saved, name)!r}, "
            f"this run has model.{name}={getattr(config.model, name)!r}"
        )


def _load_full(checkpoint: Path, model: RIN, ema: EMA, optimizer: torch.optim.Optimizer, state: dict) -> None:
    load_weights(model, checkpoint / "model.safetensors")
    load_weights(ema.model, checkpoint / "ema.safetensors")
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError) as error:
        raise CheckpointError(f"{checkpoint}: optimizer state does not fit this model: {error}") from None
