"""Typed configuration: dataclasses, presets and `--set` overrides (no torch imports)."""

from rin.configs.experiment import (
    ConfigError,
    DataConfig,
    DiffusionConfig,
    ExperimentConfig,
    ModelConfig,
    SamplingConfig,
    TrainConfig,
)
from rin.configs.overrides import apply_overrides, config_from_json, config_to_json
from rin.configs.presets import PRESETS, get_preset

__all__ = [
    "PRESETS",
    "ConfigError",
    "DataConfig",
    "DiffusionConfig",
    "ExperimentConfig",
    "ModelConfig",
    "SamplingConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_json",
    "config_to_json",
    "get_preset",
]
