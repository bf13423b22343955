"""Shared fixtures: a tiny config, deterministic seeding, one torch thread per test worker."""

from __future__ import annotations

import os

import pytest
import torch

from rin.configs import ExperimentConfig, ModelConfig, get_preset

torch.set_num_threads(1)  # two xdist workers on two cores; oversubscription slows torch badly


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `slow` unless RUN_SLOW=1 or the run selects them with -m."""
    if os.environ.get("RUN_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: set RUN_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def tiny_config() -> ExperimentConfig:
    return get_preset("tiny")


def make_video_config(conditioning: str = "mask", frames: int = 6, context: int = 3) -> ModelConfig:
    """A tiny video model: 8x8 frames, 2x4x4 tubelets; k=3 puts frames 2 (given) and 3 in one tubelet."""
    return ModelConfig(
        image_size=8, channels=1, patch_size=4, num_latents=6, latent_dim=32, interface_dim=16,
        num_blocks=2, block_depth=1, latent_heads=2, rw_heads=2, latent_mlp_ratio=2,
        interface_mlp_ratio=2, dropout=0.0, drop_path=0.0, num_classes=0,
        frames=frames, context_frames=context, tubelet=2, conditioning=conditioning,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def video_config():
    """Factory of tiny video model configs: video_config(conditioning, frames, context_frames)."""
    return make_video_config
