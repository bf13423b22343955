"""The digit classifier cache: safetensors round-trip, RIN_CACHE, atomic writes and corrupt files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import rin.evaluation.networks.digits as digits
from rin.evaluation.networks.digits import CACHE_FILE_NAME, DigitClassifier, load_or_train_digit_classifier


class _FakeTrainer:
    """Stands in for the 30 s training run: a seeded model with non-default BatchNorm statistics."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> DigitClassifier:
        self.calls += 1
        torch.manual_seed(self.calls)
        model = DigitClassifier()
        for buffer in model.buffers():
            if buffer.is_floating_point():
                buffer.uniform_(0.5, 1.5)
        return model.eval()


@pytest.fixture
def trainer(monkeypatch: pytest.MonkeyPatch) -> _FakeTrainer:
    fake = _FakeTrainer()
    monkeypatch.setattr(digits, "_train_on_demo_digits", fake)
    return fake


def _logits(model: DigitClassifier) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(0)))


def test_cache_round_trip_gives_identical_logits(tmp_path: Path, trainer: _FakeTrainer) -> None:
    """The first call trains and caches; the second loads the same weights without training."""
    trained = load_or_train_digit_classifier(tmp_path)
    loaded = load_or_train_digit_classifier(tmp_path)
    assert trainer.calls == 1
    assert loaded is not trained
    assert torch.equal(_logits(loaded), _logits(trained))
    assert sorted(p.name for p in tmp_path.iterdir()) == [CACHE_FILE_NAME]  # no temporary files left


def test_default_cache_dir_follows_rin_cache(
    tmp_path: Path, trainer: _FakeTrainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without cache_dir the classifier is cached under $RIN_CACHE (created if missing)."""
    monkeypatch.setenv("RIN_CACHE", str(tmp_path / "cache"))
    load_or_train_digit_classifier()
    assert (tmp_path / "cache" / CACHE_FILE_NAME).is_file()


@pytest.mark.parametrize("corruption", ["garbage", "truncated", "wrong_tensors"])
def test_corrupt_cache_is_retrained_with_a_warning(
    tmp_path: Path, trainer: _FakeTrainer, corruption: str
) -> None:
    """An unreadable or mismatched cache file is retrained with a warning and replaced by a good one."""
    path = tmp_path / CACHE_FILE_NAME
    if corruption == "garbage":
        path.write_bytes(b"not a safetensors file at all")
    elif corruption == "truncated":
        load_or_train_digit_classifier(tmp_path)
        path.write_bytes(path.read_bytes()[:1000])
    else:
        save_file({"head.weight": torch.zeros(3, 3)}, str(path))
    calls_before = trainer.calls
    with pytest.warns(UserWarning, match="unreadable"):
        retrained = load_or_train_digit_classifier(tmp_path)
    assert trainer.calls == calls_before + 1
    assert torch.equal(_logits(load_or_train_digit_classifier(tmp_path)), _logits(retrained))
    assert trainer.calls == calls_before + 1
