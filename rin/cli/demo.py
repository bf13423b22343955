"""`rin demo`: train the `mnist` preset on the embedded digits, then measure the samples honestly.

Quality figure: a digit classifier trained on the training digits (cached) classifies
class-conditional samples; we print its accuracy against the conditioning labels, its accuracy on
held-out real digits (the ceiling), and the Frechet distance between its features of samples and
of held-out digits (a classifier-feature proxy, not FID).

`--seed N` sets `train.seed`; the samples are drawn from seed N + 1. `demo_results.json` records
the seed, the git commit, the machine and the torch version beside the figures, so a figure can
be traced to what produced it (`benchmarks/demo_seeds.py` runs several seeds and reports min /
median / max).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from rin.cli.common import add_config_arguments, config_from_args, resolve_device
from rin.configs import ExperimentConfig, apply_overrides
from rin.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="train on the embedded MNIST digits and report sample quality"
    )
    add_config_arguments(parser)
    parser.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    parser.add_argument(
        "--seed", type=int, default=None,
        help="training seed (sets train.seed; default: the preset's, 0); samples are drawn from seed + 1",
    )  # fmt: skip
    parser.add_argument("--num-eval", type=int, default=500, help="class-conditional samples to evaluate")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(run=run)


def demo_config(args: argparse.Namespace) -> ExperimentConfig:
    """The preset with --set overrides, then --seed (which wins over a --set train.seed)."""
    config = config_from_args(args)
    return config if args.seed is None else apply_overrides(config, [f"train.seed={args.seed}"])


def check_run_dir_seed(out: Path, seed: int) -> None:
    """Refuse to resume a run directory that holds checkpoints of another training seed: the demo
    would continue that run and report it under this seed."""
    try:
        saved = json.loads((out / "config.json").read_text())["train"]["seed"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no readable run here: training starts fresh (or resume reports its own error)
    has_checkpoints = any((out / "checkpoints").glob("step_*"))
    if has_checkpoints and saved != seed:
        raise ConfigError(
            f"{out} holds a run of train.seed={saved}, this demo has seed {seed}: "
            "pass another --out (or delete that run directory)"
        )


def run(args: argparse.Namespace) -> int:
    from rin.runtime.provenance import provenance
    from rin.training import train

    config = demo_config(args)
    device = resolve_device(args.device)
    out = Path(args.out)
    check_run_dir_seed(out, config.train.seed)
    started = time.perf_counter()
    result = train(config, out, resume="auto", device=device, progress=not args.no_progress)
    trained = time.perf_counter()
    figures, grid = sample_and_score(config, result.ema, args.num_eval, device, out, not args.no_progress)
    sampled = time.perf_counter()
    report = {
        "seed": config.train.seed,
        "sample_seed": config.train.seed + 1,
        **figures,
        "steps": result.step,
        "preset": config.name,
        "sampler": f"{config.sampling.sampler} {config.sampling.steps} steps, {config.sampling.grid} grid, "
        f"td {config.sampling.time_difference:g}, guidance {config.sampling.guidance:g}",
        "train_seconds": round(trained - started, 1),
        "sample_seconds": round(sampled - trained, 1),
        "grid": str(grid),
        **provenance(device),
    }
    (out / "demo_results.json").write_text(json.dumps(report, indent=2))
    print_summary(report)
    return 0


def sample_and_score(
    config: ExperimentConfig,
    ema: torch.nn.Module,
    num_eval: int,
    device: torch.device,
    out: Path,
    progress: bool,
) -> tuple[dict[str, Any], Path]:
    """Draw `num_eval` class-conditional samples (label i mod K) from seed train.seed + 1, score
    them with the digit classifier, and save the first 100 as a grid (one class per column)."""
    from rin.data import load_mnist, save_grid
    from rin.evaluation import evaluate_digit_samples, load_or_train_digit_classifier
    from rin.evaluation.variety import relative_variety
    from rin.sampling import generate

    classifier = load_or_train_digit_classifier()
    heldout = load_mnist("test")
    k = config.model.num_classes
    labels = torch.arange(num_eval) % k
    generator = torch.Generator(device).manual_seed(config.train.seed + 1)
    shape = (config.model.channels, config.model.image_size, config.model.image_size)
    samples = generate(
        ema, shape, num_eval, config.diffusion, config.sampling, labels, generator, device, progress=progress
    ).cpu()
    figures: dict[str, Any] = evaluate_digit_samples(
        samples, labels, classifier, heldout.images, heldout.labels
    )
    figures["variety"] = relative_variety(samples, labels, heldout.images, heldout.labels)
    return figures, save_grid(samples[:100], out / "demo_samples.png", nrow=k)


def print_summary(report: dict[str, Any]) -> None:
    """The figures of `demo_results.json`, one per line."""
    print()
    print(f"RIN demo: preset {report['preset']}, {report['steps']} training steps, {report['sampler']}")
    print(f"  training seed (samples: seed + 1)          {report['seed']}")
    print(f"  class-conditional samples evaluated        {report['num_samples']}")
    print(f"  digit-classifier accuracy on samples       {100 * report['sample_accuracy']:.1f}%")
    print(f"  same classifier on held-out real digits    {100 * report['heldout_accuracy']:.1f}%")
    print(f"  classifier-feature Frechet distance        {report['frechet_distance']:.3f} (proxy, not FID)")
    print(f"  within-class variety (real digits = 1)     {report['variety']:.3f}")
    print(f"  sample grid (one class per column)         {report['grid']}")
    commit = report["commit"] or "unknown (no git checkout)"
    dirty = " with uncommitted changes" if report["dirty"] else ""
    print(f"  code and machine                           {commit}{dirty}, {report['machine']}")
    print(f"  torch                                      {report['torch']}, {report['threads']} threads")
