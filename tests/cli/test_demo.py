"""The demo: end to end on a tiny budget (fast), and the real preset's quality target (slow)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from PIL import Image

from rin.cli.demo import demo_config
from rin.cli.main import main
from rin.evaluation.networks.digits import CACHE_FILE_NAME, DigitClassifier, _save_weights

TINY = [
    "--preset",
    "tiny",
    "--num-eval",
    "20",
    "--no-progress",
    "--set",
    "train.steps=2",
    "--set",
    "train.num_samples=2",
]


@pytest.fixture
def untrained_classifier(tmp_path, monkeypatch):
    """An untrained digit classifier in a fresh cache: the demo tests check wiring, not figures."""
    cache = tmp_path / "cache"
    _save_weights(DigitClassifier(), cache / CACHE_FILE_NAME)
    monkeypatch.setenv("RIN_CACHE", str(cache))


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
    assert report["seed"] == 0 and report["sample_seed"] == 1  # the preset's train.seed without --seed


def test_demo_seed_is_recorded_and_changes_the_samples(tmp_path, capsys, untrained_classifier):
    """`rin demo --seed 5` records seed 5 (samples from 6), the commit, machine and torch version in
    demo_results.json and prints it; seed 6 draws other samples (fails if --seed is ignored)."""
    grids = {}
    for seed in (5, 6):
        run = tmp_path / f"seed{seed}"
        assert main(["demo", *TINY, "--seed", str(seed), "--out", str(run)]) == 0
        report = json.loads((run / "demo_results.json").read_text())
        assert (report["seed"], report["sample_seed"]) == (seed, seed + 1)
        assert report["machine"] and report["torch"] and "commit" in report and "dirty" in report
        out = capsys.readouterr().out
        assert any(line.split()[:2] == ["training", "seed"] and line.split()[-1] == str(seed)
                   for line in out.splitlines())  # fmt: skip
        grids[seed] = np.asarray(Image.open(run / "demo_samples.png"))
    assert grids[5].shape == grids[6].shape and not np.array_equal(grids[5], grids[6])


def test_demo_refuses_to_resume_a_run_of_another_seed(tmp_path, capsys, untrained_classifier):
    """A run directory trained with seed 5 is refused for --seed 6 (it would be reported as seed 6),
    and resumed for --seed 5 (the check does not refuse every existing run)."""
    run = str(tmp_path / "run")
    assert main(["demo", *TINY, "--seed", "5", "--out", run]) == 0
    assert main(["demo", *TINY, "--seed", "6", "--out", run]) == 2
    assert "train.seed=5" in capsys.readouterr().err
    assert main(["demo", *TINY, "--seed", "5", "--out", run]) == 0
    assert json.loads((tmp_path / "run" / "demo_results.json").read_text())["seed"] == 5


def test_demo_seed_wins_over_set_train_seed():
    """--seed sets train.seed over a --set train.seed=...; without --seed the --set value stays."""
    args = argparse.Namespace(preset="tiny", overrides=["train.seed=3"], seed=5)
    assert demo_config(args).train.seed == 5
    assert demo_config(argparse.Namespace(**{**vars(args), "seed": None})).train.seed == 3


@pytest.mark.slow
def test_mnist_demo_reaches_the_quality_target(tmp_path, capsys):
    """The real demo preset: class-conditional samples are classified correctly at least 90% of the time."""
    assert main(["demo", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "run" / "demo_results.json").read_text())
    assert report["sample_accuracy"] >= 0.9
