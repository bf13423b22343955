"""`load_model`: the one way every command turns a checkpoint, full or sharded, into a model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from torch import nn

from rin.checkpoints.files import find_checkpoint, load_config, load_weights
from rin.checkpoints.sharded import is_sharded, load_sharded_weights
from rin.configs.experiment import ExperimentConfig
from rin.model import RIN

Weights = Literal["ema", "model"]  # "model" is the online (non-EMA) copy


def load_checkpoint_weights(module: nn.Module, checkpoint: Path, which: Weights) -> None:
    """The "model" or "ema" weights of a full or a sharded checkpoint, into a plain module."""
    if is_sharded(checkpoint):
        load_sharded_weights(module, checkpoint, which)
    else:
        load_weights(module, checkpoint / f"{which}.safetensors")


def load_model(
    checkpoint: str | Path, which: Weights = "ema", *, verify: bool = True
) -> tuple[RIN, ExperimentConfig]:
    """The RIN of a checkpoint (or of a run's newest one) on the CPU in eval mode, and its config.

    Args:
        checkpoint: a checkpoint directory, or a run directory (its newest complete checkpoint).
        which: "ema" (the weights to sample from) or "model" (the online weights).
        verify: check the files' SHA-256 sums against the manifest (sizes are always checked).
    """
    found = find_checkpoint(checkpoint, verify=verify)
    config = load_config(found)
    model = RIN(config.model)
    load_checkpoint_weights(model, found, which)
    return model.eval(), config
