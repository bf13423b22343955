"""Reading the weights of a sharded checkpoint (`torch.distributed.checkpoint`, written by `--shard`).

Its weights live in `dcp/`, keyed {"model", "ema", "optimizer"} by parameter name; DCP reshards on
load, so one process without a process group reads them into a plain module.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.api import CheckpointException

from rin.errors import CheckpointError, first_line

DCP_DIR = "dcp"


def is_sharded(checkpoint: Path) -> bool:
    """True for a checkpoint whose weights are DCP files (written with `--shard`)."""
    return (checkpoint / DCP_DIR).is_dir()


def dcp_load(state: dict[str, Any], checkpoint: Path) -> None:
    """Fill `state` in place from the checkpoint's DCP files; any failure is a `CheckpointError`."""
    try:
        with warnings.catch_warnings():  # without a process group DCP warns that it loads in one process
            warnings.filterwarnings("ignore", message=".*assuming the intent is to load in a single process")
            dcp.load(state, checkpoint_id=str(checkpoint / DCP_DIR))
    # DCP wraps reader failures in several types; its CheckpointException (a truncated shard)
    # derives from BaseException, so `except Exception` alone lets it through as a traceback
    except (Exception, CheckpointException) as error:  # noqa: BLE001
        first = _first_line(error)
        raise CheckpointError(
            f"{checkpoint / DCP_DIR} is not a loadable sharded checkpoint: {first}"
        ) from None


def _first_line(error: BaseException) -> str:
    """One line for a DCP failure: the first rank's own error rather than a multi-rank traceback."""
    if isinstance(error, CheckpointException) and error.failures:
        rank, (cause, _) = min(error.failures.items())
        text = str(cause).strip().splitlines()
        return f"rank {rank}: {type(cause).__name__}" + (f": {text[0]}" if text else "")
    return first_line(error)


def load_sharded_weights(module: nn.Module, checkpoint: Path, which: str) -> None:
    """Load the "model" or "ema" weights of a DCP checkpoint into a plain module (for sampling)."""
    if which not in ("model", "ema"):
        raise CheckpointError(f"a sharded checkpoint holds 'model' and 'ema' weights, not {which!r}")
    state = {which: module.state_dict()}
    dcp_load(state, checkpoint)
    module.load_state_dict(state[which])
