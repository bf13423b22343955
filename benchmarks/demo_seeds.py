"""`rin demo` at several training seeds: each figure's min / median / max, beside the real-data floor.

Issue 13 asks for the demo's figures at the median of 3 seeds. Each seed runs `rin demo --seed N`
in a fresh run directory `OUT/seed-N`, as a child `python -m rin` with this checkout on
PYTHONPATH (the installed `rin` script may import another checkout's code: an editable install
points at the tree it was installed from). The demo draws its samples from seed N + 1. Writes,
under `--results` (default `benchmarks/demo`):

- `results.json`: every seed's `demo_results.json`, the min / median / max of each figure, the
  median seed, the real-data floor, the commit, machine and date;
- `results.md`: the per-seed table, a min / median / max line per figure and the floor;
- `samples.png`: the sample grid of the median seed (by Frechet proxy; with an even number of
  seeds, the better of the two middle ones).

The real-data floor is the same Frechet proxy between `--num-eval` real training digits
(class-balanced, the samples' labels i mod 10) and the 1,000 held-out digits, and the same
classifier's accuracy and the within-class variety of those real digits. Usage:

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 \\
        python benchmarks/demo_seeds.py --seeds 0 1 2 --out runs/demo-seeds     # ~45 min on 2 cores
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # this checkout's rin, as in the children

# (key in demo_results.json, column, format)
FIGURES: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("sample_accuracy", "accuracy", lambda v: f"{100 * v:.1f}%"),
    ("heldout_accuracy", "held-out accuracy", lambda v: f"{100 * v:.1f}%"),
    ("frechet_distance", "Frechet proxy", lambda v: f"{v:.1f}"),
    ("variety", "variety", lambda v: f"{v:.3f}"),
    ("train_seconds", "train s", lambda v: f"{v:.1f}"),
    ("sample_seconds", "sample s", lambda v: f"{v:.1f}"),
)
MEDIAN_BY = "frechet_distance"  # the figure that picks the median seed, whose grid is shown
MALLOC_SETTINGS = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "1099511627776"}  # as `make demo`


def summarize(values: Sequence[float]) -> dict[str, float]:
    """min, median and max; the median of an even count is the mean of the two middle values."""
    if not values:
        raise ValueError("no values to summarize")
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def aggregate(reports: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Each figure's min / median / max over the seeds' demo reports."""
    return {key: summarize([float(report[key]) for report in reports]) for key, _, _ in FIGURES}


def median_report(reports: Sequence[dict], key: str = MEDIAN_BY) -> dict:
    """The report whose `key` is the median; with an even count the lower of the two middle values
    (for the Frechet proxy, the better one); ties go to the lower seed."""
    if not reports:
        raise ValueError("no reports")
    ranked = sorted(reports, key=lambda report: (float(report[key]), report["seed"]))
    return ranked[(len(ranked) - 1) // 2]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]


def markdown(results: dict) -> str:
    """results.md: settings, the per-seed table with the floor, then min / median / max per figure."""
    reports, floor = results["per_seed"], results["floor"]
    seed_rows = [[str(r["seed"]), *(fmt(r[key]) for key, _, fmt in FIGURES)] for r in reports]
    floor_row = ["real digits (floor)", *(fmt(floor[key]) if key in floor else "" for key, _, fmt in FIGURES)]
    summary = results["summary"]
    spread = [
        [column, *(fmt(summary[key][s]) for s in ("min", "median", "max"))] for key, column, fmt in FIGURES
    ]
    dirty = " (with uncommitted changes)" if results["dirty"] else ""
    lines = [
        f"# `rin demo` at {len(reports)} seeds",
        "",
        f"Preset {results['preset']}, {results['steps']} training steps, {results['sampler']}; "
        f"{results['num_eval']} class-conditional samples per seed, drawn from seed + 1. "
        f"Commit {results['commit'] or 'unknown'}{dirty}, {results['machine']}, torch {results['torch']}, "
        f"{results['threads']} threads, {results['date']}. Command: `{results['command']}`.",
        "",
        *markdown_table(["seed", *(column for _, column, _ in FIGURES)], [*seed_rows, floor_row]),
        "",
        *markdown_table(["figure", "min", "median", "max"], spread),
        "",
        f"Sample grid (`samples.png`): seed {results['median_seed']}, the median by Frechet proxy.",
        "",
        f"Floor: {floor['num_real']} real training digits (class-balanced, the samples' labels) against the "
        f"{floor['num_heldout']:,} held-out digits, scored as the samples are (accuracy on training digits "
        "the classifier was trained on, so above its held-out accuracy). Frechet proxy: digit-classifier "
        "features, not FID; it depends on the number of samples.",
    ]
    return "\n".join(lines) + "\n"


def real_data_floor(num_eval: int, seed: int = 0) -> dict:
    """The demo's scores for real training digits: class-balanced (labels i mod 10), drawn with `seed`."""
    from qpc_eval import balanced_subset

    from rin.data import load_mnist
    from rin.evaluation import evaluate_digit_samples, load_or_train_digit_classifier
    from rin.evaluation.variety import relative_variety

    train, heldout = load_mnist("train"), load_mnist("test")
    labels = torch.arange(num_eval) % len(train.class_names)  # as the demo labels its samples
    real = balanced_subset(train, labels, seed).float() / 255.0
    classifier = load_or_train_digit_classifier()
    floor = evaluate_digit_samples(real, labels, classifier, heldout.images, heldout.labels)
    floor["variety"] = relative_variety(real, labels, heldout.images, heldout.labels)
    return {**floor, "num_real": num_eval, "num_heldout": len(heldout.labels), "subset_seed": seed}


def demo_command(args: argparse.Namespace, seed: int, run_dir: Path) -> list[str]:
    """The child `python -m rin demo` for one seed."""
    command = [args.python, "-m", "rin", "demo", "--seed", str(seed), "--out", str(run_dir)]
    command += ["--num-eval", str(args.num_eval), "--no-progress"]
    if args.preset:
        command += ["--preset", args.preset]
    overrides = [*args.overrides, *([f"train.steps={args.steps}"] if args.steps is not None else [])]
    return command + [part for override in overrides for part in ("--set", override)]


def child_env() -> dict[str, str]:
    """This checkout first on PYTHONPATH, and `make demo`'s allocator settings unless already set."""
    env = {**MALLOC_SETTINGS, **os.environ}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def run_seeds(args: argparse.Namespace, out: Path) -> list[dict]:
    """Run the demo once per seed, each in OUT/seed-N; each seed's demo_results.json."""
    reports = []
    for seed in args.seeds:
        run_dir = out / f"seed-{seed}"
        command = demo_command(args, seed, run_dir)
        print(f"demo_seeds: seed {seed}: {' '.join(command)}", flush=True)
        done = subprocess.run(command, cwd=REPO_ROOT, env=child_env(), check=False)
        if done.returncode != 0:
            raise SystemExit(f"demo_seeds: rin demo failed for seed {seed} (exit {done.returncode})")
        reports.append(json.loads((run_dir / "demo_results.json").read_text()))
    return reports


def collect(args: argparse.Namespace, reports: list[dict], floor: dict) -> dict:
    """results.json: the settings, every seed's report, min / median / max, the floor, provenance."""
    from rin.runtime.provenance import cpu_name, git_commit, git_dirty

    first = reports[0]
    return {
        "preset": first["preset"], "steps": first["steps"], "sampler": first["sampler"],
        "num_eval": first["num_samples"], "seeds": [r["seed"] for r in reports],
        "summary": aggregate(reports), "median_seed": median_report(reports)["seed"], "median_by": MEDIAN_BY,
        "floor": floor, "per_seed": reports,
        "commit": git_commit(REPO_ROOT), "dirty": git_dirty(REPO_ROOT),
        "demo_commits": sorted({str(r.get("commit")) for r in reports}),
        "machine": first.get("machine", cpu_name()), "torch": first.get("torch", ""),
        "threads": first.get("threads"),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python benchmarks/demo_seeds.py", *sys.argv[1:]]),
    }  # fmt: skip


def write_results(results: dict, results_dir: Path) -> list[Path]:
    """results.json, results.md and samples.png (the median seed's grid) under `results_dir`."""
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path, png_path = (
        results_dir / name for name in ("results.json", "results.md", "samples.png")
    )
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(markdown(results))
    median = next(r for r in results["per_seed"] if r["seed"] == results["median_seed"])
    shutil.copyfile(median["grid"], png_path)
    return [json_path, md_path, png_path]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default 0 1 2)"
    )
    parser.add_argument(
        "--out", default="runs/demo-seeds", help="run directories OUT/seed-N (must not exist)"
    )
    parser.add_argument(
        "--results", default=str(REPO_ROOT / "benchmarks" / "demo"), help="where the report goes"
    )
    parser.add_argument("--preset", help="default: the demo's (mnist)")
    parser.add_argument("--steps", type=int, help="training steps (sets train.steps)")
    parser.add_argument(
        "--num-eval", type=int, default=500, help="samples per seed, and real digits for the floor"
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--python", default=sys.executable, help="the python that runs `-m rin demo`")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds repeats a seed: {args.seeds}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out).resolve()
    taken = [str(out / f"seed-{s}") for s in args.seeds if (out / f"seed-{s}").exists()]
    if taken:  # a finished run would resume at its last step and report no training time
        print(f"demo_seeds: run directories exist: {', '.join(taken)}; delete them or pass another --out")
        return 2
    reports = run_seeds(args, out)
    results = collect(args, reports, real_data_floor(args.num_eval))
    for path in write_results(results, Path(args.results)):
        print(f"demo_seeds: wrote {path}")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
