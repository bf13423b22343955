"""Tests of preemption: SIGTERM/SIGINT stop cleanly and resume exactly; SIGKILL at random points
(including mid-checkpoint) never loses a run: the resumed result is bit-identical."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rin.configs import apply_overrides
from rin.data import load_mnist
from rin.training import find_checkpoint, train
from rin.training.checkpoint import is_complete

# constant LR so that runs of different lengths share their first steps exactly
SETTINGS = ["train.checkpoint_every=1", "train.keep_checkpoints=2", "train.num_samples=2",
            "train.sample_steps=2", "train.lr_schedule=constant"]  # fmt: skip
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _command(run: Path, steps: int) -> list[str]:
    sets = [arg for s in [f"train.steps={steps}", *SETTINGS] for arg in ("--set", s)]
    return [sys.executable, "-m", "rin", "train", "--preset", "tiny", "--out", str(run), "--resume", "auto",
            "--no-progress", *sets]  # fmt: skip


def _start(run: Path, steps: int) -> subprocess.Popen:
    return subprocess.Popen(
        _command(run, steps), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _train_lines(run: Path) -> int:
    path = run / "metrics.jsonl"
    return path.read_text().count('"event": "train"') if path.exists() else 0


def _wait_for_training(process: subprocess.Popen, run: Path, before: int, timeout: float = 120.0) -> bool:
    """Wait until this process has logged a training step; False if it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _train_lines(run) > before:
            return True
        time.sleep(0.01)
    raise AssertionError("training did not start in time")


def _weights(run: Path) -> dict[str, torch.Tensor]:
    checkpoint = find_checkpoint(run, verify=True)
    return {**load_file(str(checkpoint / "model.safetensors")),
            **{f"ema.{k}": v for k, v in load_file(str(checkpoint / "ema.safetensors")).items()}}  # fmt: skip


def _assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_sigterm_in_process_stops_within_the_step(tiny_config, tmp_path):
    """A SIGTERM during step 3 ends the run after step 3 with a checkpoint, and resume is exact."""
    digits = load_mnist("train").subset(list(range(0, 4000, 40)))
    config = apply_overrides(tiny_config, ["train.steps=6", *SETTINGS])

    def terminate_at_3(step: int, loss: float) -> None:
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    stopped = train(config, tmp_path / "split", data=digits, progress=False, on_step=terminate_at_3)
    assert (stopped.stopped_by, stopped.step, stopped.checkpoint.name) == ("SIGTERM", 3, "step_00000003")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is removed again
    resumed = train(config, tmp_path / "split", resume="auto", data=digits, progress=False)
    full = train(config, tmp_path / "full", data=digits, progress=False)
    _assert_identical(full.model.state_dict(), resumed.model.state_dict())


def test_sigterm_exits_zero_with_a_resume_hint_and_resumes_exactly(tmp_path):
    """`rin train` under SIGTERM exits 0 saying how to resume; resuming matches an uninterrupted run."""
    run, steps = tmp_path / "run", 400
    process = _start(run, steps)
    assert _wait_for_training(process, run, 0)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "resume with: rin train --resume auto" in out
    stopped_at = int(find_checkpoint(run, verify=True).name.split("_")[1])
    assert 0 < stopped_at < steps
    final = stopped_at + 2
    for target, directory in ((final, run), (final, tmp_path / "full")):
        done = subprocess.run(
            _command(directory, target), env=ENV, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    _assert_identical(_weights(run), _weights(tmp_path / "full"))


def test_second_signal_exits_at_once_without_corruption(tmp_path):
    """A second signal exits immediately (128 + signal); every checkpoint left behind is complete."""
    run = tmp_path / "run"
    process = _start(run, 10_000)
    assert _wait_for_training(process, run, 0)
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    # Python runs pending handlers in signal-number order, so either signal may be the "second";
    # 0 only if the step ended between the two deliveries
    assert process.returncode in (128 + signal.SIGINT, 128 + signal.SIGTERM, 0)
    assert all(is_complete(p, verify_hashes=True) for p in (run / "checkpoints").glob("step_*"))


def _kill_and_resume(tmp_path: Path, kills: int, steps: int, seed: int) -> tuple[int, int]:
    """SIGKILL a training run `kills` times at random points, resume each time, finish; returns
    (kills done, kills that left a half-written checkpoint)."""
    rng = random.Random(seed)
    run = tmp_path / "run"
    done, mid_write = 0, 0
    while done < kills:
        before = _train_lines(run)
        process = _start(run, steps)
        if not _wait_for_training(process, run, before):
            break  # finished before we could kill it
        time.sleep(rng.uniform(0.0, 0.25))
        process.kill()
        process.communicate()
        done += 1
        mid_write += bool(list((run / "checkpoints").glob(".tmp-*")))
    finish = subprocess.run(_command(run, steps), env=ENV, capture_output=True, text=True, check=False)
    assert finish.returncode == 0, finish.stderr
    reference = subprocess.run(
        _command(tmp_path / "ref", steps), env=ENV, capture_output=True, text=True, check=False
    )
    assert reference.returncode == 0, reference.stderr
    _assert_identical(_weights(run), _weights(tmp_path / "ref"))
    return done, mid_write


def test_sigkill_at_random_points_then_resume_is_bit_identical(tmp_path):
    """Three SIGKILLs at random points, each resumed: final weights equal an uninterrupted run."""
    done, _ = _kill_and_resume(tmp_path, kills=3, steps=60, seed=1)
    assert done == 3


@pytest.mark.slow
def test_twenty_sigkills_then_resume_is_bit_identical(tmp_path):
    """The acceptance run: 20 SIGKILLs at random points (some mid-checkpoint), bit-identical result."""
    done, mid_write = _kill_and_resume(tmp_path, kills=20, steps=300, seed=2)
    print(f"\nSIGKILL fault injection: {done} kills, {mid_write} left a half-written checkpoint")
    assert done == 20
