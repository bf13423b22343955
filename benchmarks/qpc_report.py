"""What `quality_per_compute.py` writes: results.json, results.md, the curves and the sample grids.

`results` is one dict (see `quality_per_compute.results_skeleton`): the run's settings, the
real-data floor and per model its size, recipe and one entry per evaluation point.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from rin.data.images import make_grid

METRICS = (("frechet", "Frechet proxy (lower is better)"), ("accuracy", "class accuracy"),
           ("variety", "within-class variety / real"))  # fmt: skip
AXES = (("seconds", "training seconds"), ("train_flops", "training FLOPs"))


def write_json(results: dict, out: Path) -> Path:
    path = out / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(path)  # atomic: a reader never sees half a file, even while the run goes on
    return path


def final_rows(results: dict) -> list[list[str]]:
    """One row per model at its last evaluation point, then the real-data floor."""
    rows = []
    for model in results["models"]:
        if not model["evals"]:
            continue
        e = model["evals"][-1]
        rows.append([model["name"], f"{model['params'] / 1e6:.2f}M", f"{model['forward_gflops']:.4f}",
                     f"{e['seconds']:.0f}", str(e["steps"]), str(e["images"]),
                     f"{e['train_flops'] / 1e12:.1f}", f"{100 * e['accuracy']:.1f}%", f"{e['frechet']:.2f}",
                     f"{e['variety']:.2f}"])  # fmt: skip
    floor = results["floor"]
    rows.append(["real data (floor)", "", "", "", "", "", "", f"{100 * floor['accuracy']:.1f}%",
                 f"{floor['frechet']:.2f}", f"{floor['variety']:.2f}"])  # fmt: skip
    return rows


HEADER = ["model", "params", "fwd GFLOPs/img", "train s", "steps", "images", "train TFLOPs",
          "accuracy", "Frechet proxy", "variety"]  # fmt: skip


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def write_markdown(results: dict, out: Path) -> Path:
    curve = [[m["name"], f"{100 * e['fraction']:.0f}%", f"{e['seconds']:.0f}", str(e["steps"]),
              f"{e['train_flops'] / 1e12:.1f}", f"{100 * e['accuracy']:.1f}%", f"{e['frechet']:.2f}",
              f"{e['variety']:.2f}", f"{e['loss']:.4f}"]
             for m in results["models"] for e in m["evals"]]  # fmt: skip
    models = [f"- {m['name']}: {m['architecture']}; {m['recipe']}" for m in results["models"]]
    r = results
    intro = (
        f"{r['num_samples']} samples per model and point, {r['sampler']}; {r['threads']} threads, "
        f"{r['precision']}, {r['clock']} clock, seed {r['seed']}; {r['machine']}. Frechet proxy: "
        f"{r['extractor']} against {r['heldout']}; variety relative to the same images."
    )
    curve_header = ["model", "budget", "train s", "steps", "train TFLOPs", "accuracy", "Frechet proxy",
                    "variety", "last loss"]  # fmt: skip
    text = "\n\n".join([
        f"# Quality per compute: {r['setting']}, {r['budget_seconds']:.0f} s per model",
        intro,
        markdown_table(HEADER, final_rows(r)),
        "\n".join(models),
        "## Every evaluation point",
        markdown_table(curve_header, curve),
    ])  # fmt: skip
    path = out / "results.md"
    path.write_text(text + "\n")
    return path


def plot_curves(results: dict, out: Path) -> Path:
    """Each metric against training seconds (top row) and training FLOPs (bottom row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(len(AXES), len(METRICS), figsize=(5 * len(METRICS), 4 * len(AXES)))
    for row, (x_key, x_label) in enumerate(AXES):
        for col, (y_key, y_label) in enumerate(METRICS):
            ax = grid[row][col]
            for model in results["models"]:
                xs = [e[x_key] for e in model["evals"]]
                ax.plot(xs, [e[y_key] for e in model["evals"]], marker="o", label=model["name"])
            ax.axhline(results["floor"][y_key], color="grey", linestyle="--", label="real data")
            ax.set_xlabel(x_label)
            ax.set_ylabel(y_label)
            if y_key == "frechet":
                ax.set_yscale("log")
    grid[0][0].legend()
    fig.suptitle(f"{results['setting']}: quality against training compute ({results['machine']})")
    fig.tight_layout()
    path = out / "quality_per_compute.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def side_by_side(grids: dict[str, torch.Tensor], out: Path, columns: int = 10, scale: int = 2) -> Path:
    """The models' sample grids in one PNG, each titled with its name (one class per column)."""
    pictures = []
    for name, images in grids.items():
        cells = make_grid(images, nrow=columns).numpy()
        picture = Image.fromarray(cells[..., 0] if cells.shape[-1] == 1 else cells).convert("RGB")
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
        titled = Image.new("RGB", (picture.width, picture.height + 20), "white")
        titled.paste(picture, (0, 20))
        ImageDraw.Draw(titled).text((4, 4), name, fill="black")
        pictures.append(titled)
    gap = 12
    canvas = Image.new("RGB", (sum(p.width for p in pictures) + gap * (len(pictures) - 1),
                               max(p.height for p in pictures)), "white")  # fmt: skip
    x = 0
    for picture in pictures:
        canvas.paste(picture, (x, 0))
        x += picture.width + gap
    path = out / "samples_side_by_side.png"
    canvas.save(path)
    return path


def print_table(results: dict) -> None:
    rows = [HEADER, *final_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
