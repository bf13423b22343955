"""Checkpoints: safetensors weights plus a weights-only training-state file, written atomically.

Layout of one checkpoint (a directory):
    model.safetensors   online weights          ema.safetensors   EMA weights (used for sampling)
    state.pt            optimizer state, step, RNG state (loaded with weights_only=True)
    config.json         the resolved ExperimentConfig
    manifest.json       sizes and SHA-256 of the files above; written last, marks it complete
A checkpoint is first written to a temporary directory, fsynced, then renamed into place, so a
crash leaves either the old set of checkpoints or the new one, never half a checkpoint. A write
that fails (a full disk) removes its temporary directory and leaves the older checkpoints as they
were. Resuming verifies the checksums and falls back, with a warning, past a corrupt checkpoint.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from rin.configs.experiment import ConfigError, ExperimentConfig
from rin.configs.overrides import config_from_json, config_to_json
from rin.errors import CheckpointError

FORMAT_VERSION = 1
FILES = ("model.safetensors", "ema.safetensors", "state.pt", "config.json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: nn.Module,
    ema: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: ExperimentConfig,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `run_dir/checkpoints/step_XXXXXXXX` atomically and return its path."""
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:08d}"
    tmp = root / f".tmp-step_{step:08d}-{os.getpid()}"
    try:
        _write(tmp, step, model, ema, optimizer, config, extra)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
    except (OSError, RuntimeError, SafetensorError) as error:  # e.g. ENOSPC from os, torch or safetensors
        shutil.rmtree(tmp, ignore_errors=True)
        previous = [p.name for p in list_checkpoints(run_dir)]
        kept = f"the previous checkpoint {previous[-1]} is intact" if previous else "no earlier checkpoint"
        reason = write_error_reason(error)
        raise CheckpointError(
            f"could not write checkpoint step {step} under {root}: {reason}; {kept}"
        ) from None
    return final


def write_error_reason(error: BaseException) -> str:
    """One line for a failed checkpoint write.

    torch.save reports a short write (a full disk or quota) as "[enforce fail at
    inline_container.cc:...] . unexpected pos N vs M" on the first try and as ENOSPC only on a
    retry; both are said as the operating system says ENOSPC.
    """
    strerror = getattr(error, "strerror", None)
    if strerror:
        return str(strerror)
    text = str(error).strip()
    if "inline_container" in text and "unexpected pos" in text:
        return os.strerror(errno.ENOSPC)
    return (text.splitlines() or [type(error).__name__])[0]


def _write(
    tmp: Path,
    step: int,
    model: nn.Module,
    ema: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: ExperimentConfig,
    extra: dict[str, Any] | None,
) -> None:
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    metadata = {"format": "rin", "format_version": str(FORMAT_VERSION), "step": str(step)}
    save_file(_weights(model), str(tmp / "model.safetensors"), metadata=metadata)
    save_file(_weights(ema), str(tmp / "ema.safetensors"), metadata=metadata)
    state = {
        "format_version": FORMAT_VERSION,
        "step": step,
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "extra": extra or {},
    }
    torch.save(state, tmp / "state.pt")
    (tmp / "config.json").write_text(config_to_json(config))
    write_manifest(tmp, FILES, step)
    _fsync_dir(tmp)


def write_manifest(tmp: Path, files: Sequence[str], step: int, **extra: Any) -> None:
    """`manifest.json` of the files' sizes and SHA-256 sums, then fsync them all (not the dirs)."""
    manifest = {
        "format": "rin",
        "format_version": FORMAT_VERSION,
        "step": step,
        **extra,
        "files": {
            name: {"size": (tmp / name).stat().st_size, "sha256": _sha256(tmp / name)} for name in files
        },
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for name in (*files, "manifest.json"):
        with (tmp / name).open("rb") as handle:
            os.fsync(handle.fileno())


def manifest_digest(checkpoint: Path) -> str:
    """SHA-256 of a checkpoint's manifest: names its content (every file's hash), not its path, so
    a checkpoint replaced at the same path gets another digest."""
    try:
        return hashlib.sha256((checkpoint / "manifest.json").read_bytes()).hexdigest()
    except OSError as error:
        raise CheckpointError(f"cannot read {checkpoint / 'manifest.json'}: {error.strerror}") from None


def prune_checkpoints(run_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` complete checkpoints (keep=0: none) and stale temporaries."""
    root = run_dir / "checkpoints"
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for tmp in root.glob(".tmp-step_*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid != str(os.getpid()):  # a crashed writer's leftovers
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    if keep > 0:
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def keep_if_best(run_dir: Path, checkpoint: Path, score: float) -> bool:
    """Copy `checkpoint` to `checkpoints/best` if `score` (lower is better) beats the kept one."""
    best = run_dir / "checkpoints" / "best"
    record = best / "score.json"
    try:
        previous = float(json.loads(record.read_text())["score"])
    except (OSError, ValueError, KeyError, TypeError):
        previous = float("inf")
    if not score < previous:
        return False
    tmp = run_dir / "checkpoints" / f".tmp-best-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(checkpoint, tmp)
    (tmp / "score.json").write_text(json.dumps({"score": score, "checkpoint": checkpoint.name}))
    old = run_dir / "checkpoints" / f".old-best-{os.getpid()}"
    if best.exists():
        os.replace(best, old)
    os.replace(tmp, best)
    shutil.rmtree(old, ignore_errors=True)
    return True


def is_complete(checkpoint: Path, verify_hashes: bool = False) -> bool:
    """True if the manifest exists and every file has the recorded size (and hash, if asked)."""
    try:
        manifest = json.loads((checkpoint / "manifest.json").read_text())
        for name, info in manifest["files"].items():
            path = checkpoint / name
            if path.stat().st_size != info["size"]:
                return False
            if verify_hashes and _sha256(path) != info["sha256"]:
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
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path} is not a valid rin training state: {first_line}") from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a rin training state of format {FORMAT_VERSION}")
    return state
