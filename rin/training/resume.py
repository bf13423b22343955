"""Resume: model, EMA, optimizer and step from a full (safetensors) or sharded (DCP) checkpoint.

Either kind resumes on any number of processes, with or without `--shard`: full checkpoints hold
whole tensors, and DCP reshards a sharded one to the layout of the modules it is loaded into.

Resuming a run directory, a checkpoint whose files match its manifest but still fail to load (a
truncated shard under a re-signed manifest) is skipped with a warning in favour of the one
before, as a checkpoint that fails its checksums is.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import torch

from rin.checkpoints.files import (
    find_checkpoint,
    is_complete,
    list_checkpoints,
    load_config,
    load_state,
    load_weights,
)
from rin.checkpoints.sharded import is_sharded
from rin.configs.experiment import ExperimentConfig
from rin.errors import CheckpointError
from rin.model import RIN
from rin.training.ema import EMA
from rin.training.optim import build_optimizer
from rin.training.rng import seed_rng
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
    _check_model(checkpoint, config)  # the run's own config: an older checkpoint would not fit either
    candidates = [checkpoint, *_older(Path(resume), checkpoint)]
    for index, candidate in enumerate(candidates):
        try:
            return _resume_from(candidate, model, ema, optimizer, config, sharded)
        except CheckpointError as error:
            if index + 1 == len(candidates):
                raise
            warnings.warn(
                f"skipping checkpoint {candidate} that does not load ({error}); "
                f"trying {candidates[index + 1].name}",
                stacklevel=2,
            )
    raise AssertionError("unreachable")  # the loop returns or raises


def _older(resume: Path, checkpoint: Path) -> list[Path]:
    """Complete, verified checkpoints of the run older than `checkpoint`, newest first (none when
    a checkpoint directory was named: the user chose that one)."""
    if checkpoint == resume:
        return []
    older = [p for p in list_checkpoints(resume) if p.name < checkpoint.name]
    return [p for p in reversed(older) if is_complete(p, verify_hashes=True)]


def _resume_from(
    checkpoint: Path,
    model: RIN,
    ema: EMA,
    optimizer: torch.optim.Optimizer,
    config: ExperimentConfig,
    sharded: bool,
) -> tuple[int, dict[str, Any]]:
    """Load one checkpoint into the modules (each load replaces all of them, so a failed one leaves
    nothing behind once another succeeds)."""
    state = load_state(checkpoint)
    if is_sharded(checkpoint):
        load_sharded_checkpoint(checkpoint, model, ema.model, optimizer)
    elif sharded:  # a full checkpoint into sharded modules: load it unsharded, then scatter
        seed_rng(config.train.seed, torch.device("cpu"))  # built on the CPU, as train() builds it
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
