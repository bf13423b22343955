"""Tests of numbered sample sets: per-sample seeds make them batch-size independent and resumable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rin.errors import RinError
from rin.model import RIN
from rin.sampling import generate
from rin.sampling.noise import per_sample_generators, randn
from rin.sampling.sample_set import draw_sample_set


def test_per_sample_noise_does_not_depend_on_the_batch():
    """Row i of per-sample noise is the same whether drawn alone or inside a larger batch."""
    together = randn((4, 3), per_sample_generators(7, range(4)), "cpu")
    alone = randn((1, 3), per_sample_generators(7, [2]), "cpu")
    assert torch.equal(together[2:3], alone)
    assert not torch.equal(together[0], together[1])


def _drawer(tiny_config):
    model = RIN(tiny_config.model).eval()
    calls = []

    def draw(num, labels, generators):
        calls.append(num)
        return generate(
            model, (1, 32, 32), num, tiny_config.diffusion, tiny_config.sampling, labels, generators
        )

    return draw, calls


def test_same_images_whatever_the_batch_size(tiny_config):
    """Samples 0..4 drawn in batches of 1, 2 and 5 are the same images."""
    draw, _ = _drawer(tiny_config)
    labels = torch.arange(5) % 10
    sets = [draw_sample_set(draw, 5, seed=3, labels=labels, batch_size=b) for b in (1, 2, 5)]
    for other in sets[1:]:
        # identical noise; only float round-off of different GEMM batch shapes may move a level
        assert np.abs(sets[0].astype(int) - other.astype(int)).max() <= 1
        assert (sets[0] == other).mean() > 0.99
    assert sets[0].shape == (5, 32, 32, 1) and sets[0].dtype == np.uint8


def test_interrupted_set_resumes_from_its_shards(tiny_config, tmp_path):
    """After a failure in the third shard, a rerun redraws only that shard and gives the same set."""
    draw, calls = _drawer(tiny_config)

    def failing(num, labels, generators):
        if len(calls) == 2:
            raise KeyboardInterrupt
        return draw(num, labels, generators)

    with pytest.raises(KeyboardInterrupt):
        draw_sample_set(failing, 6, 0, None, tmp_path / "shards", shard_size=2, batch_size=2)
    assert sorted(p.name for p in (tmp_path / "shards").glob("shard_*")) == [
        "shard_00000.npz",
        "shard_00001.npz",
    ]
    calls.clear()
    resumed = draw_sample_set(draw, 6, 0, None, tmp_path / "shards", shard_size=2, batch_size=2)
    assert calls == [2]  # shards 0 and 1 were reused
    fresh = draw_sample_set(draw, 6, 0, None, tmp_path / "fresh", shard_size=2, batch_size=2)
    assert np.array_equal(resumed, fresh)


def test_shards_of_other_settings_are_refused(tiny_config, tmp_path):
    """Shards drawn with another seed or sampler are not mixed into a new set."""
    draw, _ = _drawer(tiny_config)
    draw_sample_set(draw, 2, 0, None, tmp_path, shard_size=2, settings={"steps": 4})
    with pytest.raises(RinError, match="other settings"):
        draw_sample_set(draw, 2, 1, None, tmp_path, shard_size=2, settings={"steps": 4})
    with pytest.raises(RinError, match="other settings"):
        draw_sample_set(draw, 2, 0, None, tmp_path, shard_size=2, settings={"steps": 8})
