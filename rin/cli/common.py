"""Arguments shared by the subcommands, and turning them into a validated config."""

from __future__ import annotations

import argparse
import dataclasses
from typing import get_args

from rin.configs import PRESETS, ExperimentConfig, apply_overrides, get_preset
from rin.configs.experiment import GridName, SamplingConfig
from rin.runtime.distributed import resolve_device as resolve_device  # the subcommands' --device
from rin.sampling.registry import SAMPLERS

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


def sampler_epilog() -> str:
    """The registered samplers, one line each, for `--help`."""
    lines = [f"  {name:<9} {info.summary}" for name, info in SAMPLERS.items()]
    return "samplers (--sampler):\n" + "\n".join(lines)


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """--sampler, --steps and --grid, overriding the checkpoint config's `sampling`."""
    parser.add_argument("--sampler", choices=list(SAMPLERS), help="default: the config's (list below)")
    parser.add_argument(
        "--steps", type=int, help="sampler steps (default: the config's); heun and dpmpp_2s call twice a step"
    )
    parser.add_argument("--grid", choices=get_args(GridName), help="time grid (default: the config's)")


def sampling_from_args(sampling: SamplingConfig, args: argparse.Namespace) -> SamplingConfig:
    """The config's sampling settings with the command line's --sampler / --steps / --grid applied."""
    changes = {
        name: getattr(args, name) for name in ("sampler", "steps", "grid") if getattr(args, name) is not None
    }
    return dataclasses.replace(sampling, **changes)
