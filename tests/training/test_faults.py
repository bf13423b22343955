"""Tests of training under faults: non-finite steps, corrupt checkpoints, full disks, pruning."""

from __future__ import annotations

import errno
import json
import math
import os

import pytest
import torch
from safetensors.torch import load_file

import rin.training.checkpoint as checkpoint_module
import rin.training.loop as loop_module
from rin.configs import apply_overrides
from rin.data import load_mnist
from rin.errors import CheckpointError, TrainingError
from rin.training import find_checkpoint, train


@pytest.fixture(scope="module")
def digits():
    return load_mnist("train").subset(list(range(0, 4000, 40)))


def _config(tiny_config, steps, *extra):
    return apply_overrides(
        tiny_config, [f"train.steps={steps}", "train.checkpoint_every=1", "train.num_samples=2", *extra]
    )


def _poison_loss_at(monkeypatch, steps: set[int]):
    """Make the loss of the given 0-based steps NaN (as a bad batch or an overflow would)."""
    real = loop_module.diffusion_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        out = real(*args, **kwargs)
        if calls["n"] in steps:
            out.loss = out.loss * math.nan
        calls["n"] += 1
        return out

    monkeypatch.setattr(loop_module, "diffusion_loss", poisoned)


def _events(run_dir, kind):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if json.loads(line)["event"] == kind]


def test_nonfinite_losses_are_skipped_and_counted(tiny_config, digits, tmp_path, monkeypatch):
    """Planted NaN losses skip exactly those updates (weights untouched), are logged; weights stay finite."""
    snapshots = {}

    def snapshot(step, loss):
        snapshots[step] = [p.detach().clone() for p in result_model[0].parameters()]

    _poison_loss_at(monkeypatch, {2, 3})
    result_model: list[torch.nn.Module] = []
    real_rin = loop_module.RIN

    def capture(*args, **kwargs):
        model = real_rin(*args, **kwargs)
        result_model.append(model)
        return model

    monkeypatch.setattr(loop_module, "RIN", capture)
    result = train(_config(tiny_config, 6), tmp_path, data=digits, progress=False, on_step=snapshot)
    assert result.skipped_steps == 2
    skips = _events(tmp_path, "skip")
    assert [e["step"] for e in skips] == [3, 4] and all(e["term"].startswith("loss") for e in skips)
    for a, b in zip(snapshots[2], snapshots[4], strict=True):  # steps 3 and 4 changed nothing
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(snapshots[4], snapshots[5], strict=True))
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    assert all(torch.isfinite(p).all() for p in result.ema.parameters())


def test_nonfinite_gradient_names_the_parameter(tiny_config, digits, tmp_path, monkeypatch):
    """A NaN in one gradient is caught even when the loss is finite, and the log names the parameter."""
    real_rin = loop_module.RIN

    def with_hook(*args, **kwargs):
        model = real_rin(*args, **kwargs)
        model.readout.proj.weight.register_hook(lambda grad: grad * math.nan)
        return model

    monkeypatch.setattr(loop_module, "RIN", with_hook)
    config = _config(tiny_config, 3, "train.max_nonfinite_steps=10")
    result = train(config, tmp_path, data=digits, progress=False)
    terms = {e["term"] for e in _events(tmp_path, "skip")}
    assert terms == {"gradient of readout.proj.weight"} and result.skipped_steps == 3


def test_consecutive_nonfinite_steps_stop_the_run(tiny_config, digits, tmp_path, monkeypatch):
    """After max_nonfinite_steps skips in a row the run stops, naming the step and the term; the
    last checkpoint holds finite weights."""
    _poison_loss_at(monkeypatch, {3, 4, 5, 6, 7})
    config = _config(tiny_config, 10, "train.max_nonfinite_steps=3")
    with pytest.raises(TrainingError, match=r"step 6: loss \(nan\) is not finite, 3 steps in a row") as info:
        train(config, tmp_path, data=digits, progress=False)
    assert "\n" not in str(info.value) and "step_00000005" in str(info.value)
    last = find_checkpoint(tmp_path, verify=True)
    assert all(torch.isfinite(t).all() for t in load_file(str(last / "model.safetensors")).values())


def test_only_the_newest_checkpoints_are_kept(tiny_config, digits, tmp_path):
    """train.keep_checkpoints=2 leaves the two newest complete checkpoints."""
    train(_config(tiny_config, 5, "train.keep_checkpoints=2"), tmp_path, data=digits, progress=False)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_00000004", "step_00000005"]


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(tiny_config, digits, tmp_path):
    """A same-size bit flip in the newest checkpoint is caught by its checksum; resume uses the one before."""
    config = _config(tiny_config, 4)
    train(config, tmp_path, data=digits, progress=False, stop_after=3)
    newest = tmp_path / "checkpoints" / "step_00000003" / "model.safetensors"
    data = bytearray(newest.read_bytes())
    data[-5] ^= 0xFF
    newest.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="step_00000003"):
        assert find_checkpoint(tmp_path, verify=True).name == "step_00000002"
    with pytest.warns(UserWarning, match="corrupt"):
        resumed = train(config, tmp_path, resume="auto", data=digits, progress=False)
    full = train(config, tmp_path / "full", data=digits, progress=False)
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_full_disk_keeps_the_previous_checkpoint(tiny_config, digits, tmp_path, monkeypatch):
    """ENOSPC while writing a checkpoint: one-line error, no temporary left, previous checkpoint intact."""
    config = _config(tiny_config, 4)
    train(config, tmp_path, data=digits, progress=False, stop_after=2)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "save_file", full_disk)
    with pytest.raises(
        CheckpointError, match="No space left on device; the previous checkpoint step_00000002"
    ):
        train(config, tmp_path, resume="auto", data=digits, progress=False)
    assert not list((tmp_path / "checkpoints").glob(".tmp*"))
    assert find_checkpoint(tmp_path, verify=True).name == "step_00000002"


def test_resume_with_another_model_names_the_first_difference(tiny_config, digits, tmp_path):
    """Resuming a run under a changed model config is refused, naming the field and both values."""
    train(_config(tiny_config, 1), tmp_path, data=digits, progress=False)
    other = _config(tiny_config, 2, "model.latent_dim=64")
    with pytest.raises(CheckpointError, match=r"model.latent_dim=32, this run has model.latent_dim=64"):
        train(other, tmp_path, resume="auto", data=digits, progress=False)


def test_nonfinite_learning_rate_skips_the_update(tiny_config, digits, tmp_path, monkeypatch):
    """A NaN learning rate (what train.lr=inf gave in warm-up) skips the update; weights stay finite."""
    monkeypatch.setattr(loop_module, "learning_rate", lambda step, config: math.nan)
    config = _config(tiny_config, 2, "train.max_nonfinite_steps=5")
    result = train(config, tmp_path, data=digits, progress=False)
    assert {e["term"] for e in _events(tmp_path, "skip")} == {"learning rate (nan)"}
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    assert all(torch.isfinite(p).all() for p in result.ema.parameters())


def test_update_that_makes_weights_nonfinite_stops_the_run(tiny_config, digits, tmp_path, monkeypatch):
    """An update that turns a weight non-finite stops the run at once, before the EMA or a checkpoint
    sees it, naming the parameter and the last good checkpoint."""
    real_build = loop_module.build_optimizer
    steps = {"n": 0}

    def poisoning(model, train_config):
        optimizer = real_build(model, train_config)
        real_step = optimizer.step

        def step(*args, **kwargs):
            out = real_step(*args, **kwargs)
            steps["n"] += 1
            if steps["n"] == 3:
                with torch.no_grad():
                    model.readout.proj.weight.fill_(math.inf)
            return out

        optimizer.step = step  # type: ignore[method-assign]
        return optimizer

    monkeypatch.setattr(loop_module, "build_optimizer", poisoning)
    with pytest.raises(
        TrainingError, match=r"step 3: the update made readout.proj.weight non-finite"
    ) as info:
        train(_config(tiny_config, 5), tmp_path, data=digits, progress=False)
    assert "step_00000002" in str(info.value)
    last = find_checkpoint(tmp_path, verify=True)
    assert last.name == "step_00000002"
    assert all(torch.isfinite(t).all() for t in load_file(str(last / "ema.safetensors")).values())


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux /dev/full")
def test_full_disk_in_torch_save_says_no_space(tiny_config, digits, tmp_path, monkeypatch):
    """torch.save's short write on a full disk ("enforce fail at inline_container.cc ... unexpected
    pos") is reported as "No space left on device", as the retry reports it."""
    config = _config(tiny_config, 4)
    train(config, tmp_path, data=digits, progress=False, stop_after=2)
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, path, *a, **k: real_save(obj, "/dev/full", *a, **k))
    with pytest.raises(CheckpointError) as info:
        train(config, tmp_path, resume="auto", data=digits, progress=False)
    assert str(info.value).endswith(
        "No space left on device; the previous checkpoint step_00000002 is intact"
    ), str(info.value)
    assert "inline_container" not in str(info.value)


def test_resume_logs_each_step_once(tiny_config, digits, tmp_path):
    """Steps a killed run logged after its last checkpoint are dropped on resume, so each train step
    appears once in metrics.jsonl and the log stays valid JSON lines."""

    class Killed(Exception):
        pass

    def kill_at_four(step, loss):
        if step == 4:
            raise Killed

    config = _config(tiny_config, 5, "train.checkpoint_every=2", "train.log_every=1")
    with pytest.raises(Killed):
        train(config, tmp_path, data=digits, progress=False, on_step=kill_at_four)
    assert [e["step"] for e in _events(tmp_path, "train")] == [1, 2, 3]  # checkpoint at 2
    with (tmp_path / "metrics.jsonl").open("a") as handle:
        handle.write('{"event": "train", "st')  # torn by the kill
    train(config, tmp_path, resume="auto", data=digits, progress=False)
    assert [e["step"] for e in _events(tmp_path, "train")] == [1, 2, 3, 4, 5]
