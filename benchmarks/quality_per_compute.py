"""Quality per compute: rin against a U-Net and a DiT of the same forward FLOPs, same data, same seconds.

Each model trains for the same wall-clock budget on this machine (same threads, fp32, same
batches, taking turns; see `qpc_train`), and at 25/50/100% of it its EMA weights draw the same
class-conditional samples from the same noise through rin's sampler (same sampler, steps,
guidance, time difference and clipping; rin carries its latents, the peers go through a
denoise adapter, see `qpc_peers`). Scores: the project's extractor accuracy, Frechet proxy and
within-class variety, beside the real-data floor. Writes results.json, results.md,
quality_per_compute.png (quality against training seconds and FLOPs) and samples_side_by_side.png.

    PYTHONPATH=. python benchmarks/quality_per_compute.py --setting mnist          # ~1 h on 2 cores
    PYTHONPATH=. python benchmarks/quality_per_compute.py --setting cifar10 --data /path/to/shards
    PYTHONPATH=. python benchmarks/quality_per_compute.py --models unet@lr=1e-3,unet@lr=2e-3 \\
        --budget-seconds 120 --eval-fractions 1                                     # a learning-rate sweep
    PYTHONPATH=. python benchmarks/quality_per_compute.py --setting cifar10 --data /path/to/shards \\
        --device cuda --models rin,unet --budget-seconds 110 --num-samples 500      # gpu_check.sh

The peers need diffusers (pip install diffusers, or the `bench` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from bench_measure import device_clock
from qpc_contenders import Contender, build_contender, parse_spec, rin_forward_flops
from qpc_eval import Scorer, draw_samples
from qpc_report import plot_curves, print_table, side_by_side, write_json, write_markdown
from qpc_train import Trainee, run_budget

from rin.configs import apply_overrides, get_preset
from rin.configs.experiment import ExperimentConfig
from rin.data import BatchStream, load_cifar10_shards, load_dataset, load_mnist, save_grid, to_model_range
from rin.runtime.provenance import cpu_name


@dataclass(frozen=True)
class Setting:
    budget_seconds: float  # per model
    num_samples: int
    overrides: tuple[str, ...]  # on the `mnist` preset, whose recipe is tuned for a CPU budget


SETTINGS = {
    # the demo: the preset's 5000 steps take ~740 s on a quiet 2-core machine
    "mnist": Setting(740.0, 500, ()),
    # the same small RIN and recipe on 3 channels (not tuned for CIFAR-10), with flips
    "cifar10": Setting(1800.0, 1000, ("model.channels=3", "data.dataset=cifar10", "data.random_flip=true")),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="mnist")
    parser.add_argument("--data", default="", help="CIFAR-10 WebDataset shards (--setting cifar10)")
    parser.add_argument("--budget-seconds", type=float, help="training s per model (default: setting's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, help="samples per model and point (default: setting's)")
    parser.add_argument("--out", help="output folder (default runs/qpc-<setting>)")
    parser.add_argument("--models", default="rin,unet,dit", help="comma-separated; name@lr=X sets a peak LR")
    parser.add_argument("--eval-fractions", default="0.25,0.5,1", help="fractions of the budget")
    parser.add_argument("--slice-seconds", type=float, default=10.0, help="training seconds per turn")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: process CPU seconds, for comparisons on a busy machine with --threads 1 "
                        "(never for reported figures)")  # fmt: skip
    parser.add_argument("--sample-batch", type=int, default=250)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="rin config override (also sets the shared batch, EMA and sampler)")  # fmt: skip
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]: where the models train "
                        "and sample (fp32 throughout; scores are computed the same way)")  # fmt: skip
    parser.add_argument("--proxy-cache", help="folder of the cached CIFAR-10 proxy (default: $RIN_CACHE or "
                        "~/.cache/rin); trained there on --device if absent")  # fmt: skip
    parser.add_argument(
        "--dry-run", action="store_true", help="check arguments, data and peers; train nothing"
    )
    args = parser.parse_args()
    setting = SETTINGS[args.setting]
    args.budget_seconds = args.budget_seconds or setting.budget_seconds
    args.num_samples = args.num_samples or setting.num_samples
    args.out = Path(args.out or f"runs/qpc-{args.setting}")
    if args.setting == "cifar10" and not args.data:
        parser.error("--setting cifar10 needs --data (the CIFAR-10 WebDataset shards)")
    if args.clock == "cpu" and args.device != "cpu":
        parser.error(f"--clock cpu measures host CPU seconds; on {args.device} use --clock wall")
    return args


def build_config(args: argparse.Namespace) -> ExperimentConfig:
    extra = [f"data.path={args.data}"] if args.data else []
    return apply_overrides(get_preset("mnist"), [*SETTINGS[args.setting].overrides, *extra, *args.overrides])


def build_scorer(args: argparse.Namespace, train_pool) -> Scorer:
    """The setting's extractor: the digit classifier (mnist) or the CIFAR-10 proxy (cifar10)."""
    if args.setting == "mnist":
        from rin.evaluation.networks.digits import classifier_features, load_or_train_digit_classifier

        classifier = load_or_train_digit_classifier()

        @torch.no_grad()
        def digits(images: torch.Tensor):
            features = classifier_features(classifier, images)
            return features.double().numpy(), classifier.head(features).argmax(dim=1)

        return Scorer("digit-classifier features", digits, load_mnist("test"), train_pool)
    from rin.evaluation.networks.cifar_proxy import cifar_proxy_features, load_or_train_cifar_proxy

    cache = Path(args.proxy_cache) if args.proxy_cache else None
    proxy = load_or_train_cifar_proxy(args.data, cache, device=args.device).to(args.device)

    def cifar(images: torch.Tensor):
        features, logits = cifar_proxy_features(proxy, images)
        return features, torch.from_numpy(logits.argmax(axis=1))

    return Scorer("cifar10-proxy-v1 features", cifar, load_cifar10_shards(args.data, "test"), train_pool)


def results_skeleton(args: argparse.Namespace, config: ExperimentConfig, scorer: Scorer) -> dict:
    s = config.sampling
    return {
        "setting": args.setting, "budget_seconds": args.budget_seconds, "threads": args.threads,
        "seed": args.seed, "num_samples": args.num_samples, "precision": "fp32", "clock": args.clock,
        "device": args.device,
        "sampler": f"{s.sampler} {s.steps} steps, guidance {s.guidance:g}, time difference "
                   f"{s.time_difference:g}, clip {s.clip_x0}, batch {config.train.batch_size}",
        "machine": f"{machine_name(args.device)}, torch {torch.__version__}",
        "extractor": f"{scorer.name} (proxy, not FID)",
        "heldout": f"{len(scorer.heldout)} held-out real images",
        "floor": {}, "models": [],
    }  # fmt: skip


def machine_name(device: str) -> str:
    """The CPU's name, and the GPU's where the models run on one."""
    if device == "cpu":
        return cpu_name()
    return f"{torch.cuda.get_device_name(device)} ({device}), host {cpu_name()}"


def dry_run(args: argparse.Namespace) -> None:
    """Check the arguments, the data path, the peers and the proxy cache; exit 2 on a problem."""
    problems: list[str] = []
    config = build_config(args)
    kinds = []
    for spec in args.models.split(","):
        try:
            kinds.append(parse_spec(spec)[0])
        except ValueError as error:
            problems.append(str(error))
    if any(kind != "rin" for kind in kinds):
        try:
            import diffusers  # noqa: F401
        except ImportError as error:
            problems.append(f"the peers need diffusers ({error})")
    if args.setting == "cifar10":
        if not Path(args.data).is_dir():
            problems.append(f"--data {args.data}: not a folder of CIFAR-10 shards")
        from rin.evaluation.networks.cifar_proxy import CACHE_FILE_NAME
        from rin.evaluation.networks.weights import default_cache_dir

        cache = Path(args.proxy_cache) if args.proxy_cache else default_cache_dir()
        proxy = "cached" if (cache / CACHE_FILE_NAME).is_file() else f"not cached: trains on {args.device}"
    else:
        proxy = "digit classifier"
    if args.device != "cpu" and not torch.cuda.is_available():
        print(f"note: {args.device} is not available here (dry run only: a real run would stop)")
    plan = {"setting": args.setting, "device": args.device, "models": kinds, "data": args.data,
            "budget_seconds": args.budget_seconds, "num_samples": args.num_samples,
            "eval_fractions": args.eval_fractions, "batch": config.train.batch_size, "extractor": proxy,
            "out": str(args.out)}  # fmt: skip
    print("dry run:", json.dumps(plan))
    for problem in problems:
        print("error:", problem)
    if problems:
        sys.exit(2)


def to_device(contender: Contender, device: str) -> None:
    """Move a contender's model and EMA copy (built and FLOP-counted on the CPU) to `device`;
    `Module.to` keeps the parameter objects, so the optimiser built on them still holds them."""
    contender.trainee.model.to(device)
    contender.trainee.ema.model.to(device)


def describe(contender: Contender, target: float) -> dict:
    return {
        "name": contender.name, "kind": contender.kind, "params": contender.params,
        "forward_gflops": contender.forward_gflops, "flops_ratio_to_rin": contender.forward_gflops / target,
        "train_gflops_per_image": contender.train_gflops, "lr": contender.trainee.lr,
        "architecture": contender.architecture, "recipe": contender.recipe, "evals": [],
    }  # fmt: skip


class Evaluator:
    """`evaluate(trainee, fraction)` for `run_budget`: sample, score, record, save the grid and the JSON."""

    def __init__(self, args: argparse.Namespace, config: ExperimentConfig, scorer: Scorer,
                 contenders: list[Contender], results: dict, labels: torch.Tensor) -> None:  # fmt: skip
        self.args, self.config, self.scorer, self.results, self.labels = args, config, scorer, results, labels
        self.by_trainee = {
            id(c.trainee): (c, entry) for c, entry in zip(contenders, results["models"], strict=True)
        }
        self.grids: dict[str, torch.Tensor] = {}  # each model's latest 100 samples

    def __call__(self, trainee: Trainee, fraction: float) -> None:
        contender, entry = self.by_trainee[id(trainee)]
        m, start = self.config.model, time.perf_counter()
        images, calls = draw_samples(contender.make_denoiser, (m.channels, m.image_size, m.image_size),
                                     self.labels, self.config.sampling, self.config.diffusion.input_scale,
                                     self.args.seed + 1, self.args.sample_batch,
                                     self.args.device)  # fmt: skip
        point = {"fraction": fraction, "seconds": trainee.seconds, "steps": trainee.steps,
                 "images": trainee.images, "train_flops": trainee.images * contender.train_gflops * 1e9,
                 "loss": trainee.last_loss, "diverged": trainee.diverged, "network_calls_per_sample": calls,
                 **self.scorer.score(images, self.labels),
                 "sample_seconds": time.perf_counter() - start}  # fmt: skip
        entry["evals"].append(point)
        self.grids[trainee.name] = images[:100]
        out = self.args.out
        save_grid(images[:100], out / "grids" / f"{trainee.name}-{round(100 * fraction)}.png", nrow=10)
        write_json(self.results, out)
        shown = (f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in point.items())
        print(f"[{trainee.name} {100 * fraction:.0f}%] " + ", ".join(shown), flush=True)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.dry_run:
        dry_run(args)
        return
    if args.device != "cpu" and not torch.cuda.is_available():
        sys.exit(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    config = build_config(args)
    data = load_dataset(config.data, config.model)
    scorer = build_scorer(args, data)
    stream = BatchStream(data, config.train.batch_size, args.seed, config.data.random_flip)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = stream.batch(step)
        return to_model_range(images, config.diffusion.input_scale).to(args.device), labels.to(args.device)

    contenders = [build_contender(spec, config, args.seed) for spec in args.models.split(",")]
    for c in contenders:
        to_device(c, args.device)
    target = rin_forward_flops(config) / 1e9  # what the peers are sized to
    labels = torch.arange(args.num_samples) % config.model.num_classes
    results = results_skeleton(args, config, scorer)
    results["floor"] = scorer.floor(labels, args.seed)
    results["models"] = [describe(c, target) for c in contenders]
    args.out.mkdir(parents=True, exist_ok=True)
    for c in contenders:
        print(f"{c.name}: {c.params:,} params, {c.forward_gflops:.4f} fwd GFLOPs/img "
              f"({c.forward_gflops / target:.3f}x rin), {c.train_gflops:.4f} train GFLOPs/img; "
              f"{c.architecture}; {c.recipe}")  # fmt: skip
    print(f"real-data floor: {results['floor']}")
    evaluate = Evaluator(args, config, scorer, contenders, results, labels)
    run_budget([c.trainee for c in contenders], args.budget_seconds,
               [float(f) for f in args.eval_fractions.split(",")], batch, evaluate, args.seed,
               args.slice_seconds, device_clock(args.clock, args.device))  # fmt: skip
    written = [write_json(results, args.out), write_markdown(results, args.out),
               plot_curves(results, args.out), side_by_side(evaluate.grids, args.out)]  # fmt: skip
    print()
    print_table(results)
    print("wrote " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
