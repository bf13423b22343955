"""Training under a wall-clock budget for `quality_per_compute.py`: every model gets the same seconds.

Only the training steps are timed (batch, forward, backward, optimizer, EMA); evaluations pause
the clock. The models train in turns of `slice_seconds` each (A B C A B C ...), as `bench.py`
interleaves its timings: on a shared machine a slow phase then slows every model a little
instead of one model a lot. A model stops at the first step boundary at or past its budget.

The learning rate follows the budget, not a step count (unknown in advance): linear warm-up over
the first `warmup_steps` steps, times the first fraction r of a cosine over the budget's seconds
(rin's `cosine@r`, with the budget standing in for the step count).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rin.training.ema import EMA
from rin.training.loop import step_seed
from rin.training.optim import set_learning_rate

Clock = Callable[[], float]
Batch = Callable[[int], tuple[torch.Tensor, torch.Tensor]]  # step -> (x0 in [-b, b], labels)
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x0, labels) -> scalar loss


@dataclass
class Trainee:
    """One model in training: its loss, optimiser, EMA and schedule, and what it has used so far."""

    name: str
    model: nn.Module
    loss: LossFn
    optimizer: torch.optim.Optimizer
    ema: EMA
    lr: float  # peak learning rate
    warmup_steps: int
    cosine_fraction: float = 0.8  # r of `cosine@r`; 0 keeps the peak LR after warm-up
    steps: int = 0
    images: int = 0
    seconds: float = 0.0  # timed training seconds so far
    last_loss: float = math.nan
    diverged: bool = False  # a non-finite loss stopped its training


def budget_learning_rate(trainee: Trainee, budget: float) -> float:
    """Peak LR x warm-up ramp (step / warmup_steps, capped at 1) x cosine over the budget's seconds."""
    ramp = min(1.0, trainee.steps / trainee.warmup_steps) if trainee.warmup_steps > 0 else 1.0
    progress = min(trainee.seconds / budget, 1.0)
    return trainee.lr * ramp * 0.5 * (1.0 + math.cos(math.pi * trainee.cosine_fraction * progress))


def train_until(trainee: Trainee, until: float, budget: float, batch: Batch, seed: int, clock: Clock) -> None:
    """Take steps until the trainee's timed seconds reach `until` (or its loss stops being finite).

    Each step seeds the global RNG from (seed, step), as rin's training loop does, so a model's
    noise draws do not depend on which other models trained in between.
    """
    model = trainee.model
    model.train()
    while trainee.seconds < until and not trainee.diverged:
        start = clock()
        torch.manual_seed(step_seed(seed, trainee.steps))
        x0, labels = batch(trainee.steps)
        set_learning_rate(trainee.optimizer, budget_learning_rate(trainee, budget))
        trainee.optimizer.zero_grad(set_to_none=True)
        loss = trainee.loss(x0, labels)
        loss.backward()
        trainee.last_loss = loss.item()
        if math.isfinite(trainee.last_loss):
            trainee.optimizer.step()
            trainee.ema.update(model)
        else:
            trainee.diverged = True
        trainee.steps += 1
        trainee.images += x0.shape[0]
        trainee.seconds += clock() - start


def warm_up(trainee: Trainee, batch: Batch) -> None:
    """One untimed forward and backward (no update): one-time allocations and kernel set-up
    would otherwise be charged to the first timed step."""
    with torch.random.fork_rng(devices=[]):
        x0, labels = batch(0)
        trainee.model.train()
        trainee.loss(x0, labels).backward()
    trainee.optimizer.zero_grad(set_to_none=True)


def evaluation_points(fractions: Sequence[float], budget: float) -> list[float]:
    """Sorted distinct seconds at which to evaluate; the end of the budget is always one of them."""
    if budget <= 0:
        raise ValueError(f"the budget must be positive, got {budget} s")
    bad = [f for f in fractions if not 0.0 < f <= 1.0]
    if bad:
        raise ValueError(f"evaluation fractions must lie in (0, 1], got {bad}")
    return sorted({round(f * budget, 6) for f in fractions} | {budget})


def run_budget(
    trainees: Sequence[Trainee],
    budget: float,
    fractions: Sequence[float],
    batch: Batch,
    evaluate: Callable[[Trainee, float], None],
    seed: int = 0,
    slice_seconds: float = 10.0,
    clock: Clock = time.perf_counter,
) -> None:
    """Train every trainee for `budget` timed seconds in turns; call `evaluate(trainee, fraction)`
    as each one passes each evaluation point (and once more, then stop, if it diverges)."""
    if slice_seconds <= 0:
        raise ValueError(f"slice_seconds must be positive, got {slice_seconds}")
    points = evaluation_points(fractions, budget)
    for trainee in trainees:
        warm_up(trainee, batch)
    pending = {id(t): list(points) for t in trainees}
    active = list(trainees)
    while active:
        for trainee in list(active):
            due = pending[id(trainee)]
            train_until(trainee, min(trainee.seconds + slice_seconds, due[0]), budget, batch, seed, clock)
            if trainee.seconds >= due[0] or trainee.diverged:
                evaluate(trainee, due.pop(0) / budget)
                if not due or trainee.diverged:
                    active.remove(trainee)
