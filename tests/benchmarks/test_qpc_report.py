"""Tests of what the quality-per-compute benchmark writes (benchmarks/qpc_report.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from qpc_report import plot_curves, side_by_side, write_json, write_markdown  # noqa: E402


def fake_results() -> dict:
    def point(fraction: float, frechet: float) -> dict:
        return {"fraction": fraction, "seconds": 100 * fraction, "steps": int(700 * fraction),
                "images": int(22400 * fraction), "train_flops": 4.5e12 * fraction, "accuracy": 0.5,
                "frechet": frechet, "variety": 0.8, "loss": 0.05}  # fmt: skip

    models = [{"name": name, "params": 190_000, "forward_gflops": 0.05, "architecture": "a", "recipe": "r",
               "evals": [point(0.5, 300.0), point(1.0, 200.0)]} for name in ("rin", "unet")]  # fmt: skip
    return {"setting": "mnist", "budget_seconds": 100.0, "num_samples": 100, "sampler": "ddpm 100 steps",
            "threads": 2, "precision": "fp32", "clock": "wall", "seed": 0, "machine": "cpu",
            "extractor": "digit-classifier features (proxy, not FID)", "heldout": "1000 held-out real images",
            "floor": {"accuracy": 0.98, "frechet": 30.0, "variety": 1.0}, "models": models}  # fmt: skip


def test_table_has_rin_first_then_peers_then_the_floor(tmp_path):
    """results.md lists each model at its last point in order, then the real-data floor; JSON round-trips."""
    results = fake_results()
    text = write_markdown(results, tmp_path).read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows[1:4]] == ["| rin", "| unet", "| real data (floor)"]
    assert "200.00" in rows[1] and "30.00" in rows[3]
    assert json.loads(write_json(results, tmp_path).read_text()) == results


def test_side_by_side_puts_the_grids_next_to_each_other(tmp_path):
    """One PNG, as wide as the grids together (2x scale, gaps between), with room for titles."""
    grids = {"rin": torch.rand(20, 1, 32, 32), "unet": torch.rand(20, 1, 32, 32)}
    with Image.open(side_by_side(grids, tmp_path, columns=10)) as picture:
        one = 2 * (10 * 34 + 2)  # 10 cells of 32 px + 2 px gaps, doubled
        assert picture.size == (2 * one + 12, 2 * (2 * 34 + 2) + 20)


def test_plot_is_written(tmp_path):
    """The curves PNG is written (matplotlib is an optional dependency of the benchmark)."""
    pytest.importorskip("matplotlib")
    with Image.open(plot_curves(fake_results(), tmp_path)) as picture:
        assert picture.width > 0
