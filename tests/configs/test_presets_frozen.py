"""The presets, written as deltas of one base, equal the configs they were before that rewrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rin.configs import PRESETS, get_preset

# Dumped from commit 7274077, when every preset still restated each field.
FROZEN = json.loads((Path(__file__).parent / "fixtures" / "presets_7274077.json").read_text())


def test_the_frozen_copy_names_every_preset():
    """No preset was added or dropped without updating the frozen copy."""
    assert sorted(FROZEN) == sorted(PRESETS)


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_preset_equals_its_frozen_copy_field_by_field(name):
    """Every field of every section matches the frozen value, type included (1 is not 1.0)."""
    config = get_preset(name).to_dict()
    assert sorted(config) == sorted(FROZEN[name])
    for section, frozen in FROZEN[name].items():
        if not isinstance(frozen, dict):
            assert config[section] == frozen, section
            continue
        assert sorted(config[section]) == sorted(frozen), section
        for key, value in frozen.items():
            got = config[section][key]
            assert (type(got), got) == (type(value), value), f"{name}: {section}.{key}"
