"""Training on real data: CIFAR-10 shards (shared copy) and the embedded MNIST digits."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rin.configs import apply_overrides, get_preset
from rin.data import load_cifar10_shards
from rin.training import train

CIFAR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cifar10"


@pytest.mark.skipif(not CIFAR.is_dir(), reason="no shared CIFAR-10 shards on this machine")
def test_cifar10_preset_trains_on_shards_with_finite_loss(tmp_path):
    """The cifar10 preset (narrowed for speed) trains on real CIFAR-10 shards with flips; loss is finite."""
    data = load_cifar10_shards(str(CIFAR), limit=64)
    config = apply_overrides(
        get_preset("cifar10"),
        [f"data.path={CIFAR}", "model.latent_dim=64", "model.interface_dim=32", "model.latent_heads=4",
         "model.rw_heads=4", "model.num_latents=16", "train.batch_size=4", "train.steps=3",
         "train.num_samples=2", "train.sample_steps=2"],
    )  # fmt: skip
    result = train(config, tmp_path, data=data, progress=False)
    assert result.step == 3 and math.isfinite(result.last_loss)
