"""benchmarks/bench.py model names: a preset may carry overrides of its own ("mnist+KEY=VALUE")."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench import check_models  # noqa: E402
from bench_subjects import build_subject  # noqa: E402


def test_a_preset_with_its_own_overrides_builds_that_variant():
    """mnist has the interface conv; mnist+model.conv_kernel_size=0 does not, and keeps its name."""
    plain = build_subject("mnist", 2, 2, [])
    variant = build_subject("mnist+model.conv_kernel_size=0", 2, 2, [])
    assert plain.model.config.conv_kernel_size == 3
    assert variant.model.config.conv_kernel_size == 0
    assert variant.name == "rin mnist+model.conv_kernel_size=0"
    assert variant.key == "mnist+model.conv_kernel_size=0"  # the memory probe rebuilds it from the key


def test_bad_overrides_in_a_model_name_are_reported():
    """An unknown field after + is a one-line problem, as an unknown preset is."""
    assert check_models(["mnist+model.conv_kernel_size=0", "unet"]) == []
    problems = check_models(["mnist+model.nope=1", "nosuch"])
    assert len(problems) == 2 and problems[0].startswith("mnist+model.nope=1:")
