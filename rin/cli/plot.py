"""`rin plot RUN [RUN ...]`: loss and evaluation curves of runs as one PNG (extra `rin[plot]`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plot", help="PNG of loss and evaluation curves of one or more runs")
    parser.add_argument("runs", nargs="+", help="run directories (each has a metrics.jsonl)")
    parser.add_argument("--out", help="PNG path (default <first run>/curves.png)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rin.training.plots import plot_runs

    runs = [Path(r) for r in args.runs]
    out = plot_runs(runs, Path(args.out) if args.out else runs[0] / "curves.png")
    print(f"wrote {out}")
    return 0


def report_curves(run_dir: Path) -> None:
    """End of `rin train`: write <run>/curves.png and name it, or say how to get it."""
    from rin.errors import RinError
    from rin.training.plots import plot_runs

    try:
        print(f"curves: {plot_runs([run_dir], run_dir / 'curves.png')} (rin plot {run_dir} [OTHER_RUN ...])")
    except RinError as error:  # no matplotlib: training is done; say how to plot later
        print(f"curves: {error}, then rin plot {run_dir}")
