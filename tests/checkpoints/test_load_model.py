"""`load_model`: one entry point from a checkpoint (or its run directory) to a model and its config."""

from __future__ import annotations

import pytest
import torch

from rin.checkpoints import load_model
from rin.errors import CheckpointError
from rin.model import RIN
from rin.training import EMA, build_optimizer, save_checkpoint


@pytest.fixture
def saved(tiny_config, tmp_path):
    """A run directory whose online and EMA weights differ."""
    model = RIN(tiny_config.model)
    ema = EMA(model, 0.9).model
    with torch.no_grad():
        for parameter in ema.parameters():
            parameter.add_(1.0)
    save_checkpoint(tmp_path, 3, model, ema, build_optimizer(model, tiny_config.train), tiny_config)
    return tmp_path, model, ema


@pytest.mark.parametrize("which", ["ema", "model"])
def test_load_model_returns_the_chosen_weights_and_the_config(saved, tiny_config, which):
    """The run's newest checkpoint gives the requested copy of the weights, in eval mode, and its config."""
    run_dir, model, ema = saved
    loaded, config = load_model(run_dir, which)
    assert config == tiny_config and not loaded.training
    expected = (ema if which == "ema" else model).state_dict()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_load_model_refuses_a_missing_checkpoint(tmp_path):
    """A path with no checkpoint is a one-line CheckpointError."""
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        load_model(tmp_path)
