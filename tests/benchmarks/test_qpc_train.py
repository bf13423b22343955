"""Tests of the quality-per-compute budget logic (benchmarks/qpc_train.py), on a fake clock."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from qpc_train import Trainee, budget_learning_rate, evaluation_points, run_budget  # noqa: E402

from rin.training.ema import EMA  # noqa: E402


class FakeClock:
    """A clock that only moves when a training step says so: each step 'takes' `cost` seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_trainee(
    name: str, clock: FakeClock, cost: float, log: list[str], loss_value: float = 1.0
) -> Trainee:
    model = nn.Linear(4, 1)

    def loss(x0: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        clock.now += cost
        log.append(name)
        return model(x0.flatten(1)).mean() * 0.0 + loss_value  # (B, 4) inputs; a constant loss

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return Trainee(name, model, loss, optimizer, EMA(model, 0.9), lr=0.1, warmup_steps=2)


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(3, 1, 2, 2), torch.zeros(3, dtype=torch.long)


def run(trainees, budget, fractions, clock, slice_seconds=2.0):
    evaluated: list[tuple[str, float, int, float]] = []

    def evaluate(trainee: Trainee, fraction: float) -> None:
        evaluated.append((trainee.name, fraction, trainee.steps, trainee.seconds))

    run_budget(trainees, budget, fractions, batch, evaluate, slice_seconds=slice_seconds, clock=clock)
    return evaluated


def test_training_stops_at_the_first_step_boundary_past_the_budget():
    """Each model trains until its timed seconds reach the budget, and not one step more."""
    clock, log = FakeClock(), []
    fast, slow = make_trainee("fast", clock, 1.0, log), make_trainee("slow", clock, 3.0, log)
    run([fast, slow], budget=10.0, fractions=[1.0], clock=clock)
    assert (fast.steps, fast.seconds) == (10, 10.0)
    assert (slow.steps, slow.seconds) == (4, 12.0)  # 9 s < 10 s, so a 4th step; then 12 s >= 10 s
    assert fast.images == 30 and slow.images == 12


def test_evaluations_come_at_each_fraction_of_the_budget():
    """Every model is evaluated once per point, right after the step that passes it."""
    clock, log = FakeClock(), []
    fast, slow = make_trainee("fast", clock, 1.0, log), make_trainee("slow", clock, 3.0, log)
    evaluated = run([fast, slow], budget=10.0, fractions=[0.25, 0.5], clock=clock)
    assert [e[:3] for e in evaluated if e[0] == "fast"] == [
        ("fast", 0.25, 3),
        ("fast", 0.5, 5),
        ("fast", 1.0, 10),
    ]
    assert [e[:3] for e in evaluated if e[0] == "slow"] == [
        ("slow", 0.25, 1),
        ("slow", 0.5, 2),
        ("slow", 1.0, 4),
    ]


def test_evaluation_time_is_not_charged_to_training():
    """Time spent in evaluate (here: the clock jumping ahead) does not count against the budget."""
    clock, log = FakeClock(), []
    model = make_trainee("a", clock, 1.0, log)

    def evaluate(trainee: Trainee, fraction: float) -> None:
        clock.now += 100.0

    run_budget([model], 6.0, [0.5], batch, evaluate, slice_seconds=2.0, clock=clock)
    assert (model.steps, model.seconds) == (6, 6.0)


def test_models_take_turns_of_one_slice():
    """Training alternates between models in slices, so no model runs its whole budget alone."""
    clock, log = FakeClock(), []
    run([make_trainee("a", clock, 1.0, log), make_trainee("b", clock, 1.0, log)], 6.0, [1.0], clock)
    # one entry per loss call; the first of each model is its untimed warm-up
    assert log == ["a", "b"] + ["a", "a", "b", "b"] * 3


def test_a_diverged_model_stops_and_is_evaluated_once():
    """A non-finite loss stops that model without updating its weights; the others go on."""
    clock, log = FakeClock(), []
    bad, good = make_trainee("bad", clock, 1.0, log, math.nan), make_trainee("good", clock, 1.0, log)
    before = [p.clone() for p in bad.model.parameters()]
    evaluated = run([bad, good], 4.0, [0.5], clock)
    assert bad.diverged and bad.steps == 1
    assert [e[0] for e in evaluated].count("bad") == 1
    assert all(torch.equal(a, b) for a, b in zip(before, bad.model.parameters(), strict=True))
    assert good.steps == 4


def test_evaluation_points_always_include_the_budget():
    """Points are sorted seconds, duplicates merged, the full budget added; bad fractions refused."""
    assert evaluation_points([0.5, 0.25, 0.5], 100.0) == [25.0, 50.0, 100.0]
    assert evaluation_points([1.0], 10.0) == [10.0]
    with pytest.raises(ValueError):
        evaluation_points([0.0], 10.0)
    with pytest.raises(ValueError):
        evaluation_points([1.5], 10.0)


def test_learning_rate_warms_up_then_follows_a_cosine_over_the_budget():
    """0 at step 0, the peak after warm-up at the start, lr (1 + cos(pi r)) / 2 at the budget's end."""
    trainee = make_trainee("a", FakeClock(), 1.0, [])
    assert budget_learning_rate(trainee, 10.0) == 0.0
    trainee.steps = 5
    assert budget_learning_rate(trainee, 10.0) == pytest.approx(0.1)
    trainee.seconds = 10.0
    assert budget_learning_rate(trainee, 10.0) == pytest.approx(0.1 * (1 + math.cos(math.pi * 0.8)) / 2)
