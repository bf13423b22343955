"""The demo: end to end on a tiny budget (fast), and the real preset's quality target (slow)."""

from __future__ import annotations

import json

import pytest

from rin.cli.main import main
from rin.evaluation.networks.digits import CACHE_FILE_NAME, DigitClassifier, _save_weights


def test_demo_runs_end_to_end_and_reports_figures(tmp_path, capsys, monkeypatch):
    """`rin demo` on the tiny preset trains, samples and prints the four quality figures."""
    # an untrained classifier in the cache: this test checks the wiring, not the figures
    cache = tmp_path / "cache"
    _save_weights(DigitClassifier(), cache / CACHE_FILE_NAME)
    monkeypatch.setenv("RIN_CACHE", str(cache))
    argv = ["demo", "--preset", "tiny", "--out", str(tmp_path / "run"), "--num-eval", "20", "--no-progress"]
    code = main([*argv, "--set", "train.steps=2", "--set", "train.num_samples=2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "accuracy on samples" in out and "held-out real digits" in out and "Frechet" in out
    assert "within-class variety" in out
    report = json.loads((tmp_path / "run" / "demo_results.json").read_text())
    assert report["num_samples"] == 20 and 0.0 <= report["sample_accuracy"] <= 1.0
    assert report["variety"] > 0 and "uniform grid" in report["sampler"]


@pytest.mark.slow
def test_mnist_demo_reaches_the_quality_target(tmp_path, capsys):
    """The real demo preset: class-conditional samples are classified correctly at least 90% of the time."""
    assert main(["demo", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "run" / "demo_results.json").read_text())
    assert report["sample_accuracy"] >= 0.9
