"""`rin export CHECKPOINT DIR`: a checkpoint's EMA weights as a pretrained folder (from_pretrained)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write a checkpoint as a pretrained folder (model.safetensors + config.json)"
    )
    parser.add_argument(
        "checkpoint", help="run directory (newest checkpoint) or checkpoint dir, full or sharded"
    )
    parser.add_argument("out", help="the folder to write; load it with RIN.from_pretrained(out)")
    parser.add_argument("--weights", choices=["ema", "online"], default="ema", help="default ema")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rin.training.export import export_pretrained

    out = export_pretrained(args.checkpoint, args.out, args.weights)
    print(f"wrote {out} ({args.weights} weights); load with RIN.from_pretrained({str(out)!r})")
    print(f"sample with: rin sample --model {out} --num 64")
    return 0
