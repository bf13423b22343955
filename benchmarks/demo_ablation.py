"""Recipe ablations for the `mnist` demo: train a variant with `--set` overrides, score it, log a row.

Each call trains one variant of the `mnist` preset through rin's own training loop (so what helps
here helps `make demo`), samples `--num-eval` class-conditional digits with the preset's sampler
from a fixed seed, and scores them with the demo's evaluators: digit-classifier accuracy, the
classifier-feature Frechet proxy against the held-out digits, and within-class variety relative to
real digits. The row (with the training CPU seconds and steps) is appended to
`benchmarks/ablation/results.jsonl`; `--table` prints every row as markdown.

    python benchmarks/demo_ablation.py --name base --steps 2500
    python benchmarks/demo_ablation.py --name patch2 --steps 2500 --set model.patch_size=2
    python benchmarks/demo_ablation.py --table

Runs use one thread and the process CPU clock, so two variants can share a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import time
from pathlib import Path

import torch

from rin.configs import apply_overrides, get_preset
from rin.data import load_mnist, save_grid
from rin.evaluation import evaluate_digit_samples, load_or_train_digit_classifier
from rin.evaluation.variety import relative_variety
from rin.sampling import generate
from rin.training import train

HERE = Path(__file__).resolve().parent / "ablation"


def parse_args() -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--name", help="variant name (a row of the table)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--preset", default="mnist")
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0, help="training seed (train.seed)")
    parser.add_argument("--sample-seed", type=int, default=1)
    parser.add_argument("--num-eval", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", default="/tmp/rin-ablation", help="run directories (deleted after)")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    parser.add_argument("--results", type=Path, default=HERE / "results.jsonl")
    parser.add_argument("--table", action="store_true", help="print the results as markdown and exit")
    return parser.parse_args()


def score(model: torch.nn.Module, config, num: int, seed: int, grid_path: Path) -> dict[str, float]:
    """The demo's figures for `num` class-conditional samples drawn from `seed`."""
    labels = torch.arange(num) % config.model.num_classes
    generator = torch.Generator().manual_seed(seed)
    shape = (config.model.channels, config.model.image_size, config.model.image_size)
    samples = generate(
        model, shape, num, config.diffusion, config.sampling, labels, generator, "cpu", progress=False
    )
    heldout = load_mnist("test")
    classifier = load_or_train_digit_classifier()
    figures = evaluate_digit_samples(samples, labels, classifier, heldout.images, heldout.labels)
    figures["variety"] = relative_variety(samples, labels, heldout.images, heldout.labels)
    save_grid(samples[:100], grid_path, nrow=config.model.num_classes)
    return figures


def run_dir_of(args: argparse.Namespace) -> Path:
    """The run's folder: name, steps and seed, so two lengths of one variant can run side by side."""
    return Path(args.runs) / f"{args.name}-{args.steps}-s{args.seed}"


def run_variant(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    fixed = [f"train.steps={args.steps}", f"train.seed={args.seed}", "train.sample_every=0"]
    overrides = [*fixed, *args.overrides]
    config = apply_overrides(get_preset(args.preset), overrides)
    run_dir = run_dir_of(args)
    shutil.rmtree(run_dir, ignore_errors=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = train(config, run_dir, device=torch.device("cpu"), progress=False)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    grid = HERE / "grids" / f"{args.name}-{args.steps}-s{args.seed}.png"
    figures = score(result.ema, config, args.num_eval, args.sample_seed, grid)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "name": args.name, "overrides": args.overrides, "preset": args.preset, "steps": args.steps,
        "seed": args.seed, "sample_seed": args.sample_seed, "num_eval": args.num_eval,
        "train_cpu_s": round(cpu1 - cpu0, 1), "train_wall_s": round(wall1 - wall0, 1),
        "accuracy": figures["sample_accuracy"], "frechet": figures["frechet_distance"],
        "variety": figures["variety"], "sampler": f"{config.sampling.sampler} {config.sampling.steps} "
        f"{config.sampling.grid} td {config.sampling.time_difference:g} w {config.sampling.guidance:g}",
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "threads": args.threads, "date": time.strftime("%Y-%m-%d %H:%M"),
    }  # fmt: skip


def spread(group: list[dict], key: str, fmt: str) -> str:
    """One value, or min / median / max of `key` over the rows of `group`."""
    values = sorted(r[key] for r in group)
    if len(values) == 1:
        return fmt.format(values[0])
    return " / ".join(fmt.format(v) for v in (values[0], statistics.median(values), values[-1]))


def table(path: Path) -> str:
    """Markdown: one line per (name, steps), min/median/max over seeds where there are several."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["name"], row["steps"]), []).append(row)
    out = ["| variant | overrides | steps | seeds | CPU s/step | accuracy | Frechet proxy | variety |",
           "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for (name, steps), group in groups.items():
        acc, fd, var = (
            spread(group, *f) for f in (("accuracy", "{:.1%}"), ("frechet", "{:.1f}"), ("variety", "{:.3f}"))
        )
        per_step = statistics.median(r["train_cpu_s"] / r["steps"] for r in group)
        overrides = " ".join(group[0]["overrides"]) or "(preset)"
        out.append(
            f"| {name} | `{overrides}` | {steps} | {len(group)} | {per_step:.3f} | {acc} | {fd} | {var} |"
        )
    return "\n".join(out)


def main() -> None:
    args = parse_args()
    if args.table:
        print(table(args.results))
        return
    if not args.name:
        raise SystemExit("--name is required to run a variant")
    row = run_variant(args)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
