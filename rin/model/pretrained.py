"""Pretrained folders: `model.safetensors` + `config.json` + `README.md`, loadable in one line.

    RIN.save_pretrained("rin-cifar10")              # or rin export CHECKPOINT DIR (EMA weights)
    model = RIN.from_pretrained("rin-cifar10")      # a local folder: no network, no extra package
    model = RIN.from_pretrained("owner/rin-cifar10")  # a Hugging Face hub id (extra `rin[hub]`)

`config.json` holds the run's ExperimentConfig (the sections a sampler needs: model, diffusion,
sampling), or only `{"model": ...}` when saved from a bare network. A hub id is fetched with
`huggingface_hub.snapshot_download`, which caches it and honours HF_HUB_OFFLINE; the hub's
`PyTorchModelHubMixin` would do the same, but as a base class of RIN it would make
huggingface_hub a dependency of every install, so RIN writes the folder itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from rin.configs.experiment import ConfigError, ExperimentConfig, ModelConfig
from rin.errors import CheckpointError, RinError

if TYPE_CHECKING:
    from rin.model.rin import RIN

WEIGHTS, CONFIG, CARD = "model.safetensors", "config.json", "README.md"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def save_pretrained(
    model: RIN,
    directory: str | Path,
    experiment: ExperimentConfig | None = None,
    weights: str = "ema",
    step: int | None = None,
) -> Path:
    """Write `model`'s weights, its config and a short model card into `directory`.

    Args:
        experiment: the run's config; without it only the model section is saved, and the folder
            loads as a network but cannot be sampled by `rin sample --model` (no noise schedule).
        weights, step: provenance recorded in the weights' metadata and the card.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"format": "rin", "weights": weights, "step": "" if step is None else str(step)}
    save_file(tensors, str(out / WEIGHTS), metadata=metadata)
    config = experiment.to_dict() if experiment is not None else {"model": _model_dict(model.config)}
    (out / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True))
    (out / CARD).write_text(model_card(model, experiment, weights, step))
    return out


def _model_dict(config: ModelConfig) -> dict[str, Any]:
    return ExperimentConfig(model=config).to_dict()["model"]


def model_card(model: RIN, experiment: ExperimentConfig | None, weights: str, step: int | None) -> str:
    """A few lines of README: what the model is, how it was trained, how to load it."""
    c = model.config
    name = experiment.name if experiment is not None else "custom"
    params = sum(p.numel() for p in model.parameters())
    kind = f"{c.frames}-frame clips" if c.is_video else "images"
    classes = f"{c.num_classes} classes" if c.num_classes > 0 else "unconditional"
    provenance = ""  # a bare network does not know whether it holds EMA weights, or from which step
    if weights or step is not None:
        at = f" at step {step}" if step is not None else ""
        provenance = f"- weights: {weights or 'trained'}{at}\n"
    return (
        "---\nlibrary_name: rin\ntags:\n- diffusion\n- recurrent-interface-networks\n---\n\n"
        f"# RIN ({name})\n\n"
        "A Recurrent Interface Network denoiser (Jabri, Fleet & Chen, ICML 2023) trained with `rin`.\n\n"
        f"- {kind} of {c.image_size}x{c.image_size}x{c.channels}, {classes}, {params / 1e6:.2f}M parameters\n"
        f"{provenance}"
        f"- config: `config.json` (preset {name})\n\n"
        '```python\nfrom rin.model import RIN\nmodel = RIN.from_pretrained("THIS_FOLDER_OR_HUB_ID")\n```\n\n'
        "Sample a grid: `rin sample --model THIS_FOLDER_OR_HUB_ID --num 64`\n"
    )


def resolve_pretrained(source: str | Path) -> Path:
    """A local pretrained folder as it is, or a hub id ("owner/name") fetched into the hub's cache."""
    path = Path(source)
    if path.is_dir():
        if not (path / WEIGHTS).is_file() or not (path / CONFIG).is_file():
            raise CheckpointError(f"{path} is not a pretrained folder (it needs {WEIGHTS} and {CONFIG})")
        return path
    if path.exists() or not _HUB_ID.match(str(source)):
        raise RinError(f"{source} is neither a pretrained folder nor a hub id (owner/name)")
    return _download(str(source))


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise RinError(
            f"{repo_id} is not a local folder; hub ids need huggingface_hub: pip install 'rin[hub]'"
        ) from None
    try:
        folder = snapshot_download(repo_id, allow_patterns=[WEIGHTS, CONFIG, CARD], library_name="rin")
    except Exception as error:  # noqa: BLE001 - offline, unknown repo, gated, network: all one line
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise RinError(
            f"could not fetch {repo_id} from the Hugging Face hub (offline and not cached, or no such "
            f"model): {first}"
        ) from None
    return resolve_pretrained(Path(str(folder)))


def load_pretrained_config(folder: Path) -> tuple[ExperimentConfig, bool]:
    """The folder's config, and whether it has the run's sections (False: model section only)."""
    try:
        raw = json.loads((folder / CONFIG).read_text())
        return ExperimentConfig.from_dict(raw), isinstance(raw, dict) and "diffusion" in raw
    except (OSError, json.JSONDecodeError, ConfigError) as error:
        raise CheckpointError(f"{folder / CONFIG} is not a valid rin config: {error}") from None


def load_pretrained_weights(model: torch.nn.Module, folder: Path) -> None:
    """Load `model.safetensors` strictly: a missing, extra or mis-shaped tensor is an error."""
    try:
        tensors = load_file(str(folder / WEIGHTS))
        model.load_state_dict(tensors, strict=True)
    except (SafetensorError, OSError, RuntimeError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointError(f"{folder / WEIGHTS} does not fit this model: {first}") from None


def from_pretrained(source: str | Path) -> RIN:
    """A RIN built from a pretrained folder or hub id, in eval mode, on the CPU."""
    from rin.model.rin import RIN

    folder = resolve_pretrained(source)
    config, _ = load_pretrained_config(folder)
    model = RIN(config.model)
    load_pretrained_weights(model, folder)
    return model.eval()
