"""Shared fixtures: a tiny config, deterministic seeding, one torch thread per test worker."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

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


def _write_shards(root: Path, shards: int, per_shard: int, channels: int = 1) -> list[str]:
    """`shards` tar shards of `per_shard` 32x32 PNG + .cls samples; keys are "SS_III"."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(shards):
        path = root / f"train-{s:06d}.tar"
        with tarfile.open(path, "w") as tar:
            for i in range(per_shard):
                key = f"{s:02d}_{i:03d}"
                pixels = np.full(
                    (32, 32, 3) if channels == 3 else (32, 32), (s * per_shard + i) % 256, np.uint8
                )
                png = io.BytesIO()
                Image.fromarray(pixels).save(png, format="PNG")
                for ext, data in (("png", png.getvalue()), ("cls", str(i % 10).encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        paths.append(str(path))
    return paths


@pytest.fixture
def shard_writer():
    """`(root, shards, per_shard, channels=1) -> paths`: WebDataset shards of PNG + .cls samples."""
    return _write_shards


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


def _write_frame_folders(
    root: Path, classes: tuple[str, ...] = ("jump", "run"), videos: int = 3, frames: int = 7, seed: int = 0
) -> Path:
    """`root/CLASS/clipV/0.png ...`: videos of random 12x10 RGB frames, video v with frames + v of them."""
    rng = np.random.default_rng(seed)
    for name in classes:
        for v in range(videos):
            folder = root / name / f"clip{v}"
            folder.mkdir(parents=True)
            for i in range(frames + v):
                Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


@pytest.fixture
def frame_folders():
    """`(root, classes=("jump", "run"), videos=3, frames=7, seed=0) -> root`: a Kinetics-style folder."""
    return _write_frame_folders
