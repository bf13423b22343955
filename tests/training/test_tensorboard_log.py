"""TensorBoard logging: the events a run writes, read back with tensorboard's own reader."""

from __future__ import annotations

import json
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rin.cli.main import main
from rin.configs import apply_overrides
from rin.data import load_mnist
from rin.errors import RinError
from rin.training import train
from rin.training.tensorboard_log import TensorBoardMirror, require_tensorboard


def _events(log_dir):
    accumulator = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


def test_run_writes_scalars_and_sample_grids(tiny_config, tmp_path):
    """train.tensorboard=true: loss, lr, grad norm, images/s and the sample grids match metrics.jsonl."""
    digits = load_mnist("train").subset(list(range(0, 4000, 400)))
    config = apply_overrides(
        tiny_config,
        ["train.steps=4", "train.log_every=2", "train.sample_every=2", "train.sample_steps=2",
         "train.num_samples=2", "train.tensorboard=true"],
    )  # fmt: skip
    train(config, tmp_path, data=digits, progress=False)
    events = _events(tmp_path / "tensorboard")
    tags = events.Tags()
    assert {"train/loss", "train/lr", "train/grad_norm", "train/images_per_sec"} <= set(tags["scalars"])
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    logged = {r["step"]: r for r in records if r["event"] == "train"}
    losses = {e.step: e.value for e in events.Scalars("train/loss")}
    assert sorted(losses) == sorted(logged) == [2, 4]
    for step, value in losses.items():
        assert value == pytest.approx(logged[step]["loss"], rel=1e-6)
    assert sorted(e.step for e in events.Images("samples")) == [2, 4]  # mid-run grid and final grid


def test_eval_records_become_scalars(tmp_path):
    """Every number of an eval record is an eval/<name> scalar; text fields are left out."""
    mirror = TensorBoardMirror(tmp_path)
    mirror({"event": "eval", "step": 7, "time": 1.0, "fid": 12.5, "kid": 0.01, "metric": "FID"})
    mirror.close()
    events = _events(tmp_path)
    assert set(events.Tags()["scalars"]) == {"eval/fid", "eval/kid"}
    assert events.Scalars("eval/fid")[0].value == pytest.approx(12.5)


def test_missing_package_is_one_clear_line(monkeypatch, capsys):
    """Without tensorboard, `rin train --tensorboard` exits 2 naming the extra; with it, the check passes."""
    require_tensorboard()  # positive control: installed here, no error
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import now raises ImportError
    with pytest.raises(RinError, match=r"rin\[tb\]"):
        require_tensorboard()
    assert main(["train", "--preset", "tiny", "--steps", "1", "--tensorboard", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "rin[tb]" in err and len(err.splitlines()) == 1


def test_resumed_run_shows_each_step_once(tiny_config, tmp_path):
    """Steps a killed run logged after its last checkpoint are replayed on resume; TensorBoard hides
    the first copies (purge_step), so each step shows once, as in metrics.jsonl."""

    class Killed(Exception):
        pass

    def kill_at_four(step, loss):
        if step == 4:
            raise Killed

    digits = load_mnist("train").subset(list(range(0, 4000, 400)))
    config = apply_overrides(
        tiny_config,
        ["train.steps=5", "train.checkpoint_every=2", "train.log_every=1", "train.num_samples=2",
         "train.sample_steps=2", "train.tensorboard=true"],
    )  # fmt: skip
    with pytest.raises(Killed):
        train(config, tmp_path, data=digits, progress=False, on_step=kill_at_four)
    assert [e.step for e in _events(tmp_path / "tensorboard").Scalars("train/loss")] == [1, 2, 3]
    train(config, tmp_path, resume="auto", data=digits, progress=False)
    assert [e.step for e in _events(tmp_path / "tensorboard").Scalars("train/loss")] == [1, 2, 3, 4, 5]
