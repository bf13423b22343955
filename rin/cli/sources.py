"""Where `rin sample` takes its weights from: a training checkpoint or a pretrained folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from torch import nn

from rin.configs import ExperimentConfig
from rin.errors import RinError


def sampling_source(args: argparse.Namespace) -> tuple[Path, ExperimentConfig]:
    """(the checkpoint or pretrained folder, its config) for `--checkpoint` or `--model`."""
    if getattr(args, "model", None):
        from rin.model.pretrained import load_pretrained_config, resolve_pretrained

        folder = resolve_pretrained(args.model)
        config, complete = load_pretrained_config(folder)
        if not complete:
            raise RinError(
                f"{folder / 'config.json'} holds only the network's config (saved by RIN.save_pretrained "
                "without experiment=); sampling also needs its diffusion settings: use rin export"
            )
        return folder, config
    from rin.training import find_checkpoint, load_config

    checkpoint = find_checkpoint(args.checkpoint, verify=True)
    return checkpoint, load_config(checkpoint)


def load_source_weights(model: nn.Module, source: Path, args: argparse.Namespace) -> None:
    """A pretrained folder's weights, or a checkpoint's EMA / online weights (full or sharded)."""
    if getattr(args, "model", None):
        from rin.model.pretrained import load_pretrained_weights

        load_pretrained_weights(model, source)  # one set of weights: what `rin export` chose
        return
    from rin.training.sharded import load_checkpoint_weights

    load_checkpoint_weights(model, source, "model" if args.weights == "online" else "ema")
