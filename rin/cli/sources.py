"""Where `rin sample` takes its model from: a training checkpoint or a pretrained folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from rin.configs import ExperimentConfig
from rin.errors import RinError
from rin.model import RIN


def load_sampling_model(args: argparse.Namespace) -> tuple[Path, RIN, ExperimentConfig]:
    """(the checkpoint or pretrained folder, its model on the CPU in eval mode, its config) for
    `--checkpoint` (EMA or `--weights online`, full or sharded) or `--model` (a pretrained folder)."""
    if getattr(args, "model", None):
        from rin.model.pretrained import load_pretrained_config, load_pretrained_weights, resolve_pretrained

        folder = resolve_pretrained(args.model)
        config, complete = load_pretrained_config(folder)
        if not complete:
            raise RinError(
                f"{folder / 'config.json'} holds only the network's config (saved by RIN.save_pretrained "
                "without experiment=); sampling also needs its diffusion settings: use rin export"
            )
        model = RIN(config.model)
        load_pretrained_weights(model, folder)  # one set of weights: what `rin export` chose
        return folder, model.eval(), config
    from rin.checkpoints import find_checkpoint, load_model

    checkpoint = find_checkpoint(args.checkpoint, verify=True)
    model, config = load_model(checkpoint, "model" if args.weights == "online" else "ema", verify=False)
    return checkpoint, model, config
