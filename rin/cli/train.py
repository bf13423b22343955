"""`rin train`: train a preset, optionally on your data, with typed overrides."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rin.cli.common import add_config_arguments, config_from_args, resolve_device
from rin.cli.plot import report_curves
from rin.configs import ExperimentConfig
from rin.errors import RinError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a RIN")
    add_config_arguments(parser)
    parser.add_argument("--data", help="data path: shards made by rin data (dir, glob, URLs), or a folder")
    parser.add_argument("--steps", type=int, help="total training steps (overrides train.steps)")
    parser.add_argument("--batch-size", type=int, help="batch size (overrides train.batch_size)")
    parser.add_argument("--out", default=None, help="run directory (default runs/<preset>)")
    parser.add_argument("--resume", default=None, help="checkpoint dir, run dir, or 'auto'")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: auto)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="also log to <out>/tensorboard (sets train.tensorboard=true)",
    )
    parser.add_argument(
        "--shard", action="store_true", help="FSDP2 sharding under torchrun (sets train.shard=true)"
    )
    parser.add_argument(
        "--eval-ref", help="reference stats (rin evaluate stats): evaluate every train.eval_every"
    )
    parser.add_argument(
        "--eval-extractor", default="inception", choices=["inception", "cifar10-proxy", "digits"]
    )
    parser.add_argument("--inception-weights", help="FID Inception weights for --eval-extractor inception")
    parser.add_argument(
        "--allow-other-inception-weights", action="store_true",
        help="use --inception-weights whose SHA-256 is not the FID file's",
    )  # fmt: skip
    parser.add_argument(
        "--eval-resize", choices=["torch", "tf"],
        help="Inception input resize, as rin evaluate --resize (default torch); must match --eval-ref's",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rin.runtime.distributed import launched_world, shutdown
    from rin.training import train  # heavy import after argument parsing

    extra = []
    if args.data is not None:
        extra.append(f"data.path={args.data}")
    if args.steps is not None:
        extra.append(f"train.steps={args.steps}")
    if args.batch_size is not None:
        extra.append(f"train.batch_size={args.batch_size}")
    if args.shard:
        extra.append("train.shard=true")
    if args.tensorboard:
        extra.append("train.tensorboard=true")
    config = config_from_args(args, extra)
    if config.data.path and not config.data.reads_path:
        given = "--data" if args.data is not None else "data.path"
        raise RinError(
            f"{given} is not used by data.dataset={config.data.dataset} (preset {config.name} trains on "
            f"{config.data.describe()}); for your images add --set data.dataset=folder"
        )
    if config.train.tensorboard:
        from rin.training.tensorboard_log import require_tensorboard

        require_tensorboard()  # before any data is loaded: a missing extra costs nothing
    out = Path(args.out or f"runs/{config.name}")
    world = launched_world()  # torchrun's environment; world size 1 without a launcher
    if world.is_main:  # say what was chosen: `rin train` alone starts a 5k-step MNIST run
        default = " (the default; choose with --preset)" if args.preset is None else ""
        print(f"rin train: preset {config.name}{default}, data: {config.data.describe()}, "
              f"{config.train.steps} steps, run directory {out}")  # fmt: skip
    evaluate = None
    if args.eval_ref is not None:
        if config.train.eval_every == 0:
            raise RinError("--eval-ref needs --set train.eval_every=N (steps between evaluations)")
        evaluate = _evaluator(args, config, resolve_device(args.device))
    try:
        device = resolve_device(args.device)
        progress = not args.no_progress
        result = train(config, out, resume=args.resume, device=device, progress=progress, evaluate=evaluate)
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
    report_curves(out)
    if config.train.tensorboard:
        print(f"tensorboard: tensorboard --logdir {out / 'tensorboard'}")
    return 0


def _evaluator(
    args: argparse.Namespace, config: ExperimentConfig, device: torch.device
) -> Callable[[nn.Module, int], float]:
    """EMA model -> the Frechet distance (FID or the named proxy) of train.eval_num fixed-seed samples."""
    from rin.evaluation.extractors import get_extractor
    from rin.evaluation.image_batch_reference import reference_for
    from rin.evaluation.scoring import score_samples
    from rin.sampling import generate
    from rin.sampling.sample_set import draw_sample_set

    extractor = get_extractor(args.eval_extractor, args.inception_weights, config.data.path or None, device,
                              allow_other_inception_weights=args.allow_other_inception_weights,
                              resize=args.eval_resize)  # fmt: skip
    reference = reference_for(args.eval_ref, extractor)  # rin stats, or an image batch .npz (ADM's)
    size = config.model.image_size
    reference.check_resolution(size, size, "this model's samples")  # before training, not at the first eval
    num, k = config.train.eval_num, config.model.num_classes
    labels = torch.arange(num) % k if k > 0 else None
    shape = (config.model.channels, config.model.image_size, config.model.image_size)

    def evaluate(ema: nn.Module, step: int) -> float:
        def draw(
            count: int, batch_labels: torch.Tensor | None, generators: list[torch.Generator]
        ) -> torch.Tensor:
            return generate(
                ema, shape, count, config.diffusion, config.sampling, batch_labels, generators, device
            )

        images = draw_sample_set(draw, num, config.train.seed, labels, device=device)
        assert images is not None
        result = score_samples(
            np.ascontiguousarray(images.transpose(0, 3, 1, 2)), reference, extractor, kid_subsets=0
        )
        return float(result["frechet"])

    return evaluate
