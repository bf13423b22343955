"""Typed `--set section.field=value` overrides, parsed without `eval` or `exec`."""

from __future__ import annotations

import json
from typing import Any

from rin.configs.experiment import ConfigError, ExperimentConfig, coerce_value


def _parse_text(text: str, default: Any, key: str) -> Any:
    """Turn the text of an override into the field's type (the type of its default)."""
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key} must be true or false, got {text!r}")
    if isinstance(default, int):
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise ConfigError(f"{key} must be an integer, got {text!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {text!r}") from None
    return coerce_value(text, default, key)


def apply_overrides(config: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Return a new, re-validated config with each `section.field=value` applied in order."""
    data = config.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.field=value")
        key, text = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        if len(parts) == 1 and parts[0] in ("name", "notes"):
            data[parts[0]] = text
            continue
        if len(parts) != 2 or parts[0] not in data or not isinstance(data[parts[0]], dict):
            raise ConfigError(
                f"unknown config key {key!r}; sections are model, diffusion, sampling, data, train"
            )
        section, name = parts
        if name not in data[section]:
            known = ", ".join(sorted(data[section]))
            raise ConfigError(f"unknown config key {key!r}; {section} has {known}")
        data[section][name] = _parse_text(text, data[section][name], key)
    return ExperimentConfig.from_dict(data)


def config_to_json(config: ExperimentConfig) -> str:
    return json.dumps(config.to_dict(), indent=2, sort_keys=True)


def config_from_json(text: str) -> ExperimentConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"config is not valid JSON: {error}") from None
    return ExperimentConfig.from_dict(data)
