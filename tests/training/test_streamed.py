"""Training on streamed WebDataset shards: a resumed run continues the data where it stopped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from rin.configs import apply_overrides
from rin.training import find_checkpoint, load_state, train


def _config(tiny_config, shards: str):
    return apply_overrides(tiny_config, [
        "data.dataset=webdataset", f"data.path={shards}", "data.workers=2", "train.steps=4",
        "train.batch_size=4", "train.grad_accum=2", "train.checkpoint_every=2", "train.num_samples=1",
        "train.sample_steps=1",
    ])  # fmt: skip


def test_streamed_resume_is_bit_identical(tiny_config, shard_writer, tmp_path):
    """2 workers, stop after 2 of 4 steps, resume: the weights equal those of an uninterrupted run."""
    shard_writer(tmp_path / "shards", shards=4, per_shard=5)
    config = _config(tiny_config, str(tmp_path / "shards"))
    whole = train(config, tmp_path / "whole", progress=False)
    train(config, tmp_path / "cut", progress=False, stop_after=2)
    state = load_state(find_checkpoint(tmp_path / "cut"))
    assert state["extra"]["data"][0]["num_slots"] == 2  # the loader position is in the checkpoint
    resumed = train(config, tmp_path / "cut", progress=False, resume="auto")
    assert resumed.step == whole.step == 4
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_streamed_clip_resume_is_bit_identical(tiny_config, video_config, frame_folders, tmp_path):
    """Clip shards (video_webdataset), 2 workers, stop after 2 of 4 steps, resume: the same weights."""
    import dataclasses

    from rin.data.prepare import video_folder_to_shards
    from rin.data.video_folder import ClipSpec

    src = frame_folders(tmp_path / "src")
    video_folder_to_shards(src, tmp_path / "shards", ClipSpec(6, 8, channels=1), shard_size=2)
    image = _config(tiny_config, str(tmp_path / "shards"))  # the image test's data and train settings
    clips = dataclasses.replace(image.data, dataset="video_webdataset")
    config = dataclasses.replace(image, model=video_config("mask", frames=6, context=3), data=clips)
    whole = train(config, tmp_path / "whole", progress=False)
    train(config, tmp_path / "cut", progress=False, stop_after=2)
    assert load_state(find_checkpoint(tmp_path / "cut"))["extra"]["data"][0]["num_slots"] == 2
    resumed = train(config, tmp_path / "cut", progress=False, resume="auto")
    assert resumed.step == whole.step == 4
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_two_processes_save_both_ranks_positions(shard_writer, tmp_path):
    """torchrun, 2 gloo ranks x 1 worker on streamed shards: the checkpoint holds both ranks' positions."""
    shard_writer(tmp_path / "shards", shards=4, per_shard=5)
    sets = ["data.dataset=webdataset", f"data.path={tmp_path / 'shards'}", "data.workers=1", "train.steps=2",
            "train.batch_size=4", "train.num_samples=1", "train.sample_steps=1"]  # fmt: skip
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command = [
        *launcher,
        "-m",
        "rin",
        "train",
        "--preset",
        "tiny",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
    ]
    command += [arg for s in sets for arg in ("--set", s)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    states = load_state(find_checkpoint(tmp_path / "run"))["extra"]["data"]
    assert [s["rank"] for s in states] == [0, 1]
    assert [sorted(s["positions"]) for s in states] == [[0], [1]]  # slot r = rank r, each 2 steps x 2 samples
    assert all(list(s["positions"].values())[0][0] == 0 for s in states)  # still in epoch 0
