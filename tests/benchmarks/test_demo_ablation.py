"""benchmarks/demo_ablation.py: the table's grouping and spread, and one tiny variant end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import demo_ablation  # noqa: E402
from demo_ablation import spread, table  # noqa: E402

from rin.evaluation.networks.digits import CACHE_FILE_NAME, DigitClassifier, _save_weights  # noqa: E402


def row(name: str, seed: int, accuracy: float, steps: int = 2500, overrides: list[str] | None = None) -> dict:
    """A hand-made results.jsonl row."""
    return {"name": name, "overrides": overrides or [], "steps": steps, "seed": seed,
            "train_cpu_s": steps * 0.1, "accuracy": accuracy, "frechet": 100.0 + seed,
            "variety": 0.8}  # fmt: skip


def test_spread_is_one_value_or_min_median_max():
    """One row prints its value; three print min / median / max in that order."""
    assert spread([row("a", 0, 0.5)], "accuracy", "{:.1%}") == "50.0%"
    rows = [row("a", 0, 0.7), row("a", 1, 0.5), row("a", 2, 0.6)]
    assert spread(rows, "accuracy", "{:.1%}") == "50.0% / 60.0% / 70.0%"


def test_table_groups_rows_by_variant_and_steps(tmp_path):
    """Seeds of one (variant, steps) share a line; another step count is another line."""
    results = tmp_path / "results.jsonl"
    rows = [
        row("base", 0, 0.6),
        row("base", 1, 0.7),
        row("base", 0, 0.9, steps=5000),
        row("ema", 0, 0.8, 2500, ["x=1"]),
    ]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = table(results).splitlines()[2:]
    assert len(lines) == 3
    assert lines[0].startswith("| base | `(preset)` | 2500 | 2 | 0.100 | 60.0% / 65.0% / 70.0% |")
    assert lines[1].startswith("| base | `(preset)` | 5000 | 1 |") and "| `x=1` |" in lines[2]


def test_a_tiny_variant_runs_and_its_override_reaches_the_config(tmp_path, monkeypatch):
    """`--set` reaches the trained config (positive control: the logged row and the run's config say so)."""
    monkeypatch.setattr(demo_ablation, "HERE", tmp_path)
    _save_weights(DigitClassifier(), tmp_path / "cache" / CACHE_FILE_NAME)  # wiring, not figures
    monkeypatch.setenv("RIN_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results.jsonl"
    argv = ["demo_ablation.py", "--name", "t", "--preset", "tiny", "--steps", "2", "--num-eval", "20",
            "--runs", str(tmp_path / "runs"), "--keep", "--results", str(results),
            "--set", "model.num_latents=6"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    demo_ablation.main()
    logged = json.loads(results.read_text())
    assert logged["overrides"] == ["model.num_latents=6"] and logged["steps"] == 2
    config = json.loads((tmp_path / "runs" / "t-2-s0" / "config.json").read_text())
    assert config["model"]["num_latents"] == 6
    assert (tmp_path / "grids" / "t-2-s0.png").is_file()


def test_two_lengths_of_one_variant_get_their_own_run_folders():
    """Runs of 7,500 and 10,000 steps of `preset` side by side must not share (and delete) one folder."""
    from argparse import Namespace

    from demo_ablation import run_dir_of

    short, long = (Namespace(runs="/tmp/r", name="preset", steps=n, seed=0) for n in (7500, 10000))
    assert run_dir_of(short) != run_dir_of(long)
    assert run_dir_of(short) != run_dir_of(Namespace(runs="/tmp/r", name="preset", steps=7500, seed=1))
