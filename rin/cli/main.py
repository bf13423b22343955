"""The `rin` command: thin dispatch to the library. Errors a user can fix print one line."""

from __future__ import annotations

import argparse
import sys
import warnings

from rin.cli import data, demo, evaluate, export, info, plot, sample, train
from rin.errors import RinError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rin",
        description="Recurrent Interface Networks: train, sample and evaluate RIN diffusion models.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (train, sample, evaluate, export, data, plot, info, demo):
        module.add_parser(subparsers)
    return parser


def _one_line_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    """Warnings as `rin: warning: ...` on one line (the default adds the source line)."""
    return f"rin: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        return int(args.run(args))
    except RinError as error:
        print(f"rin {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rin {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
