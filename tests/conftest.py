"""Shared fixtures: a tiny config, deterministic seeding, one torch thread per test worker."""

from __future__ import annotations

import os

import pytest
import torch

from rin.configs import ExperimentConfig, get_preset

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
