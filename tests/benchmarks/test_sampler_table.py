"""benchmarks/sampler_table.py: the settings it sweeps and the table it writes, on synthetic rows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from sampler_table import Setting, markdown, settings_for  # noqa: E402

from rin.configs.experiment import SamplingConfig  # noqa: E402


def test_settings_fit_the_call_budget():
    """Each row uses at most its budget of network calls, as many steps as fit; baselines come first."""
    args = argparse.Namespace(samplers=["ddim", "heun"], calls=[5, 10], baseline_steps=[100], grid=None,
                              time_difference=[0.0], carry="every")  # fmt: skip
    rows = settings_for(args, SamplingConfig(time_difference=3.0))
    assert rows[0] == Setting("ddpm", 100, "uniform", 3.0)
    described = [r.describe() for r in rows[1:]]
    assert [(d["sampler"], d["steps"], d["calls"]) for d in described] == [
        ("ddim", 5, 5),
        ("ddim", 10, 10),
        ("heun", 3, 5),
        ("heun", 5, 9),
    ]
    assert all(d["calls"] <= d["budget"] for d in described)


def test_markdown_puts_budgets_in_columns_and_baselines_last():
    """A line per sampler with its cells under the budgets, then the baseline line."""
    rows = [
        {
            "model": "demo",
            **Setting("ddpm", 100, "uniform", 3.0).describe(),
            "accuracy": 0.9,
            "frechet": 100.0,
        },
        {
            "model": "demo",
            **Setting("ddim", 5, "uniform", 0.0, calls=5).describe(),
            "accuracy": 0.5,
            "frechet": 300,
        },
        {
            "model": "demo",
            **Setting("ddim", 10, "uniform", 0.0, calls=10).describe(),
            "accuracy": 0.7,
            "frechet": 200,
        },
    ]
    lines = markdown(rows, [5, 10]).splitlines()
    assert "| ddim | uniform | 0 | 50.0% / 300 | 70.0% / 200 |" in lines
    assert lines[-1].startswith("| **ddpm 100 (baseline)**") and "90.0% / 100.0 (100 calls)" in lines[-1]


def test_render_merges_runs_into_one_table_and_plot(tmp_path):
    """--render joins the rows of several table.json files (a long baseline run apart) into one table."""
    import json

    from sampler_table import render

    fast = {"model": "demo", **Setting("euler_a", 5, "logsnr", 0.0, calls=5).describe(), "accuracy": 0.8,
            "frechet": 150.0}  # fmt: skip
    slow = {
        "model": "demo",
        **Setting("ddpm", 1000, "uniform", 3.0).describe(),
        "accuracy": 0.97,
        "frechet": 120.0,
    }
    for name, row in (("a.json", fast), ("b.json", slow)):
        (tmp_path / name).write_text(json.dumps({"rows": [row]}))
    render([str(tmp_path / "a.json"), str(tmp_path / "b.json")], tmp_path / "out", [5])
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| euler_a | logsnr | 0 | 80.0% / 150.0 |" in table and "ddpm 1000 (baseline)" in table
    assert (tmp_path / "out" / "quality_vs_calls.png").stat().st_size > 1000
