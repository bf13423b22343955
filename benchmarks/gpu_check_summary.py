"""The summary of `gpu_check.sh`: one table of what each part measured, from the files under --out.

Reads `parts.tsv` (each part's exit status and seconds), `speed-<preset>.json` (`bench.py`) and
`qpc-cifar10/results.json` (`quality_per_compute.py`), whatever of them exists: a part stopped
by its time cap leaves partial JSON, and this reports it as such. Writes `summary.json`,
`summary.md`, `speed.png` (training MFU and images/s, eager against compiled) and, when the
quality run was stopped before it drew its plot, `qpc-cifar10/quality_per_compute.png`.

    python benchmarks/gpu_check_summary.py --out gpu_check_out
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

MFU_TARGET = 35.0  # % of the measured bf16 matmul ceiling, issue 13 point 5
SPEED_PRESETS = ("cifar10", "imagenet64-repo")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the folder gpu_check.sh wrote")
    parser.add_argument("--python", default="", help="which python ran the parts (recorded)")
    parser.add_argument("--install", default="", help="how rin was made importable (recorded)")
    parser.add_argument("--total-seconds", type=float, default=0.0)
    parser.add_argument("--total-cap", type=float, default=0.0)
    parser.add_argument("--dry-run", action="store_true", help="the parts only checked their arguments")
    return parser.parse_args(argv)


def read_parts(out: Path) -> list[dict]:
    parts = []
    path = out / "parts.tsv"
    if path.is_file():
        for line in path.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) == 4:
                parts.append(dict(zip(("part", "status", "seconds", "note"), fields, strict=True)))
    return parts


def speed_summary(out: Path) -> dict[str, dict]:
    """Per preset: its rows, the ceiling and the MFU verdict (compiled row if measured, else eager)."""
    found = {}
    for preset in SPEED_PRESETS:
        path = out / f"speed-{preset}.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        rows = [r for r in data.get("models", []) if r.get("precision") == "bf16"]
        best = next((r for r in reversed(rows) if r.get("compiled")), rows[-1] if rows else None)
        found[preset] = {
            "complete": bool(data.get("complete")),
            "ceiling_bf16_gflops": data.get("ceilings_used", {}).get("bf16"),
            "device": data.get("machine", {}).get("device_name", ""),
            "rows": rows,
            "best": best,
            "mfu_target_met": None if best is None else best["train_MFU_%"] >= MFU_TARGET,
        }
    return found


def qpc_summary(out: Path) -> dict | None:
    path = out / "qpc-cifar10" / "results.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    models = []
    for model in results.get("models", []):
        curve = [
            {
                k: e.get(k)
                for k in ("fraction", "seconds", "steps", "images", "frechet", "accuracy", "variety")
            }
            for e in model.get("evals", [])
        ]
        models.append({"name": model["name"], "forward_gflops": model.get("forward_gflops"), "curve": curve})
    return {"results": results, "floor": results.get("floor", {}), "models": models}


def speed_png(speed: dict[str, dict], out: Path) -> Path | None:
    """Training MFU and images/s per preset, eager against compiled, the 35% target dashed."""
    if not any(s["rows"] for s in speed.values()):
        return None
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    labels, mfu, train, sample = [], [], [], []
    for preset, s in speed.items():
        for row in s["rows"]:
            labels.append(f"{preset}\n{'compiled' if row.get('compiled') else 'eager'}")
            mfu.append(row["train_MFU_%"])
            train.append(row["train_img_s"])
            sample.append(row["sample_img_steps_s"])
    for ax, values, title in zip(
        axes,
        (mfu, train, sample),
        ("training MFU % (bf16 ceiling)", "training img/s", "sampling img/s per step"),
        strict=True,
    ):
        ax.bar(
            range(len(values)), values, color=["#4c72b0" if "eager" in lab else "#dd8452" for lab in labels]
        )
        ax.set_xticks(range(len(values)), labels, fontsize=8)
        ax.set_title(title, fontsize=10)
    axes[0].axhline(MFU_TARGET, color="k", linestyle="--", linewidth=1)
    fig.suptitle("rin, bf16 autocast, one GPU (gpu_check.sh)", fontsize=11)
    fig.tight_layout()
    path = out / "speed.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def qpc_png(qpc: dict | None, out: Path) -> Path | None:
    """The quality plot from results.json, where the run was stopped before drawing it."""
    folder = out / "qpc-cifar10"
    path = folder / "quality_per_compute.png"
    if qpc is None or path.is_file() or not any(m["curve"] for m in qpc["models"]):
        return path if path.is_file() else None
    try:
        from qpc_report import plot_curves

        return plot_curves(qpc["results"], folder)
    except ImportError:
        return None


def lines(summary: dict) -> list[str]:
    text = [f"# GPU check{' (dry run: nothing measured)' if summary['dry_run'] else ''}", ""]
    text.append(f"- python: {summary['python']}; {summary['install']}")
    text.append(f"- total {summary['total_seconds']:.0f} s of a {summary['total_cap']:.0f} s cap")
    text += ["", "| part | status | seconds | note |", "|---|---|---|---|"]
    text += [f"| {p['part']} | {p['status']} | {p['seconds']} | {p['note']} |" for p in summary["parts"]]
    text += ["", "## Speed (bf16 autocast)", ""]
    if not summary["speed"]:
        text += ["not measured", ""]
    for preset, s in summary["speed"].items():
        ceiling = s["ceiling_bf16_gflops"]
        text.append(
            f"**{preset}** on {s['device'] or 'the GPU'}: bf16 matmul ceiling "
            f"{ceiling / 1e3 if ceiling else float('nan'):.0f} TFLOP/s"
            f"{'' if s['complete'] else ' (partial: the part was stopped)'}"
        )
        text += [
            "",
            "| variant | train img/s | train MFU | sample img/s per step | train peak MB |",
            "|---|---|---|---|---|",
        ]
        for row in s["rows"]:
            text.append(
                f"| {'compiled' if row.get('compiled') else 'eager'} | {row['train_img_s']} | "
                f"{row['train_MFU_%']}% | {row['sample_img_steps_s']} | {row.get('train_peak_MB', '')} |"
            )
        if s["best"] is not None:
            verdict = "met" if s["mfu_target_met"] else "NOT met"
            text.append(f"\ntraining MFU {s['best']['train_MFU_%']}%: target >= {MFU_TARGET:g}% {verdict}")
        text.append("")
    text += ["## cifar10 quality per compute (rin against the FLOP-matched U-Net)", ""]
    qpc = summary["qpc"]
    if qpc is None:
        text.append("not measured")
    else:
        floor = qpc["floor"]
        if floor:
            text.append(f"real-data floor: Frechet proxy {floor.get('frechet', float('nan')):.1f}\n")
        text += [
            "| model | point | seconds | steps | Frechet proxy | accuracy |",
            "|---|---|---|---|---|---|",
        ]
        for model in qpc["models"]:
            for e in model["curve"]:
                text.append(
                    f"| {model['name']} | {100 * e['fraction']:.0f}% | {e['seconds']:.0f} | {e['steps']} | "
                    f"{e['frechet']:.1f} | {100 * e['accuracy']:.1f}% |"
                )
    return text


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    speed = speed_summary(out)
    qpc = qpc_summary(out)
    summary = {
        "dry_run": args.dry_run,
        "python": args.python,
        "install": args.install,
        "total_seconds": args.total_seconds,
        "total_cap": args.total_cap,
        "parts": read_parts(out),
        "speed": speed,
        "qpc": None if qpc is None else {"floor": qpc["floor"], "models": qpc["models"]},
    }
    pngs = [p for p in (speed_png(speed, out), qpc_png(qpc, out)) if p is not None]
    summary["png"] = [str(p) for p in pngs]
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    text = lines(summary)
    (out / "summary.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))
    print(f"\nwrote {out / 'summary.json'}, {out / 'summary.md'}" + "".join(f", {p}" for p in pngs))
    return summary


if __name__ == "__main__":
    main()
