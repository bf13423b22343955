"""Tests of checkpoint safety: corrupt, truncated, foreign and malicious files are refused."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from rin.errors import CheckpointError
from rin.model import RIN
from rin.training import EMA, build_optimizer, find_checkpoint, load_state, load_weights, save_checkpoint


@pytest.fixture
def checkpoint(tiny_config, tmp_path):
    model = RIN(tiny_config.model)
    optimizer = build_optimizer(model, tiny_config.train)
    return save_checkpoint(tmp_path, 5, model, EMA(model, 0.9).model, optimizer, tiny_config)


def test_round_trip(checkpoint, tiny_config):
    """Saved weights load back into a fresh model exactly."""
    model = RIN(tiny_config.model)
    load_weights(model, checkpoint / "model.safetensors")
    assert load_state(checkpoint)["step"] == 5
    assert find_checkpoint(checkpoint.parent.parent) == checkpoint


def test_truncated_weights_are_refused(checkpoint, tiny_config):
    """A truncated safetensors file gives a CheckpointError, and the run dir skips it."""
    path = checkpoint / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="safetensors"):
        load_weights(RIN(tiny_config.model), path)
    with pytest.raises(CheckpointError, match="incomplete"):
        find_checkpoint(checkpoint)


def test_changed_shape_is_refused_naming_the_tensor(checkpoint, tiny_config, tmp_path):
    """A tensor of the wrong shape is named in the error; nothing is half-loaded."""
    model = RIN(tiny_config.model)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    weights["latents"] = torch.zeros(3, 3)
    save_file(weights, str(tmp_path / "bad.safetensors"))
    before = model.latents.detach().clone()
    with pytest.raises(CheckpointError, match="latents"):
        load_weights(model, tmp_path / "bad.safetensors")
    assert torch.equal(before, model.latents)


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['RIN_EXPLOIT_MARK']}",))


def test_pickle_that_runs_code_is_refused_and_never_runs(checkpoint, tmp_path, monkeypatch):
    """A state.pt whose unpickling would run code is rejected; the code's side effect never happens."""
    mark = tmp_path / "pwned"
    monkeypatch.setenv("RIN_EXPLOIT_MARK", str(mark))
    with (checkpoint / "state.pt").open("wb") as handle:
        pickle.dump({"format_version": 1, "x": _Exploit()}, handle)
    with pytest.raises(CheckpointError):
        load_state(checkpoint)
    assert not mark.exists()


def test_wrong_format_files_are_refused(checkpoint, tiny_config, tmp_path):
    """Text in place of weights or state gives a one-line CheckpointError."""
    (tmp_path / "x.safetensors").write_text("not a tensor file")
    with pytest.raises(CheckpointError):
        load_weights(RIN(tiny_config.model), tmp_path / "x.safetensors")
    (checkpoint / "state.pt").write_text("hello")
    with pytest.raises(CheckpointError) as info:
        load_state(checkpoint)
    assert "\n" not in str(info.value)


def test_missing_checkpoint_path(tmp_path):
    """A missing path or a run with no checkpoint gives a CheckpointError."""
    with pytest.raises(CheckpointError, match="does not exist"):
        find_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        find_checkpoint(tmp_path)
