"""Sample quality against network calls for every sampler, on the project's own trained models.

Demo model (`rin demo`): digit-classifier accuracy and classifier-feature Frechet distance (a
proxy, not FID) of class-conditional samples, labels i mod 10, one seed per sample, so every
row draws from the same x_T. Moving-MNIST model: frame MSE of held-out continuations. Each
sampler runs at each number of network calls (steps = what fits in the calls: Heun and
DPM-Solver++(2S) call twice a step); DDPM at 100 and 1,000 steps with the preset's settings
are the baselines. Writes JSON, a markdown table and a PNG plot. Usage:

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 python benchmarks/sampler_table.py \\
        --demo runs/demo --video runs/moving-mnist --out benchmarks/samplers
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch

from rin.configs.experiment import ExperimentConfig, SamplingConfig
from rin.data import load_mnist, load_video_dataset
from rin.evaluation import evaluate_digit_samples, load_or_train_digit_classifier
from rin.evaluation.variety import relative_variety
from rin.model import RIN
from rin.sampling import SAMPLERS, generate, generate_continuation, per_sample_generators
from rin.training import find_checkpoint, load_config, load_weights

# the time grid each sampler is run on: its lowest Frechet proxy at 20 calls on the demo model
# among uniform / logsnr / karras (the grid comparison in benchmarks/README.md)
DEFAULT_GRID = {
    "ddpm": "karras", "ddim": "logsnr", "euler_a": "logsnr", "heun": "karras",
    "dpmpp_2m": "logsnr", "dpmpp_2s": "logsnr", "unipc": "logsnr",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Setting:
    """One row's sampler settings; `calls` is the network-call budget the row was asked for."""

    sampler: str
    steps: int
    grid: str
    time_difference: float
    carry: str = "every"
    calls: int = 0

    def apply(self, sampling: SamplingConfig) -> SamplingConfig:
        fields = ("sampler", "steps", "grid", "time_difference", "carry")
        return dataclasses.replace(sampling, **{f: getattr(self, f) for f in fields})

    def describe(self) -> dict[str, object]:
        """The settings as a row; `budget` is the calls asked for (0: a baseline), `calls` those made."""
        row = dataclasses.asdict(self)
        row["budget"] = row.pop("calls")
        return {**row, "calls": SAMPLERS[self.sampler].calls(self.steps)}


def load(run: str) -> tuple[RIN, ExperimentConfig]:
    checkpoint = find_checkpoint(run, verify=True)
    config = load_config(checkpoint)
    model = RIN(config.model)
    load_weights(model, checkpoint / "ema.safetensors")
    return model.eval(), config


def draw_digits(model: RIN, config: ExperimentConfig, setting: Setting, num: int, seed: int) -> torch.Tensor:
    """`num` class-conditional samples in [0, 1], sample i with label i mod K and its own seed."""
    labels = torch.arange(num) % config.model.num_classes
    shape = (config.model.channels, config.model.image_size, config.model.image_size)
    generators = per_sample_generators(seed, range(num))
    sampling = setting.apply(config.sampling)
    return generate(model, shape, num, config.diffusion, sampling, labels, generators)


def digit_rows(run: str, settings: list[Setting], num: int, seed: int) -> list[dict[str, object]]:
    model, config = load(run)
    classifier = load_or_train_digit_classifier()
    heldout = load_mnist("test")
    labels = torch.arange(num) % config.model.num_classes
    rows = []
    for setting in settings:
        start = time.perf_counter()
        samples = draw_digits(model, config, setting, num, seed)
        seconds = time.perf_counter() - start
        scores = evaluate_digit_samples(samples, labels, classifier, heldout.images, heldout.labels)
        variety = relative_variety(samples, labels, heldout.images, heldout.labels)
        rows.append({
            "model": "demo", **setting.describe(), "accuracy": round(scores["sample_accuracy"], 4),
            "frechet": round(scores["frechet_distance"], 2), "variety": round(variety, 3),
            "seconds": round(seconds, 1),
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def video_rows(run: str, settings: list[Setting], num: int, seed: int) -> list[dict[str, object]]:
    model, config = load(run)
    held_out = load_video_dataset(dataclasses.replace(config.data, num_clips=num), config.model, "test")
    truth = held_out.clips.float() / 255.0  # (N, F, 1, H, W) in [0, 1]
    k = config.model.context_frames
    rows = []
    for setting in settings:
        start = time.perf_counter()
        generators = per_sample_generators(seed, range(num))
        clips = generate_continuation(
            model, truth[:, :k], config.model.generated_frames, config.diffusion,
            setting.apply(config.sampling), generators,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        mse = float((clips[:, k:] - truth[:, k:]).pow(2).mean())
        rows.append({"model": "moving-mnist", **setting.describe(), "frame_mse": round(mse, 5),
                     "seconds": round(seconds, 1)})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def settings_for(args: argparse.Namespace, preset: SamplingConfig) -> list[Setting]:
    """The baselines (DDPM with the preset's td at each --baseline-steps), then every sampler x calls."""
    rows = [Setting("ddpm", steps, "uniform", preset.time_difference) for steps in args.baseline_steps]
    for name in args.samplers:
        grid = args.grid or DEFAULT_GRID[name]
        for calls in args.calls:
            steps = SAMPLERS[name].steps_for(calls)
            for td in args.time_difference:
                rows.append(Setting(name, steps, grid, td, args.carry, calls))
    return rows


def _cell(row: dict[str, object]) -> str:
    if row["model"] == "demo":
        cell = f"{100 * float(row['accuracy']):.1f}% / {row['frechet']}"  # type: ignore[arg-type]
        return cell + (f" / {row['variety']}" if "variety" in row else "")
    return f"{row['frame_mse']}"


def markdown(rows: list[dict[str, object]], budgets: list[int]) -> str:
    """One table per model: a line per sampler (grid, td), a column per network-call budget, then
    the DDPM baselines."""
    out = []
    what_demo = "digit accuracy / Frechet proxy / within-class variety (real = 1)"
    for model, what in (("demo", what_demo), ("moving-mnist", "frame MSE")):
        mine = [r for r in rows if r["model"] == model]
        if not mine:
            continue
        out += [f"**{model}** ({what}), by network calls:", ""]
        out += ["| sampler | grid | td | " + " | ".join(str(b) for b in budgets) + " |"]
        out += ["|---|---|---|" + "---|" * len(budgets)]
        lines: dict[tuple, dict[object, str]] = {}
        for r in mine:
            if r["budget"]:
                lines.setdefault((r["sampler"], r["grid"], r["time_difference"]), {})[r["budget"]] = _cell(r)
        for (name, grid, td), cells in lines.items():
            out.append(
                f"| {name} | {grid} | {td:g} | " + " | ".join(cells.get(b, "") for b in budgets) + " |"
            )
        for r in (r for r in mine if not r["budget"]):
            out.append(f"| **ddpm {r['steps']} (baseline)** | {r['grid']} | {r['time_difference']:g} | "
                       f"{_cell(r)} ({r['calls']} calls) |" + " |" * (len(budgets) - 1))  # fmt: skip
        out.append("")
    return "\n".join(out)


def plot(rows: list[dict[str, object]], path: Path) -> None:
    """Quality against network calls (log axis), a line per sampler, the baselines dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("demo", "accuracy", "digit accuracy (%)"),
        ("demo", "frechet", "Frechet proxy (lower is better)"),
        ("demo", "variety", "within-class variety (real digits = 1)"),
        ("moving-mnist", "frame_mse", "Moving MNIST frame MSE"),
    ]
    panels = [p for p in panels if any(r["model"] == p[0] and p[1] in r for r in rows)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (model, metric, label) in zip(axes[0], panels, strict=True):
        mine = [r for r in rows if r["model"] == model and metric in r]
        scale = 100.0 if metric == "accuracy" else 1.0
        for key in dict.fromkeys(
            (r["sampler"], r["grid"], r["time_difference"]) for r in mine if r["budget"]
        ):
            line = [r for r in mine if r["budget"] and (r["sampler"], r["grid"], r["time_difference"]) == key]
            ax.plot([r["calls"] for r in line], [scale * float(r[metric]) for r in line], marker="o",
                    label=f"{key[0]} ({key[1]}, td {key[2]:g})")  # fmt: skip
        for r, style in zip([r for r in mine if not r["budget"]], ["--", ":", "-."], strict=False):
            ax.axhline(scale * float(r[metric]), color="k", linestyle=style, label=f"ddpm {r['steps']} steps")
        ax.set_xscale("log")
        ax.set_xlabel("network calls")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def speed(run: str, fast: Setting, preset: SamplingConfig, num: int) -> dict[str, object]:
    """Wall and process-CPU seconds to draw `num` demo samples with DDPM-100 (the preset's sampler
    before this change) and with `fast`, one after the other in this process. CPU seconds are the
    fairer clock on a shared machine (run with --threads 1 there)."""
    model, config = load(run)
    wall, cpu = {}, {}
    for name, setting in (
        ("ddpm-100", Setting("ddpm", 100, "uniform", preset.time_difference)),
        ("fast", fast),
    ):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        draw_digits(model, config, setting, num, seed=1)
        wall[name], cpu[name] = time.perf_counter() - start_wall, time.process_time() - start_cpu
    return {
        "num": num, "fast": fast.describe(),
        "wall_seconds": {k: round(v, 1) for k, v in wall.items()},
        "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()},
        "images_per_cpu_second": {k: round(num / v, 2) for k, v in cpu.items()},
        "speed_up_cpu": round(cpu["ddpm-100"] / cpu["fast"], 2),
        "speed_up_wall": round(wall["ddpm-100"] / wall["fast"], 2),
    }  # fmt: skip


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), for the machine line of the report."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def render(sources: list[str], out: Path, budgets: list[int]) -> None:
    """The table and plot of the rows of several runs' table.json (e.g. a long baseline run apart)."""
    rows = [row for source in sources for row in json.loads(Path(source).read_text())["rows"]]
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(markdown(rows, budgets))
    plot(rows, out / "quality_vs_calls.png")
    print(markdown(rows, budgets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", help="demo run directory (rin demo --out DIR)")
    parser.add_argument("--video", help="moving-mnist run directory")
    parser.add_argument("--out", default="benchmarks/samplers", help="output directory")
    parser.add_argument("--samplers", nargs="*", default=list(SAMPLERS), choices=list(SAMPLERS))
    parser.add_argument("--calls", nargs="+", type=int, default=[5, 10, 20, 50, 100])
    parser.add_argument("--baseline-steps", nargs="*", type=int, default=[100, 1000])
    parser.add_argument("--grid", help="one grid for every sampler (default: DEFAULT_GRID)")
    parser.add_argument("--time-difference", nargs="+", type=float, default=[0.0])
    parser.add_argument("--carry", default="every", choices=["every", "grid"])
    parser.add_argument("--num", type=int, default=500, help="demo samples per row")
    parser.add_argument("--video-num", type=int, default=64, help="held-out clips per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", help="SAMPLER:CALLS[:GRID[:TD]]: time 1,000 demo samples against DDPM-100")
    parser.add_argument("--speed-num", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--render", nargs="+", help="only redraw the table and plot from these table.json")
    args = parser.parse_args()
    if args.render:
        return render(args.render, Path(args.out), args.calls)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = f"{cpu_model()}, torch {torch.__version__}, {args.threads} threads"
    report: dict[str, object] = {"machine": machine, "threads": args.threads, "args": vars(args)}
    rows: list[dict[str, object]] = []
    for run, rows_of, num in ((args.demo, digit_rows, args.num), (args.video, video_rows, args.video_num)):
        if run:
            preset = load_config(find_checkpoint(run, verify=True)).sampling
            rows += rows_of(run, settings_for(args, preset), num, args.seed)
    report["rows"] = rows
    if args.speed and args.demo:
        name, calls, *rest = args.speed.split(":")
        preset = load_config(find_checkpoint(args.demo, verify=True)).sampling
        grid = rest[0] if rest else DEFAULT_GRID[name]
        td = float(rest[1]) if len(rest) > 1 else 0.0
        fast = Setting(name, SAMPLERS[name].steps_for(int(calls)), grid, td, args.carry, int(calls))
        report["speed"] = speed(args.demo, fast, preset, args.speed_num)
        print(json.dumps(report["speed"]), flush=True)
    (out / "table.json").write_text(json.dumps(report, indent=1))
    (out / "table.md").write_text(markdown(rows, args.calls))
    if rows:
        plot(rows, out / "quality_vs_calls.png")
    print(markdown(rows, args.calls))


if __name__ == "__main__":
    main()
