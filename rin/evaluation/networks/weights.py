"""Where the evaluation networks keep their weights, and the checks their loaders share."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from rin.errors import EvaluationError


def default_cache_dir() -> Path:
    """`$RIN_CACHE` if set, else `~/.cache/rin`."""
    configured = os.environ.get("RIN_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "rin"


def checked_state_dict(state: object, model: nn.Module, path: Path, what: str) -> dict[str, torch.Tensor]:
    """The tensors of `state` once every name, shape and dtype matches `model`; else name the first misfit.

    `what` names the expected weights in the messages, e.g. "the I3D weights".
    """
    if not isinstance(state, Mapping):
        raise EvaluationError(f"{path} holds a {type(state).__name__}, not a state dict of {what}")
    checked: dict[str, torch.Tensor] = {}
    for name, expected in model.state_dict().items():
        value = state.get(name)
        if value is None and name.endswith("num_batches_tracked"):
            value = expected  # training-only counter, absent from files saved by old torch versions
        if not isinstance(value, torch.Tensor):
            raise EvaluationError(f"{path} is not {what}: tensor {name!r} is missing")
        if value.shape != expected.shape:
            raise EvaluationError(
                f"{path} is not {what}: tensor {name!r} has shape {tuple(value.shape)}, "
                f"expected {tuple(expected.shape)}"
            )
        if value.is_floating_point() != expected.is_floating_point():
            raise EvaluationError(f"{path} is not {what}: {name!r} is {value.dtype}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise EvaluationError(f"{path} is corrupt: tensor {name!r} holds NaN or infinite values")
        checked[name] = value
    unexpected = [name for name in state if name not in checked]
    if unexpected:
        raise EvaluationError(f"{path} is not {what}: unexpected tensor {unexpected[0]!r}")
    return checked
