"""Reading checkpoints: find, verify, and load the config, weights and training state of one.

Layout of one checkpoint (a directory), written by `rin.training.checkpoint`:
    model.safetensors   online weights          ema.safetensors   EMA weights (used for sampling)
    state.pt            optimizer state, step, RNG state (loaded with weights_only=True)
    config.json         the resolved ExperimentConfig
    manifest.json       sizes and SHA-256 of the files above; written last, marks it complete
A sharded checkpoint keeps its weights in `dcp/` instead (see `rin.checkpoints.sharded`).
Inference reads checkpoints through this package alone, without importing `rin.training`.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from rin.configs.experiment import ConfigError, ExperimentConfig
from rin.configs.overrides import config_from_json
from rin.errors import CheckpointError, first_line
from rin.hashing import file_sha256

FORMAT_VERSION = 1
FILES = ("model.safetensors", "ema.safetensors", "state.pt", "config.json")


sha256 = file_sha256  # the manifest's checksum of each file


def is_complete(checkpoint: Path, verify_hashes: bool = False) -> bool:
    """True if the manifest exists and every file has the recorded size (and hash, if asked)."""
    try:
        manifest = json.loads((checkpoint / "manifest.json").read_text())
        for name, info in manifest["files"].items():
            path = checkpoint / name
            if path.stat().st_size != info["size"]:
                return False
            if verify_hashes and sha256(path) != info["sha256"]:
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step_*") if p.is_dir() and is_complete(p))


def find_checkpoint(path: str | Path, verify: bool = False) -> Path:
    """A checkpoint directory itself, or the newest complete checkpoint of a run directory.

    With `verify`, checksums are checked too; for a run directory a checkpoint that fails is
    skipped with a warning and the previous one is used (resume after a crash or bit rot).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint path {path} does not exist")
    if (path / "manifest.json").exists() or (path / "model.safetensors").exists():
        if not is_complete(path, verify_hashes=verify):
            raise CheckpointError(f"checkpoint {path} is incomplete or corrupt (manifest does not match)")
        return path
    root = path / "checkpoints"
    candidates = sorted(p for p in root.glob("step_*") if p.is_dir()) if root.is_dir() else []
    for candidate in reversed(candidates):
        if is_complete(candidate, verify_hashes=verify):
            return candidate
        warnings.warn(f"skipping incomplete or corrupt checkpoint {candidate}", stacklevel=2)
    raise CheckpointError(f"no complete checkpoint under {path} (expected {path}/checkpoints/step_*)")


def manifest_digest(checkpoint: Path) -> str:
    """SHA-256 of a checkpoint's manifest: names its content (every file's hash), not its path, so
    a checkpoint replaced at the same path gets another digest."""
    try:
        return hashlib.sha256((checkpoint / "manifest.json").read_bytes()).hexdigest()
    except OSError as error:
        raise CheckpointError(f"cannot read {checkpoint / 'manifest.json'}: {error.strerror}") from None


def load_config(checkpoint: Path) -> ExperimentConfig:
    try:
        return config_from_json((checkpoint / "config.json").read_text())
    except OSError as error:
        raise CheckpointError(f"cannot read {checkpoint / 'config.json'}: {error.strerror}") from None
    except ConfigError as error:
        raise CheckpointError(f"{checkpoint / 'config.json'} is not a valid rin config: {error}") from None


def load_weights(module: nn.Module, path: Path) -> None:
    """Load safetensors weights into `module`, refusing any missing, extra or mis-shaped tensor."""
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file: {error}") from None
    expected = module.state_dict()
    for name, tensor in expected.items():
        if name not in tensors:
            raise CheckpointError(f"{path}: tensor {name} is missing (a checkpoint of another model?)")
        got = tensors[name]
        if got.shape != tensor.shape or got.dtype != tensor.dtype:
            raise CheckpointError(
                f"{path}: tensor {name} is {tuple(got.shape)} {got.dtype}, the model needs "
                f"{tuple(tensor.shape)} {tensor.dtype}"
            )
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise CheckpointError(f"{path}: unexpected tensor {extra[0]} (a checkpoint of another model?)")
    module.load_state_dict(tensors)


def load_state(checkpoint: Path) -> dict[str, Any]:
    """The training-state file, unpickled with `weights_only=True` (no code can run)."""
    path = checkpoint / "state.pt"
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} is not a valid rin training state: it holds objects other than tensors and plain "
            "data, which rin never unpickles (only weights_only loading is used)"
        ) from None
    except Exception as error:  # noqa: BLE001 - any failure of an untrusted file is a bad checkpoint
        raise CheckpointError(f"{path} is not a valid rin training state: {first_line(error)}") from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a rin training state of format {FORMAT_VERSION}")
    return state
