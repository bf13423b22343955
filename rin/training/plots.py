"""`plot_runs`: a PNG of training loss and evaluation curves of one or more runs (extra `rin[plot]`).

Reads each run's `metrics.jsonl`: `train` records give the loss, `eval` records the score (the
training-time Frechet distance, or `frechet` from `rin evaluate`). The x axes are the step and
the wall-clock hours since the run's first record (a resumed run's pause shows as a gap).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rin.errors import RinError
from rin.runtime.metrics_log import MetricsLog

INSTALL_HINT = "rin plot needs matplotlib: pip install 'rin[plot]' (or matplotlib)"


def run_curves(run_dir: Path) -> dict[str, list[tuple[int, float, float]]]:
    """{"loss": [(step, hours, value)], "eval": [...]} from a run's metrics log."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise RinError(f"{run_dir} has no metrics.jsonl: pass a run directory (rin train --out DIR)")
    records = MetricsLog(path).read()
    start = min((float(r["time"]) for r in records if "time" in r), default=0.0)
    curves: dict[str, list[tuple[int, float, float]]] = {"loss": [], "eval": []}
    for record in records:
        step, hours = record.get("step"), (float(record.get("time", start)) - start) / 3600
        if not isinstance(step, int):
            continue
        value = _value(record)
        if value is not None:
            curves["loss" if record.get("event") == "train" else "eval"].append((step, hours, value))
    return curves


def _value(record: dict[str, Any]) -> float | None:
    if record.get("event") == "train":
        value = record.get("loss")
    elif record.get("event") == "eval":
        value = record.get("score", record.get("frechet"))
    else:
        return None
    return float(value) if isinstance(value, int | float) and value == value else None  # drop NaN


def plot_runs(run_dirs: list[Path], out: Path) -> Path:
    """Loss (and evaluation, if any run has it) against steps and hours; one line per run."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise RinError(INSTALL_HINT) from None
    curves = {run: run_curves(run) for run in run_dirs}
    rows = ["loss"] + (["eval"] if any(c["eval"] for c in curves.values()) else [])
    figure, axes = plt.subplots(len(rows), 2, figsize=(11, 3.6 * len(rows)), squeeze=False)
    for row, kind in enumerate(rows):
        for run, run_data in curves.items():
            points = run_data[kind]
            if not points:
                continue
            steps, hours, values = zip(*points, strict=True)
            axes[row][0].plot(steps, values, label=run.name, marker="." if kind == "eval" else None)
            axes[row][1].plot(hours, values, label=run.name, marker="." if kind == "eval" else None)
        label = "training loss" if kind == "loss" else "evaluation score (lower is better)"
        for column, x_label in enumerate(("step", "wall-clock hours")):
            axes[row][column].set_xlabel(x_label)
            axes[row][column].set_ylabel(label)
            axes[row][column].set_yscale("log" if kind == "loss" else "linear")
            axes[row][column].grid(alpha=0.3)
        axes[row][0].legend(fontsize="small")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
