"""Where `rin sample` takes its model from: a training checkpoint or a pretrained folder."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from rin.configs import ExperimentConfig
from rin.errors import RinError
from rin.model import RIN


def find_sampling_source(args: argparse.Namespace) -> Path:
    """The pretrained folder of `--model` (fetched if a hub id) or the checkpoint of `--checkpoint`
    (verified against its manifest), found without loading any weights."""
    if getattr(args, "model", None):
        from rin.model.pretrained import resolve_pretrained

        return resolve_pretrained(args.model)
    from rin.checkpoints import find_checkpoint

    return find_checkpoint(args.checkpoint, verify=True)


def load_sampling_model(
    args: argparse.Namespace, source: Path | None = None
) -> tuple[Path, RIN, ExperimentConfig]:
    """(the checkpoint or pretrained folder, its model on the CPU in eval mode, its config) for
    `--checkpoint` (EMA or `--weights online`, full or sharded) or `--model` (a pretrained folder).
    `source`: what `find_sampling_source(args)` returned, if the caller already has it."""
    source = source if source is not None else find_sampling_source(args)
    if getattr(args, "model", None):
        from rin.model.pretrained import load_pretrained_config, load_pretrained_weights

        config, complete = load_pretrained_config(source)
        if not complete:
            raise RinError(
                f"{source / 'config.json'} holds only the network's config (saved by RIN.save_pretrained "
                "without experiment=); sampling also needs its diffusion settings: use rin export"
            )
        model = RIN(config.model)
        load_pretrained_weights(model, source)  # one set of weights: what `rin export` chose
        return source, model.eval(), config
    from rin.checkpoints import load_model

    model, config = load_model(source, "model" if args.weights == "online" else "ema", verify=False)
    return source, model, config


def source_digest(args: argparse.Namespace, source: Path) -> str:
    """SHA-256 naming the model's content, not its path, so a model replaced at the same path counts
    as another one (resumable sample sets are keyed by it): a checkpoint's manifest digest, or for a
    pretrained folder a digest over the hashes of its weights and config."""
    if getattr(args, "model", None):
        from rin.checkpoints.files import sha256
        from rin.model.pretrained import CONFIG, WEIGHTS

        digest = hashlib.sha256()
        for name in (WEIGHTS, CONFIG):
            digest.update(f"{name} {sha256(source / name)}\n".encode())
        return digest.hexdigest()
    from rin.checkpoints import manifest_digest

    return manifest_digest(source)
