"""benchmarks/demo_seeds.py: min / median / max over seeds, the median seed, the report, and one tiny run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import demo_seeds  # noqa: E402
from demo_seeds import FIGURES, aggregate, demo_command, markdown, median_report, parse_args, summarize  # noqa: E402

from rin.evaluation.networks.digits import CACHE_FILE_NAME, DigitClassifier, _save_weights  # noqa: E402


def report(seed: int, accuracy: float, frechet: float, variety: float = 0.8) -> dict:
    """A hand-made demo_results.json."""
    return {"seed": seed, "sample_accuracy": accuracy, "heldout_accuracy": 0.984, "frechet_distance": frechet,
            "variety": variety, "train_seconds": 700.0 + seed, "sample_seconds": 30.0, "num_samples": 500,
            "preset": "mnist", "steps": 5000, "sampler": "ddpm 20 steps",
            "grid": f"seed-{seed}.png"}  # fmt: skip


def test_summarize_odd_even_and_single_counts():
    """min / median / max of 3 values, of 4 (median = mean of the middle two) and of a single one."""
    assert summarize([3.0, 1.0, 2.0]) == {"min": 1.0, "median": 2.0, "max": 3.0}
    assert summarize([4.0, 1.0, 3.0, 2.0]) == {"min": 1.0, "median": 2.5, "max": 4.0}
    assert summarize([7.0]) == {"min": 7.0, "median": 7.0, "max": 7.0}
    with pytest.raises(ValueError):
        summarize([])


def test_aggregate_summarizes_every_figure_over_the_seeds():
    """Each figure of hand-made reports gets its own min / median / max, taken across seeds."""
    reports = [report(0, 0.96, 130.0, 0.78), report(1, 0.90, 150.0, 0.80), report(2, 0.98, 120.0, 0.76)]
    summary = aggregate(reports)
    assert set(summary) == {key for key, _, _ in FIGURES}
    assert summary["sample_accuracy"] == {"min": 0.90, "median": 0.96, "max": 0.98}
    assert summary["frechet_distance"] == {"min": 120.0, "median": 130.0, "max": 150.0}
    assert summary["variety"] == {"min": 0.76, "median": 0.78, "max": 0.80}
    assert summary["train_seconds"] == {"min": 700.0, "median": 701.0, "max": 702.0}
    assert aggregate(reports[:2])["frechet_distance"]["median"] == 140.0  # an even count
    assert aggregate(reports[1:2])["sample_accuracy"] == {"min": 0.90, "median": 0.90, "max": 0.90}


def test_median_seed_is_the_middle_frechet_proxy():
    """The median report by Frechet proxy, wherever it sits in the list; with an even count the lower
    (better) middle one; a tie goes to the lower seed; a single seed is its own median."""
    reports = [report(0, 0.9, 150.0), report(1, 0.9, 120.0), report(2, 0.9, 130.0)]
    assert median_report(reports)["seed"] == 2
    assert median_report([*reports, report(3, 0.9, 140.0)])["seed"] == 2  # 130 and 140 in the middle
    assert median_report([report(4, 0.9, 130.0), *reports])["seed"] == 2  # 130 twice: seed 2 before 4
    assert median_report(reports[:1])["seed"] == 0
    assert median_report(reports, key="sample_accuracy")["seed"] == 1  # all 0.9: the lowest of the middle


def test_markdown_lists_every_seed_the_spread_and_the_floor():
    """results.md has a row per seed, a min / median / max line per figure and the floor row."""
    reports = [report(0, 0.96, 130.0), report(11, 0.90, 150.0), report(22, 0.98, 120.0)]
    floor = {"sample_accuracy": 0.995, "heldout_accuracy": 0.984, "frechet_distance": 11.6, "variety": 0.97,
             "num_real": 500, "num_heldout": 1000}  # fmt: skip
    results = {"per_seed": reports, "floor": floor, "summary": aggregate(reports), "median_seed": 0,
               "preset": "mnist", "steps": 5000, "sampler": "ddpm 20 steps", "num_eval": 500,
               "commit": "abc1234", "dirty": False, "machine": "a CPU", "torch": "2.13.0", "threads": 2,
               "date": "today", "command": "python benchmarks/demo_seeds.py"}  # fmt: skip
    text = markdown(results)
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    assert {"0", "11", "22"} <= set(rows)
    assert {column for _, column, _ in FIGURES} <= set(rows)  # one spread line per figure
    assert "| Frechet proxy | 120.0 | 130.0 | 150.0 |" in text
    assert "| real digits (floor) | 99.5% | 98.4% | 11.6 | 0.970 |" in text
    assert "abc1234" in text and "seed 0, the median" in text


def test_demo_command_passes_seed_steps_preset_and_overrides(tmp_path):
    """The child is `python -m rin demo` with --seed, the run directory, --steps as train.steps and
    every --set."""
    args = parse_args(["--steps", "3", "--set", "train.lr=1e-3", "--preset", "tiny", "--num-eval", "20"])
    command = demo_command(args, 7, tmp_path / "seed-7")
    assert command[:4] == [sys.executable, "-m", "rin", "demo"]
    pairs = set(zip(command, command[1:], strict=False))
    assert {
        ("--seed", "7"),
        ("--out", str(tmp_path / "seed-7")),
        ("--preset", "tiny"),
        ("--num-eval", "20"),
    } <= pairs
    assert {("--set", "train.lr=1e-3"), ("--set", "train.steps=3")} <= pairs


def test_existing_run_directories_are_refused_before_any_run(tmp_path, monkeypatch):
    """A seed's run directory that exists (it would resume and report no training) stops the script
    with exit 2 before it runs any seed."""
    (tmp_path / "seed-1").mkdir()
    monkeypatch.setattr(demo_seeds, "run_seeds", lambda *a: pytest.fail("ran a seed"))
    assert (
        demo_seeds.main(["--seeds", "0", "1", "--out", str(tmp_path), "--results", str(tmp_path / "r")]) == 2
    )


def test_two_tiny_seeds_end_to_end(tmp_path, monkeypatch):
    """Two `rin demo` children (tiny preset, 2 steps, 20 samples): results.json holds both seeds'
    reports, which differ, their spread and the floor; samples.png is the median seed's grid."""
    _save_weights(DigitClassifier(), tmp_path / "cache" / CACHE_FILE_NAME)  # wiring, not figures
    monkeypatch.setenv("RIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    argv = ["--seeds", "3", "4", "--out", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]
    assert demo_seeds.main([*argv, "--preset", "tiny", "--steps", "2", "--num-eval", "20",
                            "--set", "train.num_samples=2"]) == 0  # fmt: skip
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["seeds"] == [3, 4] and [r["seed"] for r in results["per_seed"]] == [3, 4]
    assert results["per_seed"][0]["frechet_distance"] != results["per_seed"][1]["frechet_distance"]
    assert (
        results["steps"] == 2
        and results["floor"]["num_real"] == 20
        and results["floor"]["frechet_distance"] >= 0
    )
    assert results["median_seed"] in (3, 4) and results["machine"] and results["torch"]
    median_grid = tmp_path / "runs" / f"seed-{results['median_seed']}" / "demo_samples.png"
    shown = np.asarray(Image.open(tmp_path / "results" / "samples.png"))
    assert np.array_equal(shown, np.asarray(Image.open(median_grid)))
    assert "| 3 |" in (tmp_path / "results" / "results.md").read_text()
