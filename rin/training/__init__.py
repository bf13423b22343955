"""Training: optimisers, LR schedule, EMA, checkpoints and the loop."""

from rin.checkpoints import find_checkpoint, load_config, load_state, load_weights
from rin.training.checkpoint import save_checkpoint
from rin.training.ema import EMA
from rin.training.loop import TrainResult, train
from rin.training.optim import Lamb, build_optimizer, learning_rate

__all__ = [
    "EMA",
    "Lamb",
    "TrainResult",
    "build_optimizer",
    "find_checkpoint",
    "learning_rate",
    "load_config",
    "load_state",
    "load_weights",
    "save_checkpoint",
    "train",
]
