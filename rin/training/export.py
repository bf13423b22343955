"""`export_pretrained`: a training checkpoint (full or sharded) -> a pretrained folder.

Training owns checkpoints and the model owns pretrained folders (`rin.model.pretrained`), so the
glue between them lives here: the model layer must not import training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rin.checkpoints import find_checkpoint, load_checkpoint_weights, load_config, load_state
from rin.errors import RinError
from rin.model import RIN
from rin.model.pretrained import save_pretrained


def export_pretrained(checkpoint: str | Path, out_dir: str | Path, weights: str = "ema") -> Path:
    """Write the EMA (default) or online weights of a run's newest (or the given) checkpoint.

    Args:
        checkpoint: a run directory (its newest complete checkpoint) or a checkpoint directory.
        out_dir: the pretrained folder to write (model.safetensors, config.json, README.md).
        weights: "ema" (what sampling uses) or "model" / "online" (the raw optimised weights).
    """
    if weights not in ("ema", "model", "online"):
        raise RinError(f"weights must be ema or online, got {weights!r}")
    which: Literal["ema", "model"] = "ema" if weights == "ema" else "model"
    found = find_checkpoint(checkpoint, verify=True)
    config = load_config(found)
    model = RIN(config.model)
    load_checkpoint_weights(model, found, which)  # safetensors, or DCP shards of a --shard run
    step = int(load_state(found)["step"])
    return save_pretrained(model, out_dir, config, weights="ema" if which == "ema" else "online", step=step)
