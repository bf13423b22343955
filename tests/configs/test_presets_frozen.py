"""The presets, written as deltas of one base, equal the configs they were before that rewrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rin.configs import PRESETS, get_preset

# Dumped from commit 7274077, when every preset still restated each field.
FROZEN = json.loads((Path(__file__).parent / "fixtures" / "presets_7274077.json").read_text())
# fields added since, with the value every preset has (the base's default)
ADDED = {
    "sampling": {"grid": "uniform", "carry": "every"},
    "train": {"tensorboard": False},
    "diffusion": {"loss": "prediction"},
    "model": {"conv_kernel_size": 0},
}
# deliberate, measured changes to a preset since the freeze (each explained in the preset's docstring)
CHANGED: dict[str, dict[str, object]] = {
    # 5x fewer calls for the same quality (README "Samplers"): DDPM on the Karras grid, 20 calls
    # the official interface conv joins strokes across patches (benchmarks/README.md "Recipe ablations")
    "mnist": {
        "model": {"conv_kernel_size": 3},
        "sampling": {"steps": 20, "grid": "karras", "time_difference": 0.0},
        "train": {"sample_steps": 20},
    },
    # Kinetics-size sets do not fit in memory: clip shards (`rin data video`) streamed over ranks x workers
    "kinetics600": {
        "data": {"dataset": "video_webdataset"},
        "notes": "16x64x64, 5 -> 11 frames, 2x4x4 tubelets, 2048 tokens from the paper; 411M params and "
        "387 GFLOPs reported (unverified); latents, widths, depth, schedule, lr, steps unverified; "
        "data: clip shards written by `rin data video` (Kinetics-600 is not bundled)",
    },
}


def expected(name: str) -> dict[str, object]:
    """The frozen preset with the fields added since and the deliberate changes."""
    sections = {k: dict(v) if isinstance(v, dict) else v for k, v in FROZEN[name].items()}
    for changes in (ADDED, CHANGED.get(name, {})):
        for section, fields in changes.items():
            if isinstance(fields, dict):
                sections[section].update(fields)  # type: ignore[union-attr]
            else:  # a top-level string such as `notes`
                sections[section] = fields
    return sections


def test_the_frozen_copy_names_every_preset():
    """No preset was added or dropped without updating the frozen copy."""
    assert sorted(FROZEN) == sorted(PRESETS)


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_preset_equals_its_frozen_copy_field_by_field(name):
    """Every field of every section matches the frozen value, type included (1 is not 1.0)."""
    config = get_preset(name).to_dict()
    assert sorted(config) == sorted(FROZEN[name])
    for section, frozen in expected(name).items():
        if not isinstance(frozen, dict):
            assert config[section] == frozen, section
            continue
        assert sorted(config[section]) == sorted(frozen), section
        for key, value in frozen.items():
            got = config[section][key]
            assert (type(got), got) == (type(value), value), f"{name}: {section}.{key}"
