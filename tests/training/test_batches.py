"""In-memory data (image folders, CIFAR-10, MNIST) on several ranks: a distributed sampler without state."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from rin.configs import apply_overrides
from rin.data import load_image_folder, load_mnist
from rin.training.batches import MemoryBatches
from rin.training.distributed import World


def test_image_folder_ranks_are_disjoint_and_cover_each_epoch(tiny_config, tmp_path):
    """2 ranks over one epoch of a 24-image folder: disjoint rows that together hold every image once."""
    for i in range(24):
        (tmp_path / f"class{i % 3}").mkdir(exist_ok=True)
        Image.fromarray(np.full((32, 32), i * 10, np.uint8)).save(tmp_path / f"class{i % 3}" / f"{i}.png")
    folder = load_image_folder(str(tmp_path), 32, 1)
    config = apply_overrides(tiny_config, ["train.batch_size=8", "data.random_flip=false"])
    seen: list[list[int]] = []
    for rank in range(2):
        batches = MemoryBatches(folder, config, World(rank=rank, size=2))
        pixels = [int(v) for step in range(3) for v in batches.batch(step)[0][:, 0, 0, 0]]  # 3 steps x 4 rows
        seen.append(pixels)
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == [i * 10 for i in range(24)]


def test_rank_rows_are_the_global_batch(tiny_config):
    """Concatenating the 2 ranks' rows of a step gives exactly the 1-process batch of that step."""
    config = apply_overrides(tiny_config, ["train.batch_size=8", "data.random_flip=true"])
    digits_subset = load_mnist("train").subset(list(range(100)))
    one = MemoryBatches(digits_subset, config, World())
    ranks = [MemoryBatches(digits_subset, config, World(rank=r, size=2)) for r in range(2)]
    for step in (0, 5):
        assert torch.equal(torch.cat([r.batch(step)[0] for r in ranks]), one.batch(step)[0])
