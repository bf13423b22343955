"""`rin plot`: curves of several runs from their metrics logs, and the line printed after training."""

from __future__ import annotations

import json
import sys

from PIL import Image

from rin.cli.main import main
from rin.training.plots import run_curves


def _run(root, name, losses, evals, seconds_per_step=10.0):
    run = root / name
    run.mkdir()
    lines = [{"event": "start", "step": 0, "time": 1000.0}]
    lines += [{"event": "train", "step": s, "loss": v, "time": 1000.0 + s * seconds_per_step}
              for s, v in losses]  # fmt: skip
    lines += [
        {"event": "eval", "step": s, "score": v, "time": 1000.0 + s * seconds_per_step} for s, v in evals
    ]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n{torn")
    return run


def test_curves_read_steps_hours_and_scores(tmp_path):
    """Loss and eval points come back with their step and hours since the first record."""
    run = _run(tmp_path, "a", [(10, 1.0), (20, 0.5)], [(20, 30.0)], seconds_per_step=360.0)
    curves = run_curves(run)
    assert curves["loss"] == [(10, 1.0, 1.0), (20, 2.0, 0.5)]
    assert curves["eval"] == [(20, 2.0, 30.0)]


def test_plot_of_two_runs_writes_a_png(tmp_path, capsys):
    """Two runs, one with evaluations: one PNG with both (taller with the eval row)."""
    a = _run(tmp_path, "a", [(10, 1.0), (20, 0.5)], [(20, 30.0)])
    b = _run(tmp_path, "b", [(10, 0.9), (20, 0.7)], [])
    assert main(["plot", str(a), str(b), "--out", str(tmp_path / "both.png")]) == 0
    assert main(["plot", str(b)]) == 0
    with Image.open(tmp_path / "both.png") as both, Image.open(b / "curves.png") as single:
        assert both.size[1] > single.size[1]  # the eval row is there only when a run has evaluations


def test_missing_log_and_missing_matplotlib_are_one_line(tmp_path, monkeypatch, capsys):
    """A folder without metrics.jsonl, or no matplotlib, exits 2 with one line."""
    assert main(["plot", str(tmp_path)]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err
    run = _run(tmp_path, "a", [(1, 1.0)], [])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["plot", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "rin[plot]" in err and len(err.splitlines()) == 1


def test_train_ends_by_naming_the_curves(tmp_path, capsys):
    """`rin train` writes <run>/curves.png at the end and prints its path."""
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--steps", "1", "--out", str(run), "--no-progress",
                 "--set", "train.num_samples=1", "--set", "train.sample_steps=1"]) == 0  # fmt: skip
    assert f"curves: {run / 'curves.png'}" in capsys.readouterr().out
    assert (run / "curves.png").is_file()
