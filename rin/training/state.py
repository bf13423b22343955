"""What a training run holds between its steps: built once by set-up, read by steps and duties."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from rin.configs.experiment import ExperimentConfig
from rin.model import RIN
from rin.runtime.metrics_log import MetricsLog
from rin.training.batches import MemoryBatches, StreamedBatches
from rin.training.distributed import World
from rin.training.ema import EMA


@dataclass
class TrainingRun:
    """The modules, data and log of one `train` call; the fields after `end` change as it runs."""

    config: ExperimentConfig
    run_dir: Path
    world: World
    device: torch.device
    sharded: bool  # FSDP2 on every rank (train.shard with several processes)
    micro: int  # rows of one micro-batch on one rank
    model: RIN
    ema: EMA
    optimizer: torch.optim.Optimizer
    invariant: list[nn.Parameter]  # attention key biases, whose gradients are zeroed (attention.py)
    net: nn.Module  # what a step calls: `model`, or its DDP wrapper, compiled or not
    batches: MemoryBatches | StreamedBatches
    rows: slice  # this rank's rows of a global batch (of the noise drawn for all of it)
    log: MetricsLog | None  # rank 0 only
    start: int  # the step this call starts from (0, or a resumed checkpoint's)
    end: int  # this call stops after step `end` (train.steps, or sooner with stop_after)
    last_loss: float = math.nan
    checkpoint: Path | None = None  # the newest checkpoint this call wrote
    skipped: int = 0  # updates skipped for a non-finite term, in this call
    in_a_row: int = 0  # of them, how many just now in a row
    tick: float = 0.0  # perf_counter at the last "train" log line, for images per second
    tick_step: int = 0  # the step of that line


@dataclass(frozen=True)
class StepReport:
    """What one step measured, for the progress bar and the log."""

    step: int  # steps done, counting this one
    loss: float  # mean over the global batch
    lr: float
    grad_norm: float  # before clipping
