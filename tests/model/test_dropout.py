"""Tests for rin.model.dropout: the CPU dropout mask is i.i.d. Bernoulli with the quantised rate."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from rin.model.dropout import Dropout, keep_mask, quantised_rate


def test_quantised_rate_is_within_half_a_level() -> None:
    """The realised drop rate differs from the asked one by at most 2^-17."""
    for rate in (0.0, 0.1, 0.25, 0.3333, 0.9, 1.0):
        assert abs(quantised_rate(rate) - rate) <= 2**-17
    assert quantised_rate(0.1) == 6554 / 65536


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_mask_frequency_matches_rate_in_every_lane(rate: float) -> None:
    """Each of the three 16-bit lanes of a draw, and the mask overall, drops at the quantised rate."""
    torch.manual_seed(0)
    n = 3 * 200_000
    keep = keep_mask((n,), rate)
    p = quantised_rate(rate)
    for lane in range(3):
        dropped = 1.0 - keep[lane::3].float().mean().item()
        assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / (n // 3))
    # neighbouring elements are uncorrelated (they share a draw within a lane triple)
    a, b = keep[:-1].float(), keep[1:].float()
    corr = ((a - a.mean()) * (b - b.mean())).mean() / (a.std() * b.std())
    assert abs(corr.item()) < 5 / math.sqrt(n)


def test_mask_has_the_requested_shape_for_sizes_not_divisible_by_three() -> None:
    """Odd shapes get a mask of exactly that shape."""
    assert keep_mask((7, 5), 0.1).shape == (7, 5)
    assert keep_mask((1,), 0.1).shape == (1,)


def test_forward_scales_kept_values_and_zeroes_the_rest() -> None:
    """Training mode: kept entries are x / (1 - p_q), dropped ones 0; the mean is preserved."""
    torch.manual_seed(1)
    layer = Dropout(0.1).train()
    x = torch.rand(400, 500) + 0.5
    y = layer(x)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - quantised_rate(0.1)))
    assert abs(y.mean().item() / x.mean().item() - 1.0) < 0.01


def test_gradient_is_the_scaled_mask() -> None:
    """The input gradient is 1 / (1 - p_q) where kept and 0 where dropped."""
    torch.manual_seed(2)
    x = torch.randn(64, 33, requires_grad=True)
    y = Dropout(0.3).train()(x)
    y.sum().backward()
    assert x.grad is not None
    expected = (y != 0).float() / (1 - quantised_rate(0.3))
    torch.testing.assert_close(x.grad, expected)


def test_eval_mode_and_zero_rate_are_identity_and_rate_one_zeroes() -> None:
    """No dropout in eval mode or at rate 0; rate 1 drops everything."""
    x = torch.randn(8, 16)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))


def test_same_seed_gives_the_same_mask() -> None:
    """Masks come from the global generator, so a seeded step is reproducible."""
    x = torch.randn(32, 64)
    layer = Dropout(0.1).train()
    torch.manual_seed(3)
    first = layer(x)
    torch.manual_seed(3)
    assert torch.equal(layer(x), first)


def test_rates_that_round_to_zero_still_drop() -> None:
    """A rate below half a quantisation level is not silently turned off (F.dropout takes it)."""
    torch.manual_seed(4)
    y = Dropout(2**-18).train()(torch.ones(1 << 22))
    assert 0 < int((y == 0).sum()) < 100  # expected 16


def test_rejects_rates_outside_the_unit_interval() -> None:
    """A negative or >1 rate is a one-line ValueError."""
    with pytest.raises(ValueError, match="dropout rate"):
        Dropout(1.5)


def test_mask_is_the_one_compare_mask_of_the_same_draws() -> None:
    """The per-lane compares give the mask of comparing the (n/3, 3) lane view at once."""
    torch.manual_seed(3)
    mask = keep_mask((5, 7, 11), 0.1)
    torch.manual_seed(3)
    draws = torch.empty((385 + 2) // 3, dtype=torch.int64).random_()
    start = 0 if sys.byteorder == "little" else 1
    lanes = draws.view(torch.int16).view(-1, 4)[:, start : start + 3]
    expected = (lanes >= round(0.1 * 65536) - 32768).reshape(-1)[:385].view(5, 7, 11)
    assert torch.equal(mask, expected)
    assert 0 < int((~mask).sum()) < 385  # some dropped, not all
