"""Arguments shared by the subcommands, and turning them into a validated config."""

from __future__ import annotations

import argparse

import torch

from rin.configs import PRESETS, ExperimentConfig, apply_overrides, get_preset
from rin.errors import RinError

DEFAULT_PRESET = "mnist"


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    # default None, not DEFAULT_PRESET, so `rin train` can say that it chose the preset itself
    parser.add_argument("--preset", default=None, help=f"one of: {', '.join(PRESETS)} (default mnist)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.lr=1e-3 (repeatable)",
    )


def config_from_args(args: argparse.Namespace, extra: list[str] | None = None) -> ExperimentConfig:
    return apply_overrides(get_preset(args.preset or DEFAULT_PRESET), [*(extra or []), *args.overrides])


def resolve_device(name: str | None) -> torch.device:
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RinError(f"--device {name}: CUDA is not available on this machine")
    return device
