"""Arguments shared by the subcommands, and turning them into a validated config."""

from __future__ import annotations

import argparse

from rin.configs import PRESETS, ExperimentConfig, apply_overrides, get_preset
from rin.runtime.distributed import resolve_device as resolve_device  # the subcommands' --device


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="mnist", help=f"one of: {', '.join(PRESETS)} (default mnist)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.lr=1e-3 (repeatable)",
    )


def config_from_args(args: argparse.Namespace, extra: list[str] | None = None) -> ExperimentConfig:
    return apply_overrides(get_preset(args.preset), [*(extra or []), *args.overrides])
