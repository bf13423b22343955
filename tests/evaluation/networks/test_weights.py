"""The weight cache folder and the state-dict check the network loaders share."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from rin.errors import EvaluationError
from rin.evaluation.networks.weights import checked_state_dict, default_cache_dir


def test_default_cache_dir_is_rin_cache_else_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """$RIN_CACHE wins (with ~ expanded); without it the folder is ~/.cache/rin."""
    monkeypatch.setenv("RIN_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("RIN_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "rin"


def test_checked_state_dict_names_the_first_misfit(tmp_path: Path) -> None:
    """A matching state passes (a missing BN counter is filled in); a wrong shape or extra tensor is named."""
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert checked_state_dict(state, model, tmp_path, "the test weights").keys() == model.state_dict().keys()
    with pytest.raises(EvaluationError, match=r"'0.weight' has shape \(2, 3\)"):
        checked_state_dict({**state, "0.weight": torch.zeros(2, 3)}, model, tmp_path, "the test weights")
    with pytest.raises(EvaluationError, match="unexpected tensor 'extra'"):
        checked_state_dict({**state, "extra": torch.zeros(1)}, model, tmp_path, "the test weights")
