"""train() leaves a library caller's global RNG as it found it."""

from __future__ import annotations

import pytest
import torch

from rin.configs import apply_overrides
from rin.data import load_mnist
from rin.training import train


def test_train_leaves_the_callers_global_rng_untouched(tiny_config, tmp_path):
    """A caller's torch.rand sequence is the same whether or not train() ran in between."""
    digits = load_mnist("train").subset(list(range(0, 400, 40)))
    config = apply_overrides(tiny_config, ["train.steps=2", "train.num_samples=2", "train.batch_size=4"])
    torch.manual_seed(1234)
    expected = torch.rand(8)
    torch.manual_seed(1234)
    train(config, tmp_path, data=digits, progress=False)
    assert torch.equal(torch.rand(8), expected)


def test_train_restores_the_callers_rng_when_it_fails(tiny_config, tmp_path):
    """A run that raises (here: an on_step callback) also gives the caller its RNG state back."""
    digits = load_mnist("train").subset(list(range(0, 400, 40)))
    config = apply_overrides(tiny_config, ["train.steps=2", "train.num_samples=2", "train.batch_size=4"])

    def fail(step: int, loss: float) -> None:
        raise RuntimeError("stop here")

    torch.manual_seed(99)
    before = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="stop here"):
        train(config, tmp_path, data=digits, progress=False, on_step=fail)
    assert torch.equal(torch.get_rng_state(), before)
