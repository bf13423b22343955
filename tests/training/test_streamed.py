"""Training on streamed WebDataset shards: a resumed run continues the data where it stopped."""

from __future__ import annotations

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
