"""Reading checkpoints, full or sharded, for inference and for resuming (writing is in training)."""

from rin.checkpoints.files import (
    find_checkpoint,
    is_complete,
    list_checkpoints,
    load_config,
    load_state,
    load_weights,
    manifest_digest,
)
from rin.checkpoints.load import load_checkpoint_weights, load_model
from rin.checkpoints.sharded import is_sharded

__all__ = [
    "find_checkpoint",
    "is_complete",
    "is_sharded",
    "list_checkpoints",
    "load_checkpoint_weights",
    "load_config",
    "load_model",
    "load_state",
    "load_weights",
    "manifest_digest",
]
