"""`rin train`: train a preset, optionally on your data, with typed overrides."""

from __future__ import annotations

import argparse
from pathlib import Path

from rin.cli.common import add_config_arguments, config_from_args, resolve_device


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a RIN")
    add_config_arguments(parser)
    parser.add_argument("--data", help="data path: CIFAR-10 shard dir/tar, or an image folder")
    parser.add_argument("--steps", type=int, help="total training steps (overrides train.steps)")
    parser.add_argument("--batch-size", type=int, help="batch size (overrides train.batch_size)")
    parser.add_argument("--out", default=None, help="run directory (default runs/<preset>)")
    parser.add_argument("--resume", default=None, help="checkpoint dir, run dir, or 'auto'")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: auto)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rin.training import train  # heavy import after argument parsing
    from rin.training.distributed import launched_world, shutdown

    extra = []
    if args.data is not None:
        extra.append(f"data.path={args.data}")
    if args.steps is not None:
        extra.append(f"train.steps={args.steps}")
    if args.batch_size is not None:
        extra.append(f"train.batch_size={args.batch_size}")
    config = config_from_args(args, extra)
    out = Path(args.out or f"runs/{config.name}")
    world = launched_world()  # torchrun's environment; world size 1 without a launcher
    try:
        result = train(
            config, out, resume=args.resume, device=resolve_device(args.device), progress=not args.no_progress
        )
    finally:
        shutdown(world)
    if not world.is_main:
        return 0
    if result.stopped_by is not None:
        print(f"stopped by {result.stopped_by} at step {result.step}; checkpoint: {result.checkpoint}")
        print(f"resume with: rin train --resume auto --out {out} (and the same --preset/--set options)")
        return 0
    print(f"trained {result.step} steps, last loss {result.last_loss:.4f}; run directory {out}")
    if result.skipped_steps:
        print(f"skipped {result.skipped_steps} non-finite updates (see metrics.jsonl)")
    if result.checkpoint is not None:
        print(f"checkpoint: {result.checkpoint}")
        print(f"sample with: rin sample --checkpoint {out} --num 64")
    return 0
