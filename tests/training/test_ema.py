"""Tests of the EMA of weights."""

from __future__ import annotations

import torch

from rin.training import EMA


def test_decay_zero_copies_and_decay_one_freezes():
    """decay 0 makes the EMA equal to the model; decay 1 leaves it unchanged."""
    model = torch.nn.Linear(3, 2)
    copy_ema, frozen_ema = EMA(model, 0.0), EMA(model, 1.0)
    start = frozen_ema.model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    copy_ema.update(model)
    frozen_ema.update(model)
    torch.testing.assert_close(copy_ema.model.weight, model.weight)
    torch.testing.assert_close(frozen_ema.model.weight, start)


def test_decay_mixes_with_the_right_weight():
    """ema <- d ema + (1 - d) w."""
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, 0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert abs(ema.model.weight.item() - 0.1) < 1e-7
